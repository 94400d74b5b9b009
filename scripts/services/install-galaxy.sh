#!/bin/bash
# Install Galaxy 26 (from PyPI) into a cached virtualenv for the `galaxy` test marker.  Idempotent.
# Prints the venv directory on stdout.  ~1.5 min and ~1.1 GB the first time; instant afterwards.
#
#   LWR_TEST_GALAXY_VERSION   Galaxy release to install (default 26.1.2)
#   LWR_TEST_GALAXY_CACHE     cache root (default ~/.cache/lwr-test-galaxy)
#   LWR_TEST_GALAXY_PYTHON    interpreter for the venv (default python3)
#
# The venv directory is keyed on the pinned versions and the interpreter version, so changing
# either installs a fresh venv next to the old one.  A venv only counts once `.complete` exists,
# so an interrupted install is redone rather than trusted.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_cached_venv.sh"
VERSION=${LWR_TEST_GALAXY_VERSION:-26.1.2}
CACHE=${LWR_TEST_GALAXY_CACHE:-$HOME/.cache/lwr-test-galaxy}
PY=${LWR_TEST_GALAXY_PYTHON:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PACKAGES="galaxy-web-apps==$VERSION galaxy-app==$VERSION bioblend"
VENV="$CACHE/galaxy-$VERSION-py$PYVER"
log() { echo "[install-galaxy] $*" >&2; }

install_galaxy() {
  local venv=$1
  log "installing $PACKAGES into $venv (takes ~1.5 min)"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $PACKAGES >&2
  "$venv/bin/python" -c 'import galaxy.jobs.runners, bioblend' >&2
  log "done"
  echo "$PACKAGES"
}

cached_venv "$VENV" "$VENV/bin/galaxy-web" install_galaxy
