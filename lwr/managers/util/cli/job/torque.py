"""Torque/PBS: ``qsub`` / ``qdel`` / ``qstat -f``.

LWR 0.2.0 matched ``job_state = X`` without stripping the indentation ``qstat -f`` puts before
every attribute, so no line ever matched and every job read complete; here keys are stripped.
"""
import re
from typing import Dict, Iterable, List, Optional

from lwr.managers import status

from . import BaseJobExec, JobStatus, SchedulerCommandError, lookup_state, signal_name

__all__ = ["Torque", "parse_qstat_f", "torque_job_status", "TORQUE_STATES"]

TORQUE_STATES = {
    "Q": status.QUEUED, "H": status.QUEUED, "W": status.QUEUED, "T": status.QUEUED,
    "S": status.QUEUED, "M": status.QUEUED, "U": status.QUEUED,
    "R": status.RUNNING, "E": status.RUNNING, "B": status.RUNNING,
    # C = completed (Torque), F = finished (PBS Pro), X = finished subjob (PBS Pro)
    "C": status.COMPLETE, "F": status.COMPLETE, "X": status.COMPLETE,
}

# Torque's negative exit_status values (JOB_EXEC_* in pbs_job.h) that mean "killed for a limit".
TORQUE_LIMIT_EXITS = {
    -10: "memory limit exceeded",
    -11: "walltime limit exceeded",
    -12: "cpu time limit exceeded",
}

_JOB_ID_RE = re.compile(r"^Job Id:\s*(\S+)")


def _short_id(job_id: str) -> str:
    # qsub prints "123.server"; qstat -f may say "123.server.domain"
    return str(job_id).split(".", 1)[0]


def parse_qstat_f(output: str) -> Dict[str, Dict[str, str]]:
    """``qstat -f`` output -> {job id: {attribute: value}} (keys stripped of indentation)."""
    jobs: Dict[str, Dict[str, str]] = {}
    current: Optional[Dict[str, str]] = None
    last_key = None
    for line in output.splitlines():
        match = _JOB_ID_RE.match(line)
        if match:
            current = jobs.setdefault(match.group(1), {})
            last_key = None
            continue
        if current is None or not line.strip():
            continue
        if " = " in line:
            key, value = line.split(" = ", 1)
            last_key = key.strip()
            current[last_key] = value.strip()
        elif last_key is not None and line[:1] == "\t":
            # long values are wrapped onto tab-indented continuation lines
            current[last_key] += line.strip()
    return jobs


def torque_job_status(attributes: Dict[str, str]) -> JobStatus:
    """One job's ``qstat -f`` attributes -> JobStatus."""
    code = attributes.get("job_state")
    if code is None:
        return JobStatus(status.LOST, None, "qstat -f shows no job_state")
    state = lookup_state(TORQUE_STATES, code, "Torque")
    if state != status.COMPLETE:
        return JobStatus(state)
    raw_exit = attributes.get("exit_status", attributes.get("Exit_status"))
    if raw_exit is None:  # Slurm's wrappers never print it; the job's exit-code file decides
        return JobStatus(status.COMPLETE)
    try:
        exit_status = int(raw_exit)
    except ValueError:
        return JobStatus(status.COMPLETE)
    if exit_status in TORQUE_LIMIT_EXITS:
        return JobStatus(status.FAILED, None, "%s (Torque exit_status %d)" % (TORQUE_LIMIT_EXITS[exit_status], exit_status))
    if exit_status < 0:
        return JobStatus(status.FAILED, None, "Torque could not run the job (exit_status %d)" % exit_status)
    if exit_status > 256:
        sig = exit_status - 256
        return JobStatus(status.FAILED, None, "killed by %s (Torque exit_status %d)" % (signal_name(sig), exit_status))
    return JobStatus(status.COMPLETE, exit_status)


class Torque(BaseJobExec):
    scheduler_name = "Torque"
    submit_command = "qsub"
    cancel_command = "qdel"
    header_prefix = "#PBS"
    parameter_flags = {
        "destination": "-q", "execution_time": "-a", "account_name": "-A", "checkpoint": "-c",
        "error_path": "-e", "group_list": "-g", "hold_types": "-h", "join_paths": "-j",
        "keep_files": "-k", "resource_list": "-l", "mail_points": "-m", "mail_users": "-M",
        "job_name": "-N", "output_path": "-o", "priority": "-p", "rerunable": "-r",
        "shell_path_list": "-S", "job_array_request": "-t", "user_list": "-u", "variable_list": "-v",
    }

    def headers(self, ofile: str, efile: str, job_name: str) -> List[str]:
        lines = ["-o %s" % ofile, "-e %s" % efile, "-N %s" % job_name] + self.extra_flags
        return ["#PBS %s" % line for line in lines]

    def submit(self, script_file: str, ofile: Optional[str] = None, efile: Optional[str] = None,
               job_name: Optional[str] = None) -> List[str]:
        # Slurm's qsub wrapper ignores #PBS -o/-e in the script; real qsub accepts both places.
        cmd = [self.submit_command]
        if ofile:
            cmd += ["-o", ofile]
        if efile:
            cmd += ["-e", efile]
        if job_name:
            cmd += ["-N", job_name]
        return cmd + [script_file]

    def get_single_status(self, job_id: str) -> List[str]:
        return ["qstat", "-f", str(job_id)]

    def get_status(self, job_ids: Optional[Iterable[str]] = None) -> List[str]:
        return ["qstat", "-f"]

    def parse_single_status(self, output: str, job_id: str) -> JobStatus:
        return self.parse_status(output, [job_id]).get(str(job_id), JobStatus(status.LOST, None, "qstat does not list job %s" % job_id))

    def parse_status(self, output: str, job_ids: Iterable[str]) -> Dict[str, JobStatus]:
        by_short = {_short_id(k): v for k, v in parse_qstat_f(output).items()}
        result = {}
        for job_id in job_ids:
            attributes = by_short.get(_short_id(job_id))
            if attributes is not None:
                result[str(job_id)] = torque_job_status(attributes)
        return result

    def job_status(self, shell, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        cmd = self.get_single_status(job_id)
        result = shell.execute(cmd, timeout=timeout)
        if result.returncode == 153 or "Unknown Job" in result.stderr:
            return JobStatus(status.LOST, None, "%s no longer knows job %s" % (self.scheduler_name, job_id))
        if result.returncode != 0:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
        return self.parse_single_status(result.stdout, job_id)
