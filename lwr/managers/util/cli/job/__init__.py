"""Job plugins: one scheduler's submit/cancel/status commands and output parsers.

Parsers are pure functions of the command output so they can be tested on captured real output.
Every status is a :class:`JobStatus` whose ``state`` is one of ``lwr.managers.status`` or
:data:`UNKNOWN` (a scheduler code we do not know: logged, never a crash).
"""
import logging
import signal
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from lwr.managers import status

__all__ = ["JobStatus", "UNKNOWN", "SchedulerCommandError", "BaseJobExec", "check_header_value",
           "format_flag", "signal_name", "lookup_state"]

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


@dataclass(frozen=True)
class JobStatus:
    """What the scheduler says about one job.

    ``state``: a state of :mod:`lwr.managers.status` or :data:`UNKNOWN`.  ``LOST`` means the
    scheduler no longer knows the job at all -- the manager should read the job's exit-code file.
    ``exit_code``: the job's exit code when the scheduler reports it, else None.
    ``reason``: why a job failed / was cancelled (walltime, memory, signal...), else None.
    """

    state: str
    exit_code: Optional[int] = None
    reason: Optional[str] = None

    def __iter__(self) -> Iterator:  # allows ``state, exit_code, reason = job_status``
        return iter((self.state, self.exit_code, self.reason))

    @property
    def done(self) -> bool:
        return status.is_job_done(self.state)


class SchedulerCommandError(Exception):
    """A scheduler command failed; carries what it printed."""

    def __init__(self, command: Sequence[str], returncode: int, stdout: str, stderr: str):
        self.command = list(command)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout or "").strip()
        super().__init__("%s exited with %s%s" % (" ".join(self.command), returncode,
                                                   ": " + detail if detail else ""))


def check_header_value(key: str, value: object) -> str:
    """A job parameter must stay on its header line."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError("job option %s must not contain a line break" % key)
    return text


def format_flag(flag: str, value: str) -> str:
    if value == "":
        return flag
    return "%s=%s" % (flag, value) if flag.startswith("--") else "%s %s" % (flag, value)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def lookup_state(codes: Mapping[str, str], code: str, scheduler: str) -> str:
    state = codes.get(code)
    if state is None:
        log.warning("unknown %s job state %r", scheduler, code)
        return UNKNOWN
    return state


class BaseJobExec:
    """Scheduler-specific commands; differences between schedulers are class attributes plus
    the header builder."""

    scheduler_name = "scheduler"
    submit_command = ""
    cancel_command = ""
    header_prefix = "#"
    # job parameter name (lower case) -> command-line flag
    parameter_flags: Mapping[str, str] = {}

    def __init__(self, **params):
        self.params: Dict[str, str] = {}
        for key, value in params.items():
            self.params[key] = check_header_value(key, value)
        self.extra_flags: List[str] = []
        for key, value in self.params.items():
            flag = self._flag_for(key)
            if flag is None:
                log.warning("%s ignores unknown job option %s", type(self).__name__, key)
                continue
            self.extra_flags.append(format_flag(flag, value))

    def _flag_for(self, key: str) -> Optional[str]:
        if key.startswith("-"):
            return key
        return self.parameter_flags.get(key.lower())

    # -- job script -------------------------------------------------------------------
    def headers(self, ofile: str, efile: str, job_name: str) -> List[str]:
        raise NotImplementedError

    def job_script_kwargs(self, ofile: str, efile: str, job_name: str) -> Dict[str, str]:
        """Keyword arguments for ``lwr.managers.util.job_script.job_script``."""
        for name, value in (("output path", ofile), ("error path", efile), ("job name", job_name)):
            check_header_value(name, value)
        return {"headers": "\n".join(self.headers(ofile, efile, job_name))}

    # -- commands (argument lists) ----------------------------------------------------
    def submit(self, script_file: str, ofile: Optional[str] = None, efile: Optional[str] = None,
               job_name: Optional[str] = None) -> List[str]:
        return [self.submit_command, script_file]

    def delete(self, job_id: str) -> List[str]:
        return [self.cancel_command, str(job_id)]

    def get_single_status(self, job_id: str) -> List[str]:
        raise NotImplementedError

    def get_status(self, job_ids: Optional[Iterable[str]] = None) -> List[str]:
        raise NotImplementedError

    # -- parsers (pure) ---------------------------------------------------------------
    def parse_single_status(self, output: str, job_id: str) -> JobStatus:
        raise NotImplementedError

    def parse_status(self, output: str, job_ids: Iterable[str]) -> Dict[str, JobStatus]:
        raise NotImplementedError

    # -- one call for the manager -----------------------------------------------------
    def job_status(self, shell, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        """Ask the scheduler (through ``shell``) about one job.

        Raises :class:`SchedulerCommandError` when the scheduler cannot be asked (command
        missing, ssh refused, timeout...), so the caller can keep the last known state.
        """
        cmd = self.get_single_status(job_id)
        result = shell.execute(cmd, timeout=timeout)
        if result.returncode != 0:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
        return self.parse_single_status(result.stdout, job_id)
