#!/usr/bin/env bash
# Set up .venv with the development requirements and run LWR's whole test suite.
set -euo pipefail

case "${1:-}" in
    -h|--help)
        cat <<'HELP'
Usage: ./run_tests.sh [PYTEST ARGS...]

Runs ./setup_venv.sh --dev (quick when .venv is current), then `.venv/bin/python -m pytest`
from this directory with PYTEST ARGS passed on (e.g. `-x`, `-k status`, `test/app_test.py`,
`-m "not slow"`). Tests that need a real service (RabbitMQ, Slurm, ...) skip when it is
absent, unless LWR_TEST_REQUIRE_SERVICES=1 (as in .ci/run), where they fail instead.
Exits with pytest's status; "no tests collected" (5) counts as a failure.
HELP
        exit 0 ;;
esac

cd "$(dirname "$0")"
./setup_venv.sh --dev
# Paths and the glibc static-TLS setting the scheduler tests need (harmless where those
# services are absent); it must be in the environment before Python starts.
# shellcheck source=scripts/services/env.sh
[ -f scripts/services/env.sh ] && . scripts/services/env.sh

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then
    echo "run_tests.sh: pytest collected no tests; treating that as a failure" >&2
fi
exit "$status"
