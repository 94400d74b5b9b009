"""What an LWR status response means for the Galaxy job (standard library only).

LWR reports ``preprocessing``/``queued``/``running``/``postprocessing`` while a
job is active and ``complete``/``cancelled``/``failed``/``lost`` once it ended;
failed and lost jobs carry ``failure_reason`` (also appended to ``stderr``).
"""
import re
from typing import NamedTuple, Optional

__all__ = ["Decision", "decide", "limit_runner_state", "WAIT", "RUNNING", "FINISH", "FAIL"]

WAIT = "wait"          # keep watching, nothing to tell Galaxy
RUNNING = "running"    # the job started: Galaxy state -> running
FINISH = "finish"      # collect outputs and let Galaxy judge exit code / stdio rules
FAIL = "fail"          # the job never produced a result: fail it with ``message``

_WAITING = ("preprocessing", "queued")
_RUNNING = ("running", "postprocessing")
_FINISHED = ("complete", "cancelled")
_FAILED = ("failed", "lost")

_WALLTIME = re.compile(r"wall\s*-?time|time\s*limit|\bTIMEOUT\b|timed\s*out", re.IGNORECASE)
_MEMORY = re.compile(r"memory|OUT_OF_MEMORY|\boom\b", re.IGNORECASE)


class Decision(NamedTuple):
    action: str
    message: Optional[str] = None
    #: Name of a Galaxy ``runner_states`` constant, so resubmission rules can fire.
    runner_state: Optional[str] = None


def limit_runner_state(reason: Optional[str]) -> Optional[str]:
    """``WALLTIME_REACHED`` / ``MEMORY_LIMIT_REACHED`` for a scheduler's failure reason, else None.

    >>> limit_runner_state("walltime limit exceeded"), limit_runner_state("memory limit exceeded")
    ('WALLTIME_REACHED', 'MEMORY_LIMIT_REACHED')
    >>> limit_runner_state("the job was killed by signal 9") is None
    True
    """
    if not reason:
        return None
    if _WALLTIME.search(reason):
        return "WALLTIME_REACHED"
    if _MEMORY.search(reason):
        return "MEMORY_LIMIT_REACHED"
    return None


def decide(status: dict, lwr_url: str = "", already_running: bool = False) -> Decision:
    """The step the runner takes for one status response.

    >>> decide({"status": "queued"}).action, decide({"status": "running"}).action
    ('wait', 'running')
    >>> decide({"status": "running"}, already_running=True).action
    'wait'
    >>> decide({"status": "complete", "returncode": 1}).action
    'finish'
    >>> d = decide({"status": "failed", "failure_reason": "walltime limit exceeded"}, "http://lwr:8913/")
    >>> d.action, d.runner_state, d.message
    ('fail', 'WALLTIME_REACHED', 'LWR job failed on http://lwr:8913/: walltime limit exceeded')
    """
    state = (status or {}).get("status")
    if state in _WAITING:
        return Decision(WAIT)
    if state in _RUNNING:
        return Decision(WAIT if already_running else RUNNING)
    if state in _FINISHED:
        return Decision(FINISH)
    where = (" on %s" % lwr_url) if lwr_url else ""
    if state in _FAILED:
        reason = (status.get("failure_reason") or "").strip() or _last_line(status.get("stderr"))
        verb = "failed" if state == "failed" else "was lost (its job manager no longer knows it)"
        message = "LWR job %s%s" % (verb, where)
        if reason:
            message += ": %s" % reason
        return Decision(FAIL, message, limit_runner_state(reason))
    return Decision(FAIL, "LWR%s reported an unknown job status %r" % (where, state))


def _last_line(text) -> str:
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
