"""Grid Engine accounting (``qacct -j ID``): the only record of a job DRMAA has forgotten, and
the only place that says a job was killed for exceeding h_rt / h_vmem."""
import logging
import re
import shutil
import subprocess
import time
from typing import Dict, List, Optional

from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus, signal_name
from lwr.managers.util.drmaa.sge_limits import explain_limit_kill

__all__ = ["parse_qacct", "parse_qacct_records", "qacct_status", "qstat_error_reason", "QACCT_FAILED_LIMIT"]

log = logging.getLogger(__name__)

# qacct "failed" codes meaning the scheduler killed the job for a limit
QACCT_FAILED_LIMIT = {37: "resource limit exceeded (Grid Engine: %s)"}


def parse_qacct_records(output: str) -> List[Dict[str, str]]:
    """Every record of ``qacct -j`` output, oldest first, as {field: value}."""
    records: List[Dict[str, str]] = []
    for line in output.splitlines():
        if line.startswith("====="):
            records.append({})
            continue
        if not records or not line.strip():
            continue
        key, _, value = line.partition(" ")
        records[-1][key] = value.strip()
    return [record for record in records if record]


def parse_qacct(output: str) -> Optional[Dict[str, str]]:
    """The last record of ``qacct -j`` output as {field: value}; None if there is none."""
    records = parse_qacct_records(output)
    return records[-1] if records else None


def qsub_time(record: Dict[str, str]) -> Optional[float]:
    """The record's submission time (``Sun Nov 22 07:28:59 2026``, local time) as a timestamp."""
    try:
        return time.mktime(time.strptime(record.get("qsub_time", ""), "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None


def matching_record(records: List[Dict[str, str]], job_name: Optional[str] = None,
                    submitted_after: Optional[float] = None) -> Optional[Dict[str, str]]:
    """The newest record that can be our job.

    Grid Engine reuses job numbers once its spool is recreated while its accounting file keeps
    the old records, so ``qacct -j N`` may describe somebody else's job N: a record must carry our
    job name and must not have been submitted before we submitted (with a minute of slack for
    clock rounding and skew).
    """
    for record in reversed(records):
        if job_name is not None and record.get("jobname") != job_name:
            continue
        if submitted_after is not None:
            submitted = qsub_time(record)
            if submitted is not None and submitted < submitted_after - 60:
                continue
        return record
    return None


def qacct_job_status(record: Dict[str, str]) -> JobStatus:
    failed_text = record.get("failed", "0")
    failed_code = int(failed_text.split()[0]) if failed_text.split() and failed_text.split()[0].isdigit() else 0
    try:
        exit_status = int(record.get("exit_status", "").split()[0])
    except (ValueError, IndexError):
        exit_status = None
    if failed_code in QACCT_FAILED_LIMIT:
        detail = failed_text.partition(":")[2].strip() or "failed %d" % failed_code
        return JobStatus(status.FAILED, None,
                         explain_limit_kill(record) or QACCT_FAILED_LIMIT[failed_code] % detail)
    if failed_code:
        detail = failed_text.partition(":")[2].strip()
        return JobStatus(status.FAILED, None, "Grid Engine failed the job: %d %s" % (failed_code, detail))
    if exit_status is not None and exit_status > 128:
        return JobStatus(status.FAILED, None, "killed by %s" % signal_name(exit_status - 128))
    return JobStatus(status.COMPLETE, exit_status)


def qacct_status(job_id: str, timeout: float = 20, job_name: Optional[str] = None,
                 submitted_after: Optional[float] = None) -> Optional[JobStatus]:
    """Ask ``qacct`` about a finished job; None if qacct is missing or has no record of it
    (see :func:`matching_record` for ``job_name`` / ``submitted_after``)."""
    if not shutil.which("qacct"):
        return None
    try:
        result = subprocess.run(["qacct", "-j", str(job_id)], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("qacct -j %s failed: %s", job_id, exc)
        return None
    if result.returncode != 0:
        return None
    record = matching_record(parse_qacct_records(result.stdout), job_name, submitted_after)
    return qacct_job_status(record) if record else None


def qstat_error_reason(job_id: str, timeout: float = 20) -> Optional[str]:
    """Why Grid Engine holds a job in error state (``Eqw``): the ``error reason`` lines of
    ``qstat -j``; None if there are none or qstat cannot tell."""
    if not shutil.which("qstat"):
        return None
    try:
        result = subprocess.run(["qstat", "-j", str(job_id)], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("qstat -j %s failed: %s", job_id, exc)
        return None
    reasons = [match.group(1).strip() for match in map(_ERROR_REASON.match, result.stdout.splitlines())
               if match]
    return "; ".join(reasons) or None


# "error reason    1:      11/22/2026 07:28:59 [0:22661]: error: can't open output file ..."
_ERROR_REASON = re.compile(r"^error reason\s+\d+:\s+(?:\S+ \S+ \[[^\]]*\]:\s*)?(.*)$")
