#!/bin/bash
# Run one lwr.scripts module from the LWR root:  scripts/execute_script.bash <module> [args...]
# Sources local_env.sh (site settings such as DRMAA_LIBRARY_PATH) when present and activates
# .venv when present, so it works under `sudo -E -u <user>` too.
set -euo pipefail
LWR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=${1:?usage: execute_script.bash <module> [args...]}
shift
case $MODULE in
  *[!a-z0-9_]*) echo "execute_script.bash: bad module name $MODULE" >&2; exit 2 ;;
esac
cd "$LWR_ROOT"
if [ -f ./local_env.sh ]; then
  # shellcheck disable=SC1091
  . ./local_env.sh
fi
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f ./.venv/bin/activate ]; then
  # shellcheck disable=SC1091
  . ./.venv/bin/activate
fi
PYTHONPATH=$LWR_ROOT${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH
exec python3 -m "lwr.scripts.$MODULE" "$@"
