# GALAXY_SLOTS: the cores the resource manager gave this job (first answer wins).
export GALAXY_SLOTS_CONFIGURED="1"
if [ -n "$SLURM_CPUS_ON_NODE" ]; then
    GALAXY_SLOTS="$SLURM_CPUS_ON_NODE"
elif [ -n "$SLURM_NTASKS" ] || [ -n "$SLURM_CPUS_PER_TASK" ]; then
    # SLURM_NTASKS counts tasks over all nodes; a Galaxy job uses one node.
    GALAXY_SLOTS=$(( ${SLURM_NTASKS:-1} * ${SLURM_CPUS_PER_TASK:-1} ))
elif [ -n "$NSLOTS" ]; then
    GALAXY_SLOTS="$NSLOTS"
elif [ -n "$NCPUS" ]; then
    GALAXY_SLOTS="$NCPUS"
elif [ -n "$PBS_NCPUS" ]; then
    GALAXY_SLOTS="$PBS_NCPUS"
elif [ -f "$PBS_NODEFILE" ]; then
    GALAXY_SLOTS=$(wc -l < "$PBS_NODEFILE")
elif [ -n "$LSB_DJOB_NUMPROC" ]; then
    GALAXY_SLOTS="$LSB_DJOB_NUMPROC"
elif [ -n "$GALAXY_SLOTS" ]; then
    # set by whoever started the job (e.g. a container scheduler)
    GALAXY_SLOTS="$GALAXY_SLOTS"
elif [ -n "$PYTHON_CPU_COUNT" ]; then
    # HTCondor limits a job's threads through PYTHON_CPU_COUNT and similar variables
    GALAXY_SLOTS="$PYTHON_CPU_COUNT"
else
    GALAXY_SLOTS="1"
    unset GALAXY_SLOTS_CONFIGURED
fi
export GALAXY_SLOTS
