#!/bin/bash
# Install pulsar-app (from PyPI) into a cached virtualenv for the `pulsar` test marker, whose
# tests run its `pulsar-check` client against LWR.  Idempotent.  Prints the venv directory on
# stdout.  ~1 min the first time; instant afterwards.
#
#   LWR_TEST_PULSAR_VERSION   pulsar-app release to install (default 0.16.0)
#   LWR_TEST_PULSAR_CACHE     cache root (default ~/.cache/lwr-test-pulsar)
#   LWR_TEST_PULSAR_PYTHON    interpreter for the venv (default python3)
#
# pycurl (for `pulsar-check --transport curl`) is tried too; a venv without it still counts,
# and `<venv>/.pycurl` says whether it is there.  The venv directory is keyed on the pinned
# version and the interpreter version; it only counts once `.complete` exists, so an
# interrupted install is redone rather than trusted.
set -euo pipefail
case "${1:-}" in
  -h|--help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
esac
VERSION=${LWR_TEST_PULSAR_VERSION:-0.16.0}
CACHE=${LWR_TEST_PULSAR_CACHE:-$HOME/.cache/lwr-test-pulsar}
PY=${LWR_TEST_PULSAR_PYTHON:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PACKAGE="pulsar-app==$VERSION"
KEY="pulsar-$VERSION-py$PYVER"
VENV="$CACHE/$KEY"
log() { echo "[install-pulsar] $*" >&2; }

if [ -f "$VENV/.complete" ] && [ -x "$VENV/bin/pulsar-check" ]; then
  echo "$VENV"
  exit 0
fi
mkdir -p "$CACHE"
# one installer at a time (CI and a developer's pytest may race)
exec 9>"$CACHE/.$KEY.lock"
flock 9
if [ -f "$VENV/.complete" ] && [ -x "$VENV/bin/pulsar-check" ]; then
  echo "$VENV"
  exit 0
fi
rm -rf "$VENV"
log "installing $PACKAGE into $VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -U pip wheel setuptools >&2
"$VENV/bin/pip" install -q --disable-pip-version-check "$PACKAGE" >&2
"$VENV/bin/python" -c 'import pulsar.client.test.check' >&2
if "$VENV/bin/pip" install -q --disable-pip-version-check pycurl >&2 \
    && "$VENV/bin/python" -c 'import pycurl' >&2; then
  echo yes > "$VENV/.pycurl"
else
  log "pycurl did not install: pulsar-check --transport curl will not be tested"
  echo no > "$VENV/.pycurl"
fi
echo "$PACKAGE" > "$VENV/.complete"
log "done"
echo "$VENV"
