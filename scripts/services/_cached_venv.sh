# cached_venv: build a test client's virtualenv once and reuse it.  Sourced, not executed.
#
#   cached_venv VENV READY INSTALL
#
# Prints VENV.  When VENV/.complete and the file READY exist, returns at once; otherwise, under
# a lock (CI and a developer's pytest may race), removes any half-built VENV, creates it with
# $PY, upgrades pip, calls the function INSTALL VENV (which installs and checks the packages
# and prints what to record) and writes its output to VENV/.complete, so an interrupted
# install is redone rather than trusted.  Messages go to stderr.
cached_venv() {
  local venv=$1 ready=$2 install=$3 record
  if [ -f "$venv/.complete" ] && [ -e "$ready" ]; then
    echo "$venv"
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  exec 9>"$(dirname "$venv")/.$(basename "$venv").lock"
  flock 9
  if [ -f "$venv/.complete" ] && [ -e "$ready" ]; then
    echo "$venv"
    return 0
  fi
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -U pip wheel setuptools >&2
  record=$("$install" "$venv")
  echo "$record" > "$venv/.complete"
  echo "$venv"
}
