# GALAXY_MEMORY_MB (whole job) and GALAXY_MEMORY_MB_PER_SLOT from what the resource manager
# granted, unless already set (e.g. by an env entry); each is derived from the other with
# GALAXY_SLOTS; only positive whole numbers are exported.  Errors go to $memory_log.
_lwr_memory_log=$memory_log
if [ -z "$GALAXY_MEMORY_MB" ] && [ -n "$SLURM_JOB_ID" ]; then
    GALAXY_MEMORY_MB=$(scontrol -do show job "$SLURM_JOB_ID" 2>>"$_lwr_memory_log" \
        | sed -n 's/.*\(^\| \)Mem=\([0-9][0-9]*\)\( \|$\).*/\2/p' | head -n 1)
fi
if [ -z "$GALAXY_MEMORY_MB_PER_SLOT" ] && [ -n "$SGE_HGR_h_vmem" ]; then
    # Grid Engine's h_vmem is per slot: 4G -> 4096, 512M -> 512, bytes otherwise
    GALAXY_MEMORY_MB_PER_SLOT=$(echo "$SGE_HGR_h_vmem" | awk '
        /^[0-9.]+[gG]$/ { printf "%d", $0 * 1024; next }
        /^[0-9.]+[mM]$/ { printf "%d", $0; next }
        /^[0-9.]+[kK]$/ { printf "%d", $0 / 1024; next }
        /^[0-9.]+$/ { printf "%d", $0 / 1048576; next }
        { print "cannot read SGE_HGR_h_vmem=" $0 > "/dev/stderr" }' 2>>"$_lwr_memory_log")
fi
case "$GALAXY_MEMORY_MB" in ''|*[!0-9]*) GALAXY_MEMORY_MB="" ;; esac
case "$GALAXY_MEMORY_MB_PER_SLOT" in ''|*[!0-9]*) GALAXY_MEMORY_MB_PER_SLOT="" ;; esac
_lwr_slots="$GALAXY_SLOTS"
case "$_lwr_slots" in ''|*[!0-9]*|0) _lwr_slots=1 ;; esac
if [ -z "$GALAXY_MEMORY_MB_PER_SLOT" ] && [ -n "$GALAXY_MEMORY_MB" ]; then
    GALAXY_MEMORY_MB_PER_SLOT=$(( GALAXY_MEMORY_MB / _lwr_slots ))
elif [ -z "$GALAXY_MEMORY_MB" ] && [ -n "$GALAXY_MEMORY_MB_PER_SLOT" ]; then
    GALAXY_MEMORY_MB=$(( GALAXY_MEMORY_MB_PER_SLOT * _lwr_slots ))
fi
if [ "${GALAXY_MEMORY_MB:-0}" -gt 0 ]; then export GALAXY_MEMORY_MB; else unset GALAXY_MEMORY_MB; fi
if [ "${GALAXY_MEMORY_MB_PER_SLOT:-0}" -gt 0 ]; then
    export GALAXY_MEMORY_MB_PER_SLOT
else
    unset GALAXY_MEMORY_MB_PER_SLOT
fi
unset _lwr_memory_log _lwr_slots
