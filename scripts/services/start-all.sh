#!/bin/bash
# Install (if needed) and start every service the scheduler tests use; one status line each.
# Idempotent and quick when everything is already up.  Run as root.  Exits 1 if any failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LOG_DIR=${LWR_SERVICES_LOG_DIR:-/var/log/lwr-test-services}
mkdir -p "$LOG_DIR"
SERVICES=${*:-rabbitmq slurm torque-wrappers sge sshd run-as-user nginx chromium}
failed=0
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
T0=$EPOCHREALTIME
for s in $SERVICES; do
  t=$EPOCHREALTIME
  if bash "$HERE/start-$s.sh" >"$LOG_DIR/$s.log" 2>&1; then status=ok; else status=FAILED; failed=1; fi
  printf '%-16s %-6s %5s s   %s\n' "$s" "$status" "$(elapsed "$t")" \
    "$(tail -n 1 "$LOG_DIR/$s.log")"
done
printf '%-16s %-6s %5s s\n' total "$([ $failed = 0 ] && echo ok || echo FAILED)" "$(elapsed "$T0")"
exit $failed
