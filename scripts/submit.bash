#!/bin/bash
# lwr_submit: run one job from a JSON description (--file F | --base64 B); see --help.
exec "$(dirname "${BASH_SOURCE[0]}")/execute_script.bash" submit "$@"
