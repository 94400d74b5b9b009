"""Grid Engine accounting (``qacct -j ID``): the only record of a job DRMAA has forgotten, and
the only place that says a job was killed for exceeding h_rt / h_vmem."""
import logging
import shutil
import subprocess
from typing import Dict, Optional

from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus, signal_name

__all__ = ["parse_qacct", "qacct_status", "QACCT_FAILED_LIMIT"]

log = logging.getLogger(__name__)

# qacct "failed" codes meaning the scheduler killed the job for a limit
QACCT_FAILED_LIMIT = {37: "resource limit exceeded (Grid Engine: %s)"}


def parse_qacct(output: str) -> Optional[Dict[str, str]]:
    """The last record of ``qacct -j`` output as {field: value}; None if there is none."""
    record: Optional[Dict[str, str]] = None
    for line in output.splitlines():
        if line.startswith("====="):
            record = {}
            continue
        if record is None or not line.strip():
            continue
        key, _, value = line.partition(" ")
        record[key] = value.strip()
    return record or None


def qacct_job_status(record: Dict[str, str]) -> JobStatus:
    failed_text = record.get("failed", "0")
    failed_code = int(failed_text.split()[0]) if failed_text.split() and failed_text.split()[0].isdigit() else 0
    try:
        exit_status = int(record.get("exit_status", "").split()[0])
    except (ValueError, IndexError):
        exit_status = None
    if failed_code in QACCT_FAILED_LIMIT:
        detail = failed_text.partition(":")[2].strip() or "failed %d" % failed_code
        return JobStatus(status.FAILED, None, QACCT_FAILED_LIMIT[failed_code] % detail)
    if failed_code:
        detail = failed_text.partition(":")[2].strip()
        return JobStatus(status.FAILED, None, "Grid Engine failed the job: %d %s" % (failed_code, detail))
    if exit_status is not None and exit_status > 128:
        return JobStatus(status.FAILED, None, "killed by %s" % signal_name(exit_status - 128))
    return JobStatus(status.COMPLETE, exit_status)


def qacct_status(job_id: str, timeout: float = 20) -> Optional[JobStatus]:
    """Ask ``qacct`` about a finished job; None if qacct is missing or has no record."""
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
    record = parse_qacct(result.stdout)
    return qacct_job_status(record) if record else None
