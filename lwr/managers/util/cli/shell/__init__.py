"""Shell plugins: run a command and return its stdout, stderr and return code."""
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence, Union

__all__ = ["ShellResult", "BaseShellExec", "Command", "TIMEOUT_RETURNCODE", "TIMEOUT_MESSAGE"]

Command = Union[str, Sequence[str]]
TIMEOUT_RETURNCODE = -1
TIMEOUT_MESSAGE = "Execution timed out"
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class ShellResult:
    stdout: str
    stderr: str
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def command_string(cmd: Command) -> str:
    """One shell-safe string for a command given as an argument list (strings pass through)."""
    if isinstance(cmd, str):
        return cmd
    return " ".join(shlex.quote(str(part)) for part in cmd)


def to_float(value, name: str) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError("shell option %s must be a number, got %r" % (name, value)) from None


class BaseShellExec:
    """Run commands somewhere.  ``timeout`` (seconds) bounds every command; on expiry the
    command is killed and the result is ``returncode -1`` / ``Execution timed out``."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        self.timeout = to_float(timeout, "timeout")

    def execute(self, cmd: Command, timeout: Optional[float] = None) -> ShellResult:
        raise NotImplementedError
