#!/usr/bin/env bash
# Start (or stop) the LWR server. See ./run.sh --help.
set -eo pipefail

usage() {
    cat <<'EOF'
Usage: ./run.sh [-m|--mode paster|uwsgi|gunicorn] [-c|--config FILE] [--] [ARGS...]

Runs the LWR web server from this directory:
  * sources local_env.sh when present (DRMAA_LIBRARY_PATH, GALAXY_HOME, ...),
  * creates .venv with ./setup_venv.sh when it is missing, then activates it,
  * copies server.ini.sample to server.ini when server.ini is missing,
  * starts the server with paster (the default), or with the server named by --mode,
    passing ARGS on unchanged. A uwsgi or gunicorn command on PATH is never picked by
    itself; only a config file with a [uwsgi] section and no [server:main] selects uwsgi.

In paster mode ARGS are `paster serve` options:
  ./run.sh --daemon        start in the background (log paster.log, pid paster.pid)
  ./run.sh --stop-daemon   stop the background server
  ./run.sh --status        tell whether the background server runs
  ./run.sh                 run in the foreground (Ctrl-C stops it)
paster serves with the runner named by `use` in [server:main]: egg:lwr#server (LWR's own)
or egg:lwr#waitress (pip install waitress).

Other modes (the LWR must run as ONE process; both run it so):
  uwsgi     uwsgi --ini-paste FILE, with the [uwsgi] section of FILE (pip install pyuwsgi)
  gunicorn  gunicorn --paste FILE --bind HOST:PORT --workers 1 --worker-class gthread
            --threads N --limit-request-line 0, with host, port and threadpool_workers (N) of
            [server:main], and --certfile/--keyfile from ssl_pem (pip install gunicorn)
The circusd and chaussette modes were removed: chaussette has had no release since 2016 and
was never tested with this LWR; run the server under systemd or supervisor instead
(docs/deployment.rst).

With --daemon, run.sh first checks the configuration (python -m lwr.scripts.check_config),
printing a mistake or a taken port in one line; then it waits (up to LWR_START_TIMEOUT
seconds, default 20) until the server process listens on [server:main] host:port of the
config file, and exits non-zero, showing the end of the log, if it died or never answered.
Plain `paster --daemon` exits 0 even then.

Options:
  -m, --mode MODE     paster | uwsgi | gunicorn
  -c, --config FILE   config file (default server.ini; only server.ini is created from
                      server.ini.sample)
  -h, --help          show this help and exit
EOF
}

MODE=""
CONFIG=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -m|--mode)
            [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
            MODE=$2; shift ;;
        --mode=*) MODE=${1#--mode=} ;;
        -c|--config)
            [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
            CONFIG=$2; shift ;;
        --config=*) CONFIG=${1#--config=} ;;
        --) shift; ARGS+=("$@"); break ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done

case "$MODE" in
    ""|uwsgi|gunicorn|paster) ;;
    circusd|chaussette)
        echo "run.sh: mode '$MODE' was removed (chaussette is unmaintained); use paster," \
             "uwsgi or gunicorn, under systemd or supervisor (docs/deployment.rst)" >&2
        exit 2 ;;
    *) echo "run.sh: unknown mode '$MODE' (paster, uwsgi or gunicorn)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")"
LWR_ROOT=$(pwd)
export LWR_ROOT

if [ -f local_env.sh ]; then
    # shellcheck disable=SC1091
    . ./local_env.sh
fi

if [ ! -e .venv ]; then
    ./setup_venv.sh
fi
if [ -f .venv/bin/activate ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi

if [ -n "${TEST_GALAXY_LIBS:-}" ]; then
    if PYTHONPATH="${GALAXY_HOME:-}/lib:${PYTHONPATH:-}" python -c 'import galaxy' 2>/dev/null; then
        echo "Galaxy libraries found under GALAXY_HOME=${GALAXY_HOME:-}."
    else
        echo "run.sh: cannot import galaxy; is GALAXY_HOME (${GALAXY_HOME:-unset}) a Galaxy checkout?" >&2
        exit 1
    fi
fi

if [ -z "$CONFIG" ]; then
    CONFIG=server.ini
    if [ ! -f server.ini ]; then
        cp server.ini.sample server.ini
        echo "run.sh: created server.ini from server.ini.sample"
    fi
fi
if [ ! -f "$CONFIG" ]; then
    echo "run.sh: config file $CONFIG not found" >&2
    exit 1
fi

# Options that only `paster serve` understands, and which of them daemonize.
DAEMON=0
PASTER_ONLY=0
PID_FILE=paster.pid
LOG_FILE=paster.log
expect=""
for arg in ${ARGS[@]+"${ARGS[@]}"}; do
    case "$expect" in
        pid) PID_FILE=$arg; expect=""; continue ;;
        log) LOG_FILE=$arg; expect=""; continue ;;
    esac
    case "$arg" in
        --daemon|start|restart) DAEMON=1; PASTER_ONLY=1 ;;
        --stop-daemon|--status|--reload|stop|status) PASTER_ONLY=1 ;;
        --pid-file) expect=pid; PASTER_ONLY=1 ;;
        --pid-file=*) PID_FILE=${arg#--pid-file=}; PASTER_ONLY=1 ;;
        --log-file) expect=log; PASTER_ONLY=1 ;;
        --log-file=*) LOG_FILE=${arg#--log-file=}; PASTER_ONLY=1 ;;
    esac
done

# The config decides, never what happens to be on PATH: a file written for uWSGI alone
# ([uwsgi] and no [server:main]) runs under uwsgi, everything else under paster.
if [ -z "$MODE" ]; then
    MODE=paster
    if [ "$PASTER_ONLY" = 0 ] && grep -q '^\[uwsgi\]' "$CONFIG" && ! grep -q '^\[server:main\]' "$CONFIG"; then
        MODE=uwsgi
    fi
fi

# Prints "host port" of [server:main] (paste-style %(here)s interpolation allowed).
server_address() {
    python - "$1" <<'EOF'
import configparser, os, sys
path = os.path.abspath(sys.argv[1])
parser = configparser.ConfigParser(defaults={"here": os.path.dirname(path), "__file__": path})
parser.read(path)
section = "server:main"
host = parser.get(section, "host", fallback="localhost") if parser.has_section(section) else "localhost"
port = parser.get(section, "port", fallback="8913") if parser.has_section(section) else "8913"
print(host or "localhost", port or "8913")
EOF
}

# Prints gunicorn's options for [server:main], one a line: --bind, one gthread worker,
# --threads, TLS.
gunicorn_options() {
    python - "$1" <<'EOF'
import configparser, os, sys
path = os.path.abspath(sys.argv[1])
parser = configparser.ConfigParser(defaults={"here": os.path.dirname(path), "__file__": path})
parser.read(path)

def get(name, default):
    if not parser.has_section("server:main"):
        return default
    return parser.get("server:main", name, fallback=default) or default

host, port, threads = get("host", "localhost"), get("port", "8913"), get("threadpool_workers", "10")
# gunicorn's request line limit is at most 8190 bytes; LWR clients send up to 16 KiB (Galaxy
# puts the command line in the query string): 0 lifts it (LWR itself caps what it accepts).
args = ["--bind", "%s:%s" % (host, port), "--workers", "1", "--worker-class", "gthread", "--threads", threads,
        "--limit-request-line", "0"]
ssl_pem = get("ssl_pem", "")
if ssl_pem == "*":
    sys.exit("run.sh: ssl_pem = * (a generated certificate) works with paster only; give gunicorn a PEM file")
if ssl_pem:
    args += ["--certfile", ssl_pem, "--keyfile", ssl_pem]
if parser.has_section("server:main"):
    used = {"use", "host", "port", "threadpool_workers", "ssl_pem", "here", "__file__"}
    ignored = sorted(set(parser.options("server:main")) - used)
    if ignored:
        print("run.sh: gunicorn mode ignores [server:main] %s (options of LWR's own runner)"
              % ", ".join(ignored), file=sys.stderr)
print("\n".join(args))
EOF
}

# paster records the daemon's pid only after forking; a stale pid file from a dead server
# would otherwise be read as "the new server already died".
remove_stale_pid_file() {
    python - "$1" <<'EOF'
import os, sys
try:
    import psutil
    pid = int(open(sys.argv[1]).read().strip())
except (ImportError, OSError, ValueError):
    sys.exit(0)
try:
    running = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
except psutil.Error:
    running = False
if not running:
    os.remove(sys.argv[1])
EOF
}

# Waits until the daemon whose pid lands in $2 listens on host:port; exit 1 if it dies or times out.
wait_for_daemon() {
    python - "$@" <<'EOF'
import os, signal, socket, sys, time
host, port, pid_file, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
log_file, log_offset = sys.argv[5], int(sys.argv[6])
try:
    import psutil
except ImportError:
    psutil = None

def read_pid():
    try:
        with open(pid_file) as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None

def alive(pid):
    if psutil is None:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

def owns_listener(pid):
    """True when pid itself listens on port (another process holding the port does not count)."""
    if psutil is None:
        return True
    try:
        connections = psutil.Process(pid).net_connections(kind="inet")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)

def exit_logged():
    """Paste's daemon logs "Removing PID file" as it exits: a server that dies within
    milliseconds removes its pid file before we ever read it."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(log_offset)
            return b"Removing PID file" in handle.read()
    except OSError:
        return False

def answers():
    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False

deadline = time.monotonic() + timeout
pid = None
while time.monotonic() < deadline:
    pid = read_pid() or pid
    if (pid is None or not alive(pid)) and exit_logged():
        print("run.sh: the LWR server%s exited during startup" % (" (pid %d)" % pid if pid else ""),
              file=sys.stderr)
        sys.exit(1)
    if pid is not None:
        if not alive(pid):
            print("run.sh: the LWR server (pid %d) exited during startup" % pid, file=sys.stderr)
            sys.exit(1)
        if owns_listener(pid) and answers():
            print("run.sh: LWR server (pid %d) is answering on %s:%d" % (pid, host, port))
            sys.exit(0)
    time.sleep(0.2)
if pid is None:
    print("run.sh: no pid file %s appeared; the server did not start" % pid_file, file=sys.stderr)
else:
    print("run.sh: the LWR server (pid %d) did not answer on %s:%d within %gs; stopping it"
          % (pid, host, port, timeout), file=sys.stderr)
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
sys.exit(1)
EOF
}

case "$MODE" in
    uwsgi)
        command -v uwsgi >/dev/null 2>&1 || { echo "run.sh: uwsgi not found (pip install pyuwsgi)" >&2; exit 1; }
        exec uwsgi --ini-paste "$CONFIG" ${ARGS[@]+"${ARGS[@]}"} ;;
    gunicorn)
        command -v gunicorn >/dev/null 2>&1 || { echo "run.sh: gunicorn not found (pip install gunicorn)" >&2; exit 1; }
        OPTIONS=$(gunicorn_options "$CONFIG")
        mapfile -t GUNICORN_OPTIONS <<<"$OPTIONS"
        exec gunicorn --paste "$CONFIG" "${GUNICORN_OPTIONS[@]}" ${ARGS[@]+"${ARGS[@]}"} ;;
    paster)
        if [ "$DAEMON" = 0 ]; then
            exec paster serve "$CONFIG" ${ARGS[@]+"${ARGS[@]}"}
        fi
        # A configuration mistake is told here, in one line, not only in the daemon's log.
        python -m lwr.scripts.check_config "$CONFIG" || exit 1
        read -r HOST PORT < <(server_address "$CONFIG")
        remove_stale_pid_file "$PID_FILE"
        LOG_OFFSET=0
        [ -f "$LOG_FILE" ] && LOG_OFFSET=$(wc -c <"$LOG_FILE")
        status=0
        paster serve "$CONFIG" ${ARGS[@]+"${ARGS[@]}"} || status=$?
        if [ "$status" != 0 ]; then
            exit "$status"
        fi
        if wait_for_daemon "$HOST" "$PORT" "$PID_FILE" "${LWR_START_TIMEOUT:-20}" "$LOG_FILE" "$LOG_OFFSET"; then
            exit 0
        fi
        echo "run.sh: last lines of $LOG_FILE:" >&2
        if [ -f "$LOG_FILE" ]; then
            tail -c +"$((LOG_OFFSET + 1))" "$LOG_FILE" | tail -n 30 >&2
            echo >&2
        fi
        exit 1 ;;
esac
