#!/bin/bash
exec "$(dirname "${BASH_SOURCE[0]}")/execute_script.bash" drmaa_kill "$@"
