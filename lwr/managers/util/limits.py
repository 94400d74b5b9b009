"""Recognise a scheduler's own limit-kill message at the end of a job's stderr.

Some kills reach LWR only as "failed" or "killed by SIGKILL": Slurm's accounting-based
memory enforcement (``JobAcctGatherParams=OverMemoryKill``) ends the job ``FAILED`` with
reason ``JobLaunchFailure``, and Torque often reports a plain signal. The scheduler does
write why into the job's stderr file; naming the limit lets Galaxy's runner map the failure
to its memory or walltime resubmission states.
"""
import os
import re
from typing import Optional

__all__ = ["limit_message", "explain_failure", "names_a_limit"]

#: Read no more than this of the file's end: the scheduler's words are the job's last.
TAIL_BYTES = 64 * 1024

_PATTERNS = [
    # slurmstepd: "StepId=55.batch exceeded memory limit (117391360 > 41943040), being killed",
    # "Exceeded job memory limit", cgroup "Detected 1 oom-kill event(s)"
    ("memory limit exceeded", re.compile(
        r"^slurmstepd[^:]*: error: (?:.*exceeded memory limit.*|Exceeded (?:job|step) memory limit.*"
        r"|Detected \d+ oom[-_]kill event.*)$", re.MULTILINE | re.IGNORECASE)),
    # slurmstepd: "*** JOB 55 ON vm CANCELLED AT 2026-12-01T14:15:16 DUE TO TIME LIMIT ***"
    ("walltime limit exceeded", re.compile(r"^slurmstepd[^:]*: error: \*\*\* (?:JOB|STEP) .* DUE TO TIME LIMIT \*\*\*$",
                                           re.MULTILINE)),
    # Torque/PBS: "=>> PBS: job killed: walltime 65 exceeded limit 60", "... mem 2gb exceeded limit 1gb"
    ("walltime limit exceeded", re.compile(r"^.*PBS: job killed: walltime .*exceeded limit.*$", re.MULTILINE)),
    ("memory limit exceeded", re.compile(r"^.*PBS: job killed: v?mem .*exceeded limit.*$", re.MULTILINE)),
]

_NAMED = re.compile(r"memory limit|walltime limit|time limit|OUT_OF_MEMORY|TIMEOUT", re.IGNORECASE)


def names_a_limit(reason: Optional[str]) -> bool:
    return bool(reason and _NAMED.search(reason))


def limit_message(stderr_path: str) -> Optional[str]:
    """``"memory limit exceeded (slurmstepd-vm: error: ...)"`` if the file's end says so, else None."""
    try:
        with open(stderr_path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for label, pattern in _PATTERNS:
        found = pattern.findall(text)
        if found:
            return "%s (the scheduler wrote: %s)" % (label, found[-1].strip()[:300])
    return None


def explain_failure(reason: str, stderr_path: str) -> str:
    """``reason``, prefixed with the limit the scheduler's stderr message names, if any."""
    if names_a_limit(reason):
        return reason
    message = limit_message(stderr_path)
    return "%s; %s" % (message, reason) if message else reason
