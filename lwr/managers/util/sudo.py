"""Run a command through sudo with an argument list (no shell string), for the run-as-user
managers.  A failure raises :class:`SudoError` carrying the return code and output -- LWR 0.2.0
used ``assert``, which ``python -O`` strips."""
import logging
import subprocess
from typing import List, Optional, Sequence

__all__ = ["SUDO_COMMAND", "SudoError", "sudo_argv", "sudo"]

log = logging.getLogger(__name__)

SUDO_COMMAND = "/usr/bin/sudo"


class SudoError(Exception):
    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout or "").strip()
        super().__init__("%s exited with %s%s" % (" ".join(self.argv), returncode, ": " + detail if detail else ""))


def sudo_argv(argv: Sequence[str], user: Optional[str] = None, sudo_command: str = SUDO_COMMAND) -> List[str]:
    """``sudo -E -n [-u USER] -- ARGV...``; -n so a missing sudoers rule fails instead of prompting."""
    if user is not None and (not user or user.startswith("-")):
        raise ValueError("invalid user name %r" % user)
    cmd = [sudo_command, "-E", "-n"]
    if user is not None:
        cmd += ["-u", user]
    return cmd + ["--"] + [str(a) for a in argv]


def sudo(argv: Sequence[str], user: Optional[str] = None, timeout: Optional[float] = 120,
         sudo_command: str = SUDO_COMMAND) -> str:
    """Run ``argv`` via sudo (as ``user`` if given, else root); return its stdout."""
    cmd = sudo_argv(argv, user, sudo_command)
    log.debug("running %s", cmd)
    try:
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SudoError(cmd, -1, "", "timed out after %s s" % timeout) from None
    except OSError as exc:
        raise SudoError(cmd, 127, "", str(exc)) from None
    if result.returncode != 0:
        raise SudoError(cmd, result.returncode, result.stdout, result.stderr)
    return result.stdout
