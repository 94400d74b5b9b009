"""Shared by the HTTP routes and the message queue: submitting a job and describing its status."""
import logging

from lwr.managers import status as manager_status

__all__ = ["submit_job", "full_status"]

log = logging.getLogger(__name__)


def full_status(manager, job_status, job_id):
    """The status response of spec §5 (full form for every terminal state)."""
    if not manager_status.is_job_done(job_status):
        return {"complete": "false", "status": job_status, "job_id": job_id}
    job_directory = manager.job_directory(job_id)
    return_code = manager.return_code(job_id)
    stderr = manager.stderr_contents(job_id)
    reason = manager.failure_reason(job_id) if job_status in (manager_status.FAILED,
                                                               manager_status.LOST) else None
    if reason:
        stderr = stderr + ("" if not stderr or stderr.endswith("\n") else "\n") + reason
    response = {
        "job_id": job_id,
        "complete": "true",
        "status": job_status,
        "returncode": None if return_code == "__unknown__" else return_code,
        "stdout": manager.stdout_contents(job_id),
        "stderr": stderr,
        "working_directory": job_directory.working_directory(),
        "working_directory_contents": job_directory.working_directory_contents(),
        "outputs_directory_contents": job_directory.outputs_directory_contents(),
        "metadata_directory": job_directory.metadata_directory(),
        "metadata_directory_contents": job_directory.metadata_directory_contents(),
        "system_properties": manager.system_properties(),
    }
    if reason:
        response["failure_reason"] = reason
    return response


def submit_job(manager, job_config):
    """Launch a job from a submit description (HTTP query parameters or an MQ ``setup`` message)."""
    job_id = job_config.get("job_id")
    setup_params = job_config.get("setup_params") or {}
    if setup_params:
        # The client laid out the job itself (jobs_directory): set it up now, inside submit.
        manager.setup_job(setup_params.get("job_id", job_id), setup_params.get("tool_id"),
                          setup_params.get("tool_version"))
    remote_staging = job_config.get("remote_staging") or {}
    if remote_staging:
        manager.handle_remote_staging(job_id, remote_staging)
    manager.launch(job_id, job_config.get("command_line"), job_config.get("submit_params") or {},
                   dependencies_description=job_config.get("dependencies_description"),
                   env=job_config.get("env") or [])
