#!/bin/bash
# Single-node Slurm (slurmctld + slurmd + munged) on this host, no systemd.
# Jobs are kept visible to `scontrol show job` for MinJobAge seconds; finished jobs are read with
# `sacct -c` from the jobcomp/filetxt log (no accounting database).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"

slurm_idle() { sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; }

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
CONF=$(mktemp)
cat > "$CONF" <<CONFEOF
# Written by lwr scripts/services/start-slurm.sh
ClusterName=localcluster
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# linux gatherer + OverMemoryKill: a job over its --mem is killed and ends OUT_OF_MEMORY
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
# memory is a consumable resource so --mem becomes the step's limit; jobs without --mem get DefMemPerCPU
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=2048
ReturnToService=2
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=2
OverTimeLimit=0
Waittime=0
NodeName=${HOST} CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONFEOF
if cmp -s "$CONF" /etc/slurm/slurm.conf && command -v sinfo >/dev/null && slurm_idle; then
  rm -f "$CONF"
  log "already up"
  exit 0
fi
apt_install slurm-wlm munge
if ! cmp -s "$CONF" /etc/slurm/slurm.conf; then
  # a changed configuration needs both daemons restarted (SelectTypeParameters cannot be reconfigured)
  for p in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid; do
    if pid_alive "$p"; then pid=$(cat "$p"); kill "$pid"; wait_for 20 sh -c "! kill -0 $pid" || true; fi
  done
  install -m 0644 "$CONF" /etc/slurm/slurm.conf
fi
rm -f "$CONF"

[ -s /etc/munge/munge.key ] || { mungekey --create --force; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
wait_for 10 sh -c 'munge -n | unmunge' || die "munged does not answer"

pid_alive /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
pid_alive /run/slurm/slurmd.pid || /usr/sbin/slurmd
if ! wait_for 30 slurm_idle; then
  # a node left DOWN by an earlier unclean stop needs resuming
  scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
  wait_for 15 slurm_idle || die "node $HOST not idle: $(sinfo -h -o '%T %E' 2>&1)"
fi
log "up ($(sinfo -h -o '%P %T %D'))"
