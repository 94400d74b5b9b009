"""``lwr-daemon`` / ``python -m lwr.daemon``: run the LWR without a web server (message-queue mode).

Builds the :class:`~lwr.core.LwrApp` from ``[app:<app>]`` of the ini file and
keeps it running until SIGTERM/SIGINT (``--stop`` sends SIGTERM to the pid in
the pid file).  With ``--daemonize`` it detaches and writes its output to the
log file.  A broker that is down at start is waited for: the consumers retry
with backoff and log every attempt.
"""
import argparse
import errno
import logging
import os
import signal
import sys
import threading
import time
from typing import Optional

from lwr.options import ConfigurationError
from lwr.scripts.config import (
    ConfigError,
    LwrConfigBuilder,
    LwrManagerConfigBuilder,
    load_lwr_app,
)

__all__ = ["main", "app_loop", "LwrConfigBuilder", "LwrManagerConfigBuilder", "load_lwr_app",
           "DEFAULT_PID", "DEFAULT_LOG"]

log = logging.getLogger("lwr.daemon")

DEFAULT_PID = "lwr.pid"
DEFAULT_LOG = "daemon.log"
STOP_TIMEOUT = 30.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwr-daemon",
        description="Run the LWR without a web server, taking jobs from the message queue "
                    "configured by message_queue_url.")
    LwrConfigBuilder.populate_options(parser)
    parser.add_argument("--pid_file", default=None, help="pid file, relative to --root (default %s)" % DEFAULT_PID)
    parser.add_argument("--log_file", default=None,
                        help="log file for --daemonize, relative to --root (default %s)" % DEFAULT_LOG)
    parser.add_argument("--daemonize", action="store_true", help="detach and run in the background")
    parser.add_argument("--stop", action="store_true", help="stop the daemon named by the pid file and exit")
    return parser


def _in_root(root, path, default):
    path = path or default
    return path if os.path.isabs(path) else os.path.join(root, path)


def read_pid(pid_file: str) -> Optional[int]:
    try:
        with open(pid_file) as handle:
            return int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def stop(pid_file: str, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM the daemon and wait for it to exit; 0 when it is gone."""
    pid = read_pid(pid_file)
    if pid is None or not _alive(pid):
        print("lwr-daemon: not running (no live pid in %s)" % pid_file, file=sys.stderr)
        _remove(pid_file)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            _remove(pid_file)
            print("lwr-daemon: stopped (pid %d)" % pid)
            return 0
        time.sleep(0.1)
    print("lwr-daemon: pid %d did not exit within %ss" % (pid, timeout), file=sys.stderr)
    return 1


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _write_pid(pid_file: str) -> None:
    existing = read_pid(pid_file)
    if existing is not None and existing != os.getpid() and _alive(existing):
        raise ConfigError("another lwr-daemon (pid %d) is running; pid file %s" % (existing, pid_file))
    with open(pid_file, "w") as handle:
        handle.write("%d\n" % os.getpid())


def daemonize(log_file: str) -> None:
    """Double fork, new session, stdin from /dev/null, stdout/stderr appended to ``log_file``."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)


def app_loop(config_builder: LwrConfigBuilder, stop_event: Optional[threading.Event] = None) -> None:
    """Build the app in the LWR root and keep it until ``stop_event`` is set (or SIGTERM/SIGINT)."""
    stop_event = stop_event or threading.Event()
    os.chdir(config_builder.root)
    app = load_lwr_app(config_builder)
    if getattr(app, "message_queue_binding", None) is None:
        log.warning("message_queue_url is not set: this LWR takes no jobs without a web server")
    log.info("lwr-daemon running (pid %d)", os.getpid())
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        log.info("lwr-daemon stopping")
        app.shutdown()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    builder = LwrConfigBuilder(args)
    pid_file = _in_root(builder.root, args.pid_file, DEFAULT_PID)
    if args.stop:
        return stop(pid_file)
    log_file = _in_root(builder.root, args.log_file, DEFAULT_LOG)
    try:
        builder.check()  # fail before detaching when the config is unusable
        existing = read_pid(pid_file)
        if existing is not None and _alive(existing):
            raise ConfigError("already running (pid %d in %s)" % (existing, pid_file))
        if args.daemonize:
            daemonize(log_file)
        _write_pid(pid_file)
    except ConfigError as exc:
        print("lwr-daemon: error: %s" % exc, file=sys.stderr)
        return 1
    builder.setup_logging()
    stop_event = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_event.set())
    try:
        app_loop(builder, stop_event)
    except ConfigurationError as exc:  # found while building (e.g. the object store file): one line
        print("lwr-daemon: error: %s" % exc.located(builder.ini_path, "app:%s" % builder.app_name),
              file=sys.stderr)
        return 1
    finally:
        if read_pid(pid_file) == os.getpid():
            _remove(pid_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
