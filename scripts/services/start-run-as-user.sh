#!/bin/bash
# sudo plus a test user for the run-as-user (queued_external_drmaa) tests.  The sudoers rule is
# the example from the docs: the LWR user (root here) may run the chown script as root and the
# launch/kill scripts as the job's user.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
LWR_ROOT=$(cd "$HERE/../.." && pwd)
TEST_USER=${LWR_TEST_USER:-lwrtest}
RULE=/etc/sudoers.d/lwr-test

if command -v sudo >/dev/null && [ -z "$(packages_missing python3-drmaa)" ] && id "$TEST_USER" >/dev/null 2>&1 && [ -f "$RULE" ] \
   && grep -q "$LWR_ROOT/scripts/drmaa_launch.bash" "$RULE" && sudo -n -u "$TEST_USER" true 2>/dev/null; then
  log "already set up (user $TEST_USER)"
  exit 0
fi
# python3-drmaa: on these machines the project's .venv is built on root's private pyenv python
# (under /root, mode 0700), so the test user's `drmaa_launch.bash` falls back to /usr/bin/python3.
apt_install sudo python3-drmaa
id "$TEST_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$TEST_USER"
cat > "$RULE.tmp" <<RULES
# Written by lwr scripts/services/start-run-as-user.sh
Defaults:root !requiretty
root ALL = (root) NOPASSWD: SETENV: $LWR_ROOT/scripts/chown_working_directory.bash
root ALL = ($TEST_USER) NOPASSWD: SETENV: $LWR_ROOT/scripts/drmaa_launch.bash, $LWR_ROOT/scripts/drmaa_kill.bash, /bin/true, /usr/bin/true, /usr/bin/id
RULES
visudo -c -f "$RULE.tmp" >/dev/null
install -m 0440 "$RULE.tmp" "$RULE"
rm -f "$RULE.tmp"
sudo -n -u "$TEST_USER" true || die "sudo -u $TEST_USER does not work"
log "up (user $TEST_USER, sudoers $RULE)"
