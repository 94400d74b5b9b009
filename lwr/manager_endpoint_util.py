"""Shared by the HTTP routes and the message queue: submitting a job and describing its status."""
import logging

import lwr
from lwr.managers import status as manager_status
from lwr.managers.staging import realized_dynamic_file_sources
from lwr.managers.stateful import UnknownJob

__all__ = ["submit_job", "full_status", "status_dict", "lost_status", "SubmitRefused"]

log = logging.getLogger(__name__)

#: Tokens a client may put in a command line that LWR replaces when it sets the job up inside
#: ``submit`` (``setup_params``): the staging directory (Pulsar <= 0.15.13) and the job directory.
JOBS_DIRECTORY_TOKEN = "__PULSAR_JOBS_DIRECTORY__"
JOB_DIRECTORY_TOKEN = "__PULSAR_JOB_DIRECTORY__"


class SubmitRefused(ValueError):
    """A submit parameter LWR cannot honour (the message says which and why)."""


def status_dict(manager, job_id):
    """The status of ``job_id``; a job LWR has no directory for is ``lost`` (as in Pulsar)."""
    if not manager.job_directory(job_id).exists():
        return lost_status(job_id)
    try:
        job_status = manager.get_status(job_id)
    except UnknownJob:  # cleaned while we looked
        return lost_status(job_id)
    return full_status(manager, job_status, job_id)


def lost_status(job_id):
    reason = "LWR has no job %s (it was never set up here, or its directory was removed)" % job_id
    return {"job_id": job_id, "complete": "true", "status": manager_status.LOST, "returncode": None,
            "stdout": "", "stderr": reason, "failure_reason": reason, "pulsar_version": lwr.PULSAR_VERSION}


def full_status(manager, job_status, job_id):
    """The status response of spec §5 / pulsar-delta §2.6 (full form for every terminal state)."""
    if not manager_status.is_job_done(job_status):
        return {"complete": "false", "status": job_status, "job_id": job_id}
    try:
        return _done_status(manager, job_status, job_id)
    except Exception:
        if job_status == manager_status.COMPLETE:
            raise
        # A job that failed before it could run may have nothing readable: still say it failed.
        log.exception("job %s: collecting the details of its %s status failed", job_id, job_status)
        return {"job_id": job_id, "complete": "true", "status": job_status, "returncode": None,
                "pulsar_version": lwr.PULSAR_VERSION}


def _done_status(manager, job_status, job_id):
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
        "job_stdout": manager.job_stdout_contents(job_id),
        "job_stderr": manager.job_stderr_contents(job_id),
        "working_directory": job_directory.working_directory(),
        "metadata_directory": job_directory.metadata_directory(),
        "job_directory": job_directory.path,
        "working_directory_contents": job_directory.working_directory_contents(),
        "outputs_directory_contents": job_directory.outputs_directory_contents(),
        "metadata_directory_contents": job_directory.metadata_directory_contents(),
        "job_directory_contents": job_directory.job_directory_contents(),
        "system_properties": manager.system_properties(),
        "pulsar_version": lwr.PULSAR_VERSION,
        "realized_dynamic_file_sources": realized_dynamic_file_sources(job_directory),
    }
    if reason:
        response["failure_reason"] = reason
    return response


def submit_job(manager, job_config):
    """Launch a job from a submit description (HTTP query parameters or an MQ ``setup`` message).

    Keys: ``job_id``, ``command_line``, ``setup_params``, ``submit_params``,
    ``dependencies_description``, ``env``, ``remote_staging``, and from current Pulsar clients
    ``touch_outputs`` (from ``submit_extras``), ``dynamic_file_sources``, ``token_endpoint``,
    ``cvmfsexec``.
    """
    job_id = job_config.get("job_id")
    setup_params = job_config.get("setup_params") or {}
    command_line = job_config.get("command_line")
    if job_config.get("cvmfsexec") is not None:
        # Running the job without the CVMFS mounts it asks for would fail it later, obscurely.
        raise SubmitRefused("cvmfsexec is not supported by LWR; remove it from the destination")
    if job_config.get("token_endpoint"):
        log.debug("job %s: token_endpoint accepted and not used (LWR has no OIDC user "
                  "authentication)", job_id)
    if setup_params:
        # The client laid out the job itself (jobs_directory): set it up now, inside submit.
        job_id = manager.setup_job(setup_params.get("job_id", job_id), setup_params.get("tool_id"),
                                   setup_params.get("tool_version"),
                                   use_metadata=bool(setup_params.get("use_metadata")),
                                   preserve_galaxy_python_environment=bool(
                                       setup_params.get("preserve_galaxy_python_environment")))
        job_directory = manager.job_directory(job_id)
        if isinstance(command_line, str):
            command_line = command_line.replace(JOBS_DIRECTORY_TOKEN, job_directory.staging_directory)
            command_line = command_line.replace(JOB_DIRECTORY_TOKEN, job_directory.path)
    try:
        # A restricted server refuses here, before anything of the submission is stored.
        manager.authorize_submission(job_id, dict(job_config, job_id=job_id, command_line=command_line))
    except Exception:
        if setup_params:
            manager.job_directory(job_id).delete()  # the setup made for this submit goes too
        raise
    touch_outputs = _name_list(job_config.get("touch_outputs") or [])
    dynamic_file_sources = _dynamic_file_sources(job_config.get("dynamic_file_sources"))
    remote_staging = job_config.get("remote_staging") or {}
    if remote_staging:
        manager.handle_remote_staging(job_id, remote_staging)
    manager.launch(job_id, command_line, job_config.get("submit_params") or {},
                   dependencies_description=job_config.get("dependencies_description"),
                   env=job_config.get("env") or [],
                   touch_outputs=touch_outputs, dynamic_file_sources=dynamic_file_sources,
                   token_endpoint=job_config.get("token_endpoint"))


def _name_list(names):
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise SubmitRefused("touch_outputs must be a list of file names, not %r" % (names,))
    return names


def _dynamic_file_sources(sources):
    """``None`` or a list of ``{"path": <name in working/>, "type": "galaxy"|"legacy_galaxy"}``."""
    if sources is None:
        return None
    if not isinstance(sources, list) or not all(
            isinstance(source, dict) and isinstance(source.get("path"), str) for source in sources):
        raise SubmitRefused("dynamic_file_sources must be a list of objects with a 'path', not %r"
                            % (sources,))
    return sources
