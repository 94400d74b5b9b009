#!/bin/bash
# A private sshd on 127.0.0.1:2222 for the SecureShell tests: its own host key, config and
# authorized_keys under $LWR_TEST_SSHD_DIR, leaving /etc/ssh and ~/.ssh alone.  Writes an
# ssh_config the tests use: `ssh -F $LWR_TEST_SSHD_DIR/ssh_config lwr-test-ssh CMD`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
. "$HERE/env.sh"
D=$LWR_TEST_SSHD_DIR
PORT=$LWR_TEST_SSH_PORT

ssh_ok() {
  ssh -F "$D/ssh_config" -o ConnectTimeout=5 lwr-test-ssh true </dev/null
}

if pid_alive "$D/sshd.pid" && [ -f "$D/ssh_config" ] && ssh_ok 2>/dev/null; then
  log "already up on 127.0.0.1:$PORT"
  exit 0
fi
apt_install openssh-server openssh-client
# root-owned, not group/world writable: sshd's StrictModes can stay on
install -d -m 0700 "$D"
install -d -m 0755 /run/sshd
[ -f "$D/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C lwr-test-host -f "$D/host_ed25519"
[ -f "$D/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C lwr-test-client -f "$D/client_ed25519"
install -m 0600 "$D/client_ed25519.pub" "$D/authorized_keys"
cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/host_ed25519
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel INFO
CONF
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$D/host_ed25519.pub")" > "$D/known_hosts"
cat > "$D/ssh_config" <<CONF
# Client config for the private test sshd (written by scripts/services/start-sshd.sh)
Host lwr-test-ssh localhost 127.0.0.1
    HostName 127.0.0.1
    Port $PORT
    User root
    IdentityFile $D/client_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $D/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
CONF
/usr/sbin/sshd -t -f "$D/sshd_config"
if pid_alive "$D/sshd.pid"; then kill "$(cat "$D/sshd.pid")"; sleep 0.3; fi
/usr/sbin/sshd -f "$D/sshd_config" -E "$D/sshd.log"
wait_for 10 ssh_ok || die "sshd on 127.0.0.1:$PORT refuses the test key; see $D/sshd.log"
log "up on 127.0.0.1:$PORT (ssh -F $D/ssh_config lwr-test-ssh)"
