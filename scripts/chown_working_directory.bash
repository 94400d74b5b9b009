#!/bin/bash
exec "$(dirname "${BASH_SOURCE[0]}")/execute_script.bash" chown_working_directory "$@"
