#!/bin/bash
# Install pulsar-app (from PyPI) into a cached virtualenv for the `pulsar` test marker, whose
# tests run its `pulsar-check` client against LWR.  Idempotent.  Prints the venv directory on
# stdout.  ~35 s the first time; instant afterwards.
#
#   LWR_TEST_PULSAR_VERSION   pulsar-app release to install (default 0.16.0)
#   LWR_TEST_PULSAR_CACHE     cache root (default ~/.cache/lwr-test-pulsar)
#   LWR_TEST_PULSAR_PYTHON    interpreter for the venv (default python3)
#
# pycurl (for `pulsar-check --transport curl`) is tried too; a venv without it still counts,
# and `<venv>/.pycurl` says whether it is there.  The venv directory is keyed on the pinned
# version and the interpreter version.
set -euo pipefail
case "${1:-}" in
  -h|--help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_cached_venv.sh"
VERSION=${LWR_TEST_PULSAR_VERSION:-0.16.0}
CACHE=${LWR_TEST_PULSAR_CACHE:-$HOME/.cache/lwr-test-pulsar}
PY=${LWR_TEST_PULSAR_PYTHON:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PACKAGE="pulsar-app==$VERSION"
VENV="$CACHE/pulsar-$VERSION-py$PYVER"
log() { echo "[install-pulsar] $*" >&2; }

install_pulsar() {
  local venv=$1
  log "installing $PACKAGE into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$PACKAGE" >&2
  "$venv/bin/python" -c 'import pulsar.client.test.check' >&2
  if "$venv/bin/pip" install -q --disable-pip-version-check pycurl >&2 \
      && "$venv/bin/python" -c 'import pycurl' >&2; then
    echo yes > "$venv/.pycurl"
  else
    log "pycurl did not install: pulsar-check --transport curl will not be tested"
    echo no > "$venv/.pycurl"
  fi
  log "done"
  echo "$PACKAGE"
}

cached_venv "$VENV" "$VENV/bin/pulsar-check" install_pulsar
