"""Run commands on this host."""
import logging
import os
import signal
import subprocess
from typing import Optional

from . import BaseShellExec, Command, ShellResult, TIMEOUT_MESSAGE, TIMEOUT_RETURNCODE

__all__ = ["LocalShell"]

log = logging.getLogger(__name__)


class LocalShell(BaseShellExec):
    """A list command runs directly (no shell); a string runs through ``/bin/sh -c``."""

    def __init__(self, timeout=60, **unused):
        super().__init__(timeout)
        if unused:
            log.warning("LocalShell ignores options %s", ", ".join(sorted(unused)))

    def execute(self, cmd: Command, timeout: Optional[float] = None) -> ShellResult:
        timeout = self.timeout if timeout is None else timeout
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        try:
            # own session so a timeout can kill the whole tree (ssh, the shell's children, ...)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:  # e.g. sbatch not installed
            return ShellResult("", "%s: %s" % (argv[0], exc.strerror or exc), 127)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a grandchild left its group and holds the pipes
                stdout, stderr = b"", b""
            log.warning("command timed out after %s s: %s", timeout, argv)
            err = stderr.decode("utf-8", "replace")
            return ShellResult(stdout.decode("utf-8", "replace"),
                               (err + "\n" if err else "") + TIMEOUT_MESSAGE, TIMEOUT_RETURNCODE)
        return ShellResult(stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
                           proc.returncode)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
