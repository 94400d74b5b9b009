#!/bin/bash
# Slurm's Torque wrappers (qsub/qstat/qdel over Slurm) unpacked into /opt/lwr-slurm-torque.
# The package conflicts with gridengine-client (both own /usr/bin/qsub), so it is not installed,
# only unpacked; the wrappers call ${FindBin::Bin}/sbatch etc., hence the symlinks.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
DEST=${LWR_TORQUE_ROOT:-/opt/lwr-slurm-torque}
BIN=$DEST/usr/bin

wrappers_ok() { [ -x "$BIN/qsub" ] && [ -x "$BIN/qstat" ] && [ -x "$BIN/qdel" ] && [ -L "$BIN/sbatch" ] \
                && perl -e 'use Slurm; use Slurmdb; use Switch;' 2>/dev/null; }

if wrappers_ok; then
  log "already unpacked in $BIN"
  exit 0
fi
apt_install slurm-client libslurm-perl libslurmdb-perl libswitch-perl
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
( cd "$W" && apt-get download -qq slurm-wlm-torque >>"$LWR_SERVICES_LOG_DIR/apt.log" 2>&1 ) \
  || { apt-get update -qq >>"$LWR_SERVICES_LOG_DIR/apt.log" 2>&1; ( cd "$W" && apt-get download -qq slurm-wlm-torque ); }
rm -rf "$DEST"
mkdir -p "$DEST"
dpkg-deb -x "$W"/slurm-wlm-torque_*.deb "$DEST"
for c in sbatch salloc srun squeue scancel scontrol sinfo sacct; do ln -sf "/usr/bin/$c" "$BIN/$c"; done
wrappers_ok || die "wrappers unpacked but not usable"
log "unpacked in $BIN"
