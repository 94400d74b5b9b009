#!/bin/bash
# Run one lwr.scripts module:  scripts/execute_script.bash <module> [args...]
#
# From a source checkout (this file in <checkout>/scripts): runs in the checkout, sources its
# local_env.sh (site settings such as DRMAA_LIBRARY_PATH) and activates its .venv when present,
# so it works under `sudo -E -u <user>` too.
# From an installed package (this file in <site-packages>/lwr/_data/scripts): sources
# $LWR_CONFIG_DIR/local_env.sh when LWR_CONFIG_DIR is set (lwr-server sets it), and runs the
# python of $LWR_PYTHON, else of $VIRTUAL_ENV, else of the virtualenv the package is installed
# in, else python3 from PATH.
set -euo pipefail
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LWR_ROOT=$(cd "$SCRIPTS_DIR/.." && pwd)
MODULE=${1:?usage: execute_script.bash <module> [args...]}
shift
case $MODULE in
  *[!a-z0-9_]*) echo "execute_script.bash: bad module name $MODULE" >&2; exit 2 ;;
esac

if [ -f "$LWR_ROOT/lwr/__init__.py" ]; then
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
fi

if [ -n "${LWR_CONFIG_DIR:-}" ] && [ -f "$LWR_CONFIG_DIR/local_env.sh" ]; then
  # shellcheck disable=SC1091
  . "$LWR_CONFIG_DIR/local_env.sh"
fi
PYTHON=${LWR_PYTHON:-}
if [ -z "$PYTHON" ] && [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python3" ]; then
  PYTHON=$VIRTUAL_ENV/bin/python3
fi
if [ -z "$PYTHON" ]; then
  dir=$LWR_ROOT
  while [ "$dir" != / ]; do
    if [ -f "$dir/pyvenv.cfg" ] && [ -x "$dir/bin/python3" ]; then
      PYTHON=$dir/bin/python3
      break
    fi
    dir=$(dirname "$dir")
  done
fi
exec "${PYTHON:-python3}" -m "lwr.scripts.$MODULE" "$@"
