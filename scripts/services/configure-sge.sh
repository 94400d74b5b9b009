#!/bin/bash
# Configure a single-node Son of Grid Engine 8.1.9 (Debian bookworm) for tests.  Idempotent.
# Run by start-sge.sh after the qmaster answers.  root may run jobs (min_uid 0), the scheduler
# runs every second, and one queue all.q has one slot per core.
set -euo pipefail
export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default}
H=$(hostname)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# global config: allow root (uid/gid 0) to run jobs, no mail, faster load reports, and write
# accounting (qacct) at once so a finished job's record is there when DRMAA reports it done
qconf -sconf global | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
   -e 's/^load_report_time .*/load_report_time 00:00:05/' \
   -e 's/^administrator_mail .*/administrator_mail none/' \
   -e 's/flush_time=[0-9:]*/flush_time=00:00:01/' \
   -e 's/joblog=false/joblog=false accounting_flush_time=00:00:00/' \
   -e 's/accounting_flush_time=00:00:00 accounting_flush_time=00:00:00/accounting_flush_time=00:00:00/' > $T/global
qconf -Mconf $T/global
# scheduler: schedule frequently
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
   -e 's/^flush_submit_sec .*/flush_submit_sec 1/' -e 's/^flush_finish_sec .*/flush_finish_sec 1/' > $T/sconf
qconf -Msconf $T/sconf
qconf -sh | grep -qx "$H" || qconf -ah "$H"
qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H"
cat > $T/exechost <<E
hostname              $H
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
E
qconf -sel 2>/dev/null | grep -qx "$H" || qconf -Ae $T/exechost
printf 'group_name @allhosts\nhostlist %s\n' "$H" > $T/hgrp
qconf -shgrpl 2>/dev/null | grep -qx @allhosts || qconf -Ahgrp $T/hgrp
NCPU=$(nproc)
cat > $T/queue <<E
qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               NONE
rerun                 FALSE
slots                 $NCPU
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
E
qconf -sql 2>/dev/null | grep -qx all.q || qconf -Aq $T/queue
