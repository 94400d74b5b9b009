#!/bin/bash
# Single-node Son of Grid Engine (qmaster + execd) with its DRMAA library, no systemd.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default}
H=$(hostname)

# The queue instance has a load value and no state flags (u = unknown, d = disabled, E = error).
queue_ready() {
  local line
  line=$(qstat -f -q "all.q@$H" 2>/dev/null | awk -v q="all.q@$H" '$1==q')
  [ -n "$line" ] || return 1
  echo "$line" | awk '{ exit !($4 != "-NA-" && $6 == "") }'
}

configured() { qconf -sconf 2>/dev/null | grep -q 'accounting_flush_time=00:00:00'; }

# (The execd's pid is checked too: for minutes after an execd dies the qmaster still shows its
# last load report, so the queue looks ready while no job would ever start.)
if command -v qstat >/dev/null && [ -f "$SGE_ROOT/$SGE_CELL/common/act_qmaster" ] && queue_ready && configured \
    && pid_alive /var/run/gridengine/execd.pid; then
  log "already up"
  exit 0
fi

if [ -n "$(packages_missing gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0)" ]; then
  H_FQDN=$(hostname -f)
  debconf-set-selections <<SEL
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $H_FQDN
SEL
  apt_install gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0
fi

# 127.0.0.1 reverse-resolves to "localhost" (first name in /etc/hosts) while the host calls itself
# $H; commlib rejects that mismatch unless localhost is declared an alias of $H.
echo "$H localhost" > "$SGE_ROOT/$SGE_CELL/common/host_aliases"
echo "$H" > "$SGE_ROOT/$SGE_CELL/common/act_qmaster"

pid_alive /var/spool/gridengine/qmaster/qmaster.pid || /etc/init.d/gridengine-master start >/dev/null
wait_for 30 qconf -sh || die "sge_qmaster does not answer"
bash "$HERE/configure-sge.sh" >/dev/null
pid_alive /var/run/gridengine/execd.pid || /etc/init.d/gridengine-exec start >/dev/null
if ! wait_for 40 queue_ready; then
  # a queue left in error state by an earlier run
  qmod -c "all.q@$H" >/dev/null 2>&1 || true
  qmod -e "all.q@$H" >/dev/null 2>&1 || true
  wait_for 10 queue_ready || die "all.q@$H not ready: $(qstat -f 2>&1 | tail -3)"
fi
log "up (DRMAA library $(ls /usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0))"
