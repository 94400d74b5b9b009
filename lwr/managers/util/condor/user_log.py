"""Read an HTCondor user (job event) log.

Event records look like::

    005 (042.000.000) 2026-11-22 03:45:24 Job terminated.
    	(1) Normal termination (return value 3)
    ...

Only the events of one cluster count.  000 submit -> queued, 001 execute / 004 evicted / 007
shadow exception -> running (as LWR 0.2.0), 005 terminated -> complete with its return value (or
failed when killed by a signal), 009 aborted (condor_rm) -> cancelled, 009 aborted by a removal
policy (``periodic_remove`` / ``SYSTEM_PERIODIC_REMOVE``, e.g. a walltime limit: "The job attribute
PeriodicRemove expression '...' evaluated to TRUE") -> failed with that reason, 002 executable
error -> failed, 012 held -> queued (with the hold reason), 013 released -> queued.
"""
import logging
import re
from dataclasses import dataclass, field
from typing import List, Optional

from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus, UNKNOWN

__all__ = ["LogEvent", "parse_user_log", "user_log_status", "EVENT_STATES"]

log = logging.getLogger(__name__)

EVENT_STATES = {
    0: status.QUEUED,
    1: status.RUNNING,
    2: status.FAILED,
    4: status.RUNNING,
    5: status.COMPLETE,
    6: None,  # image size update: no change
    7: status.RUNNING,
    9: status.CANCELLED,
    12: status.QUEUED,
    13: status.QUEUED,
    28: None,  # job ad information
    40: None,  # file transfer
}

_HEADER_RE = re.compile(r"^(\d{3}) \((\d+)\.(\d+)\.(\d+)\) (.*)$")
_RETURN_RE = re.compile(r"\(1\) Normal termination \(return value (-?\d+)\)")
_SIGNAL_RE = re.compile(r"\(0\) Abnormal termination \(signal (\d+)\)")
# how the schedd writes a removal by policy rather than by condor_rm
_POLICY_RE = re.compile(r"expression '.*' evaluated to TRUE")


@dataclass
class LogEvent:
    code: int
    cluster: int
    proc: int
    subproc: int
    header: str
    body: List[str] = field(default_factory=list)


def parse_user_log(text: str) -> List[LogEvent]:
    """All complete event records in a user log (a record ends with a ``...`` line)."""
    events: List[LogEvent] = []
    current: Optional[LogEvent] = None
    for line in text.splitlines():
        if current is None:
            match = _HEADER_RE.match(line)
            if match:
                code, cluster, proc, sub, rest = match.groups()
                current = LogEvent(int(code), int(cluster), int(proc), int(sub), rest)
            continue
        if line.strip() == "...":
            events.append(current)
            current = None
        else:
            current.body.append(line.strip())
    # a record still being written (no "..." yet) is ignored until it is complete
    return events


def _event_status(event: LogEvent) -> Optional[JobStatus]:
    if event.code not in EVENT_STATES:
        log.warning("unknown HTCondor user log event %03d", event.code)
        return JobStatus(UNKNOWN)
    state = EVENT_STATES[event.code]
    if state is None:
        return None
    body = " ".join(event.body)
    if event.code == 5:
        match = _RETURN_RE.search(body)
        if match:
            return JobStatus(status.COMPLETE, int(match.group(1)))
        match = _SIGNAL_RE.search(body)
        if match:
            return JobStatus(status.FAILED, None, "killed by signal %s (HTCondor)" % match.group(1))
        return JobStatus(status.COMPLETE)
    if event.code == 9 and _POLICY_RE.search(body):
        return JobStatus(status.FAILED, None, "removed by HTCondor policy: %s" % body)
    if event.code == 9:
        return JobStatus(status.CANCELLED, None, "aborted (HTCondor): %s" % body if body else "aborted (HTCondor)")
    if event.code == 2:
        return JobStatus(status.FAILED, None, "HTCondor could not run the executable: %s" % body)
    if event.code == 12:
        return JobStatus(status.QUEUED, None, "held: %s" % body if body else None)
    return JobStatus(state)


def user_log_status(text: str, cluster_id: str) -> JobStatus:
    """The job's state after the events of cluster ``cluster_id`` in the log ``text``."""
    cluster = int(cluster_id)
    current = JobStatus(status.QUEUED)
    for event in parse_user_log(text):
        if event.cluster != cluster:
            continue
        found = _event_status(event)
        if found is None:
            continue
        if status.is_job_done(current.state):
            break  # nothing after termination/abort changes the outcome
        current = found
    return current
