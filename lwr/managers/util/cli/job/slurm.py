"""Slurm: ``sbatch`` / ``scancel``; status from ``squeue``, then ``scontrol``, then ``sacct -c``.

``squeue`` hides a job once it finishes (and errors once it is older than MinJobAge), so a job it
no longer lists is looked up with ``scontrol -o show job`` and, after that forgets it too, in the
job-completion log with ``sacct -c``.  Those two report ``ExitCode=<code>:<signal>`` and the
final state, so walltime (TIMEOUT) and memory (OUT_OF_MEMORY) kills read ``failed`` with a reason.
"""
import logging
import re
from typing import Dict, Iterable, List, Optional

from lwr.managers import status

from . import BaseJobExec, JobStatus, SchedulerCommandError, UNKNOWN, lookup_state, signal_name

__all__ = ["Slurm", "SQUEUE_CODES", "SLURM_STATES", "parse_squeue", "parse_scontrol", "parse_sacct",
           "slurm_final_status"]

log = logging.getLogger(__name__)

# squeue %t compact codes
SQUEUE_CODES = {
    "PD": status.QUEUED, "CF": status.QUEUED, "RQ": status.QUEUED, "RH": status.QUEUED,
    "RF": status.QUEUED, "RS": status.QUEUED, "RD": status.QUEUED, "S": status.QUEUED, "ST": status.QUEUED,
    "R": status.RUNNING, "CG": status.RUNNING, "SI": status.RUNNING, "SO": status.RUNNING,
    "CD": status.COMPLETE,
    "CA": status.CANCELLED, "RV": status.CANCELLED,
    "F": status.FAILED, "TO": status.FAILED, "OOM": status.FAILED, "NF": status.FAILED,
    "BF": status.FAILED, "DL": status.FAILED, "PR": status.FAILED, "SE": status.FAILED,
}

# full state names used by scontrol / sacct
SLURM_STATES = {
    "PENDING": status.QUEUED, "CONFIGURING": status.QUEUED, "REQUEUED": status.QUEUED,
    "REQUEUE_HOLD": status.QUEUED, "REQUEUE_FED": status.QUEUED, "RESIZING": status.QUEUED,
    "RESV_DEL_HOLD": status.QUEUED, "SUSPENDED": status.QUEUED, "STOPPED": status.QUEUED,
    "RUNNING": status.RUNNING, "COMPLETING": status.RUNNING, "SIGNALING": status.RUNNING,
    "STAGE_OUT": status.RUNNING,
    "COMPLETED": status.COMPLETE,
    "CANCELLED": status.CANCELLED, "REVOKED": status.CANCELLED,
    "FAILED": status.FAILED, "TIMEOUT": status.FAILED, "OUT_OF_MEMORY": status.FAILED,
    "NODE_FAIL": status.FAILED, "BOOT_FAIL": status.FAILED, "DEADLINE": status.FAILED,
    "PREEMPTED": status.FAILED, "SPECIAL_EXIT": status.FAILED,
}

# Why a terminal state means the scheduler, not the tool, ended the job.
SLURM_FAILURE_REASONS = {
    "TIMEOUT": "walltime limit exceeded",
    "OUT_OF_MEMORY": "memory limit exceeded",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "node boot failure",
    "DEADLINE": "deadline reached",
    "PREEMPTED": "preempted",
    "SPECIAL_EXIT": "special exit",
}

_INVALID_ID = "Invalid job id"
_FIELD_RE = {name: re.compile(r"(?:^|\s)%s=(\S*)" % name) for name in ("JobId", "JobState", "Reason", "ExitCode")}


def parse_squeue(output: str) -> Dict[str, str]:
    """``squeue -o "%A %t"`` output (header optional) -> {job id: compact state code}."""
    codes = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] != "JOBID":
            codes[fields[0]] = fields[1]
    return codes


def _exit_code(text: Optional[str]):
    """``"3:0"`` -> (3, 0); anything else -> (None, None)."""
    if not text:
        return None, None
    code, _, sig = text.partition(":")
    try:
        return int(code), int(sig or 0)
    except ValueError:
        return None, None


def slurm_final_status(state_name: str, exit_code_text: Optional[str], reason: Optional[str] = None) -> JobStatus:
    """A JobStatus from a Slurm state name plus ``ExitCode=<code>:<signal>``."""
    name = state_name.split()[0].rstrip("+") if state_name.strip() else ""  # "CANCELLED by 0"
    state = lookup_state(SLURM_STATES, name, "Slurm")
    if not status.is_job_done(state):
        return JobStatus(state)
    code, sig = _exit_code(exit_code_text)
    detail = "Slurm %s" % name + (" (%s)" % reason if reason and reason != "None" else "")
    if state == status.COMPLETE:
        return JobStatus(status.COMPLETE, code)
    if state == status.CANCELLED:
        return JobStatus(status.CANCELLED, None, "cancelled (%s)" % detail)
    if name in SLURM_FAILURE_REASONS:
        return JobStatus(status.FAILED, None, "%s (%s)" % (SLURM_FAILURE_REASONS[name], detail))
    if name == "FAILED" and sig == 0 and code:
        # the batch script itself exited non-zero: a normal end with that exit code
        return JobStatus(status.COMPLETE, code)
    if sig:
        return JobStatus(status.FAILED, None, "killed by %s (%s)" % (signal_name(sig), detail))
    return JobStatus(status.FAILED, None, detail)


def parse_scontrol(output: str, job_id: Optional[str] = None) -> Optional[JobStatus]:
    """``scontrol -o show job ID`` output -> JobStatus (None if the job is not in it)."""
    for line in output.splitlines():
        fields = {name: (m.group(1) if m else None) for name, regex in _FIELD_RE.items()
                  for m in [regex.search(line)]}
        if not fields["JobState"] or (job_id is not None and fields["JobId"] != str(job_id)):
            continue
        return slurm_final_status(fields["JobState"], fields["ExitCode"], fields["Reason"])
    return None


def parse_sacct(output: str, job_id: str) -> Optional[JobStatus]:
    """``sacct -c -n -P -o JobID,State,ExitCode -j ID`` output -> JobStatus (None if absent)."""
    found = None
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) >= 3 and fields[0] == str(job_id):
            found = fields  # the completion log may hold a requeued job twice: the last one wins
    if found is None:
        return None
    return slurm_final_status(found[1], found[2])


class Slurm(BaseJobExec):
    scheduler_name = "Slurm"
    submit_command = "sbatch"
    cancel_command = "scancel"
    header_prefix = "#SBATCH"
    parameter_flags = {
        "time": "-t", "ncpus": "-c", "partition": "-p", "mem": "--mem", "mem_per_cpu": "--mem-per-cpu",
        "nodes": "-N", "ntasks": "-n", "account": "-A", "qos": "--qos", "constraint": "-C", "gres": "--gres",
    }

    def headers(self, ofile: str, efile: str, job_name: str) -> List[str]:
        lines = ["-o %s" % ofile, "-e %s" % efile, "-J %s" % job_name] + self.extra_flags
        return ["#SBATCH %s" % line for line in lines]

    def get_single_status(self, job_id: str) -> List[str]:
        return ["squeue", "-a", "-o", "%A %t", "-j", str(job_id)]

    def get_status(self, job_ids: Optional[Iterable[str]] = None) -> List[str]:
        cmd = ["squeue", "-a", "-o", "%A %t"]
        if job_ids:
            cmd += ["-j", ",".join(str(j) for j in job_ids)]
        return cmd

    def scontrol_command(self, job_id: str) -> List[str]:
        return ["scontrol", "-o", "show", "job", str(job_id)]

    def sacct_command(self, job_id: str) -> List[str]:
        return ["sacct", "-c", "-n", "-P", "-o", "JobID,State,ExitCode", "-j", str(job_id)]

    def parse_single_status(self, output: str, job_id: str) -> JobStatus:
        """squeue output only: a job it does not list is COMPLETE with an unknown exit code."""
        code = parse_squeue(output).get(str(job_id))
        if code is None:
            return JobStatus(status.COMPLETE)
        return JobStatus(lookup_state(SQUEUE_CODES, code, "Slurm"))

    def parse_status(self, output: str, job_ids: Iterable[str]) -> Dict[str, JobStatus]:
        codes = parse_squeue(output)
        return {str(j): JobStatus(lookup_state(SQUEUE_CODES, codes[str(j)], "Slurm"))
                for j in job_ids if str(j) in codes}

    def job_status(self, shell, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        job_id = str(job_id)
        cmd = self.get_single_status(job_id)
        result = shell.execute(cmd, timeout=timeout)
        if result.returncode == 0:
            code = parse_squeue(result.stdout).get(job_id)
            if code is not None:
                state = lookup_state(SQUEUE_CODES, code, "Slurm")
                if state in (status.QUEUED, status.RUNNING, UNKNOWN):
                    return JobStatus(state)
        elif _INVALID_ID not in result.stderr:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
        # finished or forgotten by squeue: scontrol has the exit code for MinJobAge seconds
        cmd = self.scontrol_command(job_id)
        result = shell.execute(cmd, timeout=timeout)
        if result.returncode == 0:
            found = parse_scontrol(result.stdout, job_id)
            if found is not None:
                return found
        elif _INVALID_ID not in result.stderr:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
        cmd = self.sacct_command(job_id)
        result = shell.execute(cmd, timeout=timeout)
        if result.returncode != 0:
            # e.g. no jobcomp log configured: Slurm simply cannot tell any more
            return JobStatus(status.LOST, None, "Slurm no longer knows job %s (sacct -c: %s)"
                             % (job_id, result.stderr.strip() or result.returncode))
        found = parse_sacct(result.stdout, job_id)
        if found is not None:
            return found
        return JobStatus(status.LOST, None, "Slurm no longer knows job %s" % job_id)
