#!$shell
$headers
$start_statement
# Sets up the job's environment.  Called once below with $PRESERVE_GALAXY_ENVIRONMENT, and
# again by Galaxy's remote-metadata command (with "True") after the tool has run.
_galaxy_setup_environment() {
    local _use_framework_galaxy="$1"
    _GALAXY_JOB_DIR=$working_directory
    _GALAXY_JOB_HOME_DIR=$home_directory
    _GALAXY_JOB_TMP_DIR=$tmp_directory
    export _GALAXY_JOB_DIR _GALAXY_JOB_HOME_DIR _GALAXY_JOB_TMP_DIR
    # Made before the env entries run: Galaxy sends HOME="$_GALAXY_JOB_HOME_DIR".
    if [ -n "$_GALAXY_JOB_TMP_DIR" ]; then mkdir -p "$_GALAXY_JOB_TMP_DIR"; fi
    if [ -n "$_GALAXY_JOB_HOME_DIR" ]; then mkdir -p "$_GALAXY_JOB_HOME_DIR"; fi
$env_setup_commands
    if [ "$GALAXY_LIB" != "None" ] && [ "$_use_framework_galaxy" = "True" ]; then
        PYTHONPATH="$GALAXY_LIB${PYTHONPATH:+:$PYTHONPATH}"
        export PYTHONPATH
    fi
    if [ "$GALAXY_VIRTUAL_ENV" != "None" ] && [ -f "$GALAXY_VIRTUAL_ENV/bin/activate" ] \
            && [ "$(command -v python)" != "$GALAXY_VIRTUAL_ENV/bin/python" ]; then
        . "$GALAXY_VIRTUAL_ENV/bin/activate"
    fi
}
$slots_statement
export PYTHONWARNINGS="ignore"
GALAXY_VIRTUAL_ENV=$galaxy_virtual_env
_GALAXY_VIRTUAL_ENV=$galaxy_virtual_env
PRESERVE_GALAXY_ENVIRONMENT=$preserve_python_environment
GALAXY_LIB=$galaxy_lib
_galaxy_setup_environment "$PRESERVE_GALAXY_ENVIRONMENT"
# Each of TEMP, TMP and TMPDIR falls back on the others, then on the job's own tmp directory.
TEMP="${TEMP:-${TMP:-$TMPDIR}}"
TMP="${TMP:-${TEMP:-$TMPDIR}}"
TMPDIR="${TMPDIR:-${TMP:-$TEMP}}"
TEMP="${TEMP:-$_GALAXY_JOB_TMP_DIR}"
TMP="${TMP:-$_GALAXY_JOB_TMP_DIR}"
TMPDIR="${TMPDIR:-$_GALAXY_JOB_TMP_DIR}"
[ -z "$TEMP" ] || export TEMP
[ -z "$TMP" ] || export TMP
[ -z "$TMPDIR" ] || export TMPDIR
GALAXY_PYTHON=$(command -v python)
cd $working_directory
$memory_statement
$instrument_pre_commands
# A subshell, so the tool's exit code is recorded even when the command itself calls exit
# (the command may call _galaxy_setup_environment: a subshell keeps the function).
(
$command
)
lwr_return_code=$?
echo $lwr_return_code > $exit_code_path.tmp && mv -f $exit_code_path.tmp $exit_code_path
$instrument_post_commands
exit $lwr_return_code
