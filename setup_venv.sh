#!/usr/bin/env bash
# Create (or update) the LWR virtualenv in .venv and install LWR's dependencies into it.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./setup_venv.sh [--dev] [--force] [-h|--help]

Creates the Python virtualenv .venv next to this script (python3 -m venv), upgrades pip,
installs requirements.txt into it and installs LWR itself in editable mode (pip install -e .
--no-deps), so that `paster serve server.ini` finds the `lwr` package and its entry points.

  --dev       install dev-requirements.txt instead (tests, docs, cluster bindings)
  --force     reinstall even if the requirement files have not changed
  -h, --help  show this help and exit

Environment:
  LWR_PYTHON  interpreter used to create .venv (default: python3; must be >= 3.10)

Re-running is cheap: when .venv already holds the requirement files' current versions
(recorded in .venv/.lwr-setup-stamp) nothing is installed again. On Debian, when the venv
module or ensurepip is missing and this runs as root, python3-venv is installed with apt-get.
EOF
}

DEV=0
FORCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) DEV=1 ;;
        --force) FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup_venv.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.lwr-setup-stamp"
PYTHON=${LWR_PYTHON:-python3}

say() { echo "setup_venv.sh: $*" >&2; }

checksum() {
    # Mode plus the contents of every file that decides what gets installed.
    local files=(requirements.txt setup.py)
    [ "$1" = dev ] && files+=(dev-requirements.txt)
    { echo "$1"; cat "${files[@]}"; } | sha256sum | cut -d' ' -f1
}

venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys, pip; assert sys.version_info >= (3, 10)' \
        >/dev/null 2>&1
}

stamp_matches() {
    [ -f "$STAMP" ] || return 1
    local recorded
    recorded=$(cat "$STAMP")
    # A dev install is a superset of the plain one.
    [ "$recorded" = "$(checksum dev)" ] && return 0
    [ "$DEV" = 0 ] && [ "$recorded" = "$(checksum plain)" ]
}

if [ "$FORCE" = 0 ] && venv_works && stamp_matches; then
    exit 0
fi

# Two setups at once (say, parallel ./run_tests.sh) would fight over .venv: take turns,
# locking this script file itself so no lock file is left behind.
if command -v flock >/dev/null 2>&1; then
    exec 9<"$ROOT/setup_venv.sh"
    flock 9
    if [ "$FORCE" = 0 ] && venv_works && stamp_matches; then
        exit 0
    fi
fi

ensure_venv_support() {
    if command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "python venv support missing; installing python3-venv with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3 python3-venv >/dev/null
        return 0
    fi
    say "'$PYTHON -m venv' is unavailable; install python3-venv (e.g. sudo apt-get install python3-venv)"
    exit 1
}

if ! venv_works; then
    ensure_venv_support
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        say "$PYTHON is $("$PYTHON" -V 2>&1); LWR needs Python >= 3.10 (set LWR_PYTHON)"
        exit 1
    fi
    if [ -e "$VENV" ]; then
        say "replacing broken virtualenv $VENV"
        rm -rf "$VENV"
    fi
    say "creating $VENV with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
REQUIREMENTS=requirements.txt
MODE=plain
if [ "$DEV" = 1 ]; then
    REQUIREMENTS=dev-requirements.txt
    MODE=dev
fi

rm -f "$STAMP"
say "upgrading pip"
"${PIP[@]}" install -q --upgrade pip
say "installing $REQUIREMENTS"
"${PIP[@]}" install -q -r "$REQUIREMENTS"
say "installing lwr (editable)"
"${PIP[@]}" install -q --no-deps -e .
checksum "$MODE" >"$STAMP"
say "ready: activate with '. .venv/bin/activate'"
