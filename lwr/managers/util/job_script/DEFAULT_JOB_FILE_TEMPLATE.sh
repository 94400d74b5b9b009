#!/bin/sh
$headers
$start_statement
$slots_statement
export GALAXY_SLOTS
GALAXY_LIB="$galaxy_lib"
if [ "$GALAXY_LIB" != "None" ]; then
    if [ -n "$PYTHONPATH" ]; then
        PYTHONPATH="$GALAXY_LIB:$PYTHONPATH"
    else
        PYTHONPATH="$GALAXY_LIB"
    fi
    export PYTHONPATH
fi
$env_setup_commands
$instrument_pre_commands
cd $working_directory
# A subshell, so the exit code is recorded even when the command itself calls exit.
(
$command
)
lwr_return_code=$?
echo $lwr_return_code > $exit_code_path.tmp && mv -f $exit_code_path.tmp $exit_code_path
$instrument_post_commands
exit $lwr_return_code
