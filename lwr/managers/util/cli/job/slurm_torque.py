"""Torque commands answered by Slurm's ``slurm-wlm-torque`` wrappers.

Those wrappers have no ``qstat -x`` and no ``exit_status``; bulk status reads the plain
``qstat`` table (``Job id  Name  Username  Time Use  S  Queue``).  Their ``qstat -f`` shows a job
Slurm ended for its time or memory limit as plain ``C``, so a finished job is looked up in Slurm
itself (``scontrol`` / ``sacct -c``) for its exit code and the reason it ended.
"""
import logging
from typing import Dict, Iterable, List, Optional

from lwr.managers import status

from . import JobStatus, SchedulerCommandError, lookup_state
from .slurm import Slurm
from .torque import TORQUE_STATES, Torque, _short_id

__all__ = ["SlurmTorque", "parse_qstat_table"]

log = logging.getLogger(__name__)


def parse_qstat_table(output: str) -> Dict[str, str]:
    """Plain ``qstat`` output -> {job id: state letter}."""
    states: Dict[str, str] = {}
    seen_rule = False
    for line in output.splitlines():
        if not seen_rule:
            seen_rule = line.startswith("---")
            continue
        fields = line.split()
        if len(fields) >= 6:
            states[fields[0]] = fields[-2]
    return states


class SlurmTorque(Torque):
    scheduler_name = "Slurm (Torque wrappers)"

    def get_status(self, job_ids: Optional[Iterable[str]] = None) -> List[str]:
        return ["qstat"]

    def parse_status(self, output: str, job_ids: Iterable[str]) -> Dict[str, JobStatus]:
        if output.lstrip().startswith("Job Id:"):  # single-job status is still `qstat -f`
            return super().parse_status(output, job_ids)
        by_short = {_short_id(k): v for k, v in parse_qstat_table(output).items()}
        result = {}
        for job_id in job_ids:
            code = by_short.get(_short_id(job_id))
            if code is not None:
                result[str(job_id)] = JobStatus(lookup_state(TORQUE_STATES, code, "Torque"))
        return result

    def job_status(self, shell, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        found = super().job_status(shell, job_id, timeout=timeout)
        if found.state != status.COMPLETE or found.exit_code is not None:
            return found
        try:
            final = Slurm().job_status(shell, _short_id(job_id), timeout=timeout)
        except SchedulerCommandError as exc:
            log.warning("job %s: Slurm could not tell how it ended: %s", job_id, exc)
            return found
        # Slurm's answer replaces qstat's where it says more: still completing (squeue CG), a
        # limit/signal kill, the exit code.  A cancelled or forgotten job stays as qstat says.
        if final.state in (status.QUEUED, status.RUNNING, status.FAILED) or \
                (final.state == status.COMPLETE and final.exit_code is not None):
            return final
        return found
