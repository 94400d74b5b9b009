"""``lwr-server``: start, stop and check the LWR web server of a configuration directory.

For an installed package (``pip install 'lwr[server]'`` then ``lwr-config``), where there is
no ``run.sh``.  Every command works in the directory holding ``server.ini``
(``--directory``, default the current one): it sources ``local_env.sh`` there when present
(so ``DRMAA_LIBRARY_PATH``, ``GLIBC_TUNABLES``, ... are set before Python starts), sets
``LWR_CONFIG_DIR`` to the directory (the packaged ``scripts/*.bash`` read ``local_env.sh``
from it) and runs ``paster serve server.ini``.
"""
import argparse
import configparser
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, Optional, Tuple

__all__ = ["main", "build_parser", "sourced_environment", "server_address", "ServerCommandError"]

DEFAULT_PID = "lwr.pid"
DEFAULT_LOG = "lwr.log"
#: LSB init-script status code for "program is not running".
NOT_RUNNING = 3


class ServerCommandError(Exception):
    """A problem the user must fix; printed as one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwr-server",
        description="Start, stop or check the LWR web server configured in a directory (server.ini, "
                    "optional local_env.sh), e.g. one written by lwr-config.",
        epilog="commands: start (in the background; waits until it answers, else shows the log and exits 1), "
               "stop, restart, status (exit 0 running, 3 not running), run (in the foreground, for systemd "
               "and supervisor).")
    parser.add_argument("command", choices=("start", "stop", "restart", "status", "run"))
    parser.add_argument("--directory", "-d", default=".",
                        help="the configuration directory (default: the current directory)")
    parser.add_argument("--config", "-c", default="server.ini",
                        help="configuration file, relative to --directory (default server.ini)")
    parser.add_argument("--pid_file", default=DEFAULT_PID,
                        help="pid file of the background server, relative to --directory (default %s)" % DEFAULT_PID)
    parser.add_argument("--log_file", default=DEFAULT_LOG,
                        help="log of the background server, relative to --directory (default %s)" % DEFAULT_LOG)
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("LWR_START_TIMEOUT", 30)),
                        help="seconds start waits for the server to answer and stop for it to exit "
                             "(default 30, or LWR_START_TIMEOUT)")
    return parser


def sourced_environment(directory: str) -> Dict[str, str]:
    """This process's environment after sourcing ``directory/local_env.sh`` (if present) in
    bash, plus ``LWR_CONFIG_DIR``."""
    env = dict(os.environ, LWR_CONFIG_DIR=directory)
    local_env = os.path.join(directory, "local_env.sh")
    if not os.path.exists(local_env):
        return env
    result = subprocess.run(["bash", "-c", '. "$1" >&2 && env -0', "lwr-server", local_env], env=env,
                            capture_output=True, cwd=directory)
    if result.returncode != 0:
        raise ServerCommandError("sourcing %s failed: %s" % (local_env, result.stderr.decode(errors="replace").strip()))
    sourced = {}
    for item in result.stdout.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            sourced[name.decode(errors="replace")] = value.decode(errors="replace")
    sourced.pop("_", None)
    sourced.pop("SHLVL", None)
    return sourced


def server_address(config: str) -> Tuple[str, int]:
    """``(host, port)`` of ``[server:main]``."""
    parser = configparser.ConfigParser(defaults={"here": os.path.dirname(config), "__file__": config})
    try:
        parser.read(config)
    except configparser.Error as exc:
        raise ServerCommandError("%s: %s" % (config, str(exc).splitlines()[0]))
    host = parser.get("server:main", "host", fallback="localhost") or "localhost"
    port = parser.get("server:main", "port", fallback="8913") or "8913"
    try:
        return host, int(port)
    except ValueError:
        raise ServerCommandError("%s [server:main] port = %r: expected a port number" % (config, port))


def _paster() -> str:
    try:
        import paste.script  # noqa: F401
    except ImportError:
        raise ServerCommandError("the server's dependencies are not installed: pip install 'lwr[server]'")
    path = os.path.join(os.path.dirname(sys.executable), "paster")
    if not os.path.exists(path):
        raise ServerCommandError("paster not found next to %s: pip install 'lwr[server]'" % sys.executable)
    return path


def read_pid(pid_file: str) -> Optional[int]:
    try:
        with open(pid_file) as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        import psutil
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except ImportError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    except Exception:  # psutil.NoSuchProcess and friends
        return False


def answers(host: str, port: int) -> bool:
    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False


def _owns_listener(pid: int, port: int) -> bool:
    try:
        import psutil
        connections = psutil.Process(pid).net_connections(kind="inet")
    except ImportError:
        return True
    except Exception:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)


def _log_tail(log_file: str, offset: int, lines: int = 30) -> str:
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Server:
    def __init__(self, args):
        self.directory = os.path.abspath(args.directory)
        self.config = os.path.join(self.directory, args.config)
        self.pid_file = os.path.join(self.directory, args.pid_file)
        self.log_file = os.path.join(self.directory, args.log_file)
        self.timeout = args.timeout
        if not os.path.isfile(self.config):
            raise ServerCommandError("%s not found (write one with lwr-config, or pass --directory)" % self.config)

    def running_pid(self) -> Optional[int]:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and alive(pid) else None

    def run(self) -> int:
        paster = _paster()
        env = sourced_environment(self.directory)
        os.chdir(self.directory)
        os.execve(paster, [paster, "serve", self.config], env)
        return 1  # not reached

    def start(self) -> int:
        pid = self.running_pid()
        if pid is not None:
            print("lwr-server: already running (pid %d)" % pid)
            return 0
        paster = _paster()
        host, port = server_address(self.config)
        if os.path.exists(self.pid_file):
            os.remove(self.pid_file)  # stale: its process is gone
        offset = os.path.getsize(self.log_file) if os.path.exists(self.log_file) else 0
        env = sourced_environment(self.directory)
        result = subprocess.run([paster, "serve", self.config, "--daemon", "--pid-file", self.pid_file,
                                 "--log-file", self.log_file], cwd=self.directory, env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise ServerCommandError("paster serve failed: %s" % (result.stderr or result.stdout).strip())
        deadline = time.monotonic() + self.timeout
        pid = None
        while time.monotonic() < deadline:
            pid = read_pid(self.pid_file) or pid
            if pid is not None and not alive(pid):
                break
            if pid is not None and _owns_listener(pid, port) and answers(host, port):
                print("lwr-server: started (pid %d), answering on %s:%d" % (pid, host, port))
                return 0
            time.sleep(0.2)
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGTERM)
            reason = "did not answer on %s:%d within %gs; stopped it" % (host, port, self.timeout)
        else:
            reason = "exited during startup"
        print("lwr-server: the server %s; last lines of %s:\n%s" % (reason, self.log_file,
                                                                     _log_tail(self.log_file, offset)),
              file=sys.stderr)
        return 1

    def stop(self) -> int:
        pid = self.running_pid()
        if pid is None:
            print("lwr-server: not running")
            if os.path.exists(self.pid_file):
                os.remove(self.pid_file)
            return 0
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                if os.path.exists(self.pid_file):
                    os.remove(self.pid_file)
                print("lwr-server: stopped (pid %d)" % pid)
                return 0
            time.sleep(0.1)
        raise ServerCommandError("pid %d did not exit within %gs" % (pid, self.timeout))

    def status(self) -> int:
        pid = self.running_pid()
        if pid is None:
            print("lwr-server: not running")
            return NOT_RUNNING
        host, port = server_address(self.config)
        state = "answering" if answers(host, port) else "NOT answering"
        print("lwr-server: running (pid %d), %s on %s:%d" % (pid, state, host, port))
        return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        server = Server(args)
        if args.command == "restart":
            server.stop()
            return server.start()
        return getattr(server, args.command)()
    except (ServerCommandError, OSError) as exc:
        print("lwr-server: error: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
