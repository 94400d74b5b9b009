# Shared helpers for the scripts/services/*.sh start scripts.  Sourced, not executed.
# Every start script is idempotent and returns quickly when its service already answers.

export DEBIAN_FRONTEND=noninteractive
LWR_SERVICES_LOG_DIR=${LWR_SERVICES_LOG_DIR:-/var/log/lwr-test-services}
mkdir -p "$LWR_SERVICES_LOG_DIR"

log() { echo "[$(basename "$0" .sh)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# packages_missing PKG... : prints the packages not installed
packages_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# apt_install PKG... : install what is missing; refresh package lists only if the first try fails
# (policy-rc.d on these machines stops postinst from starting daemons, which is what we want).
apt_install() {
  local missing
  missing=$(packages_missing "$@")
  [ -z "$missing" ] && return 0
  log "apt-get install $(echo $missing)"
  # shellcheck disable=SC2086
  if ! apt-get install -y -qq --no-install-recommends $missing >>"$LWR_SERVICES_LOG_DIR/apt.log" 2>&1; then
    apt-get update -qq >>"$LWR_SERVICES_LOG_DIR/apt.log" 2>&1
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >>"$LWR_SERVICES_LOG_DIR/apt.log" 2>&1 \
      || die "apt-get install failed; see $LWR_SERVICES_LOG_DIR/apt.log"
  fi
}

# wait_for SECONDS CMD... : poll CMD every 0.2 s until it succeeds
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pid_alive PIDFILE : the pid in PIDFILE is a live (non-zombie) process
pid_alive() {
  local pid state
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat")
  [ "$state" != Z ]
}
