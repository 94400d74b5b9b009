#!/bin/bash
# Stop the daemons started by start-*.sh, by pid file.  Run as root.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"
killpid() { local p; p=$(cat "$1" 2>/dev/null) || return 0; [ -n "$p" ] && kill "$p" 2>/dev/null && echo "stopped $2 ($p)"; return 0; }
killpid /run/slurm/slurmd.pid slurmd
killpid /run/slurm/slurmctld.pid slurmctld
killpid /run/munge/munged.pid munged
killpid /var/run/gridengine/execd.pid sge_execd
killpid /var/spool/gridengine/qmaster/qmaster.pid sge_qmaster
killpid "$LWR_TEST_SSHD_DIR/sshd.pid" sshd
if [ "${1:-}" = "--with-rabbitmq" ]; then
  P=/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid
  if [ -s "$P" ]; then
    rabbitmqctl -q stop "$P" && echo "stopped rabbitmq"
    epmd -kill >/dev/null 2>&1 && echo "stopped epmd"
  fi
fi
exit 0
