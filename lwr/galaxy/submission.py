"""Turning a prepared Galaxy job into an LWR ``ClientJobDescription`` (and back: streams, outputs).

Imports Galaxy; only :mod:`lwr.galaxy.runner` imports this module.
"""
import logging
import os
from typing import NamedTuple, Optional

from galaxy.jobs.command_factory import build_command

from lwr.galaxy import params as lwr_params
from lwr.galaxy.compute_environment import LwrComputeEnvironment
from lwr.lwr_client import ClientJobDescription, ClientOutputs

__all__ = ["Submission", "prepare_submission", "client_outputs", "read_streams", "TOOL_STREAMS"]

log = logging.getLogger(__name__)

#: The command writes the tool's streams to ``../outputs/<name>`` (relative to the LWR
#: working directory); they come back as outputs into Galaxy's ``<job dir>/outputs``.
TOOL_STREAMS = ("tool_stdout", "tool_stderr")


class Submission(NamedTuple):
    description: ClientJobDescription
    remote_job_config: dict


def prepare_submission(runner, job_wrapper, client) -> Optional[Submission]:
    """Set the job up on the LWR, let Galaxy prepare it, build the command; None if Galaxy said stop."""
    destination_params = client.destination_params
    dependency_resolution = lwr_params.dependency_resolution(destination_params)
    # rewrite_parameters: Galaxy renders the command with the LWR server's paths itself, so the
    # client has no paths left to rewrite.
    galaxy_renders_remote_paths = lwr_params.rewrite_parameters(destination_params)
    tool = job_wrapper.tool
    remote_job_config = client.setup(tool.id, tool.version)
    compute_environment = None
    if galaxy_renders_remote_paths:
        compute_environment = LwrComputeEnvironment(client, job_wrapper, remote_job_config)
    if job_wrapper.prepare(compute_environment=compute_environment) is False:
        client.clean()
        return None
    remote_job_directory = remote_job_config.get("job_directory") or _parent(remote_job_config)
    command_line = build_command(
        runner,
        job_wrapper,
        include_metadata=False,
        include_work_dir_outputs=False,
        create_tool_working_directory=False,
        # Only read for dependency handling: "local" prepends Galaxy's resolved commands.
        remote_command_params={"dependency_resolution": dependency_resolution},
        remote_job_directory=remote_job_directory,
    )
    config_files = list(job_wrapper.extra_filenames)
    tool_script = os.path.join(job_wrapper.working_directory, "tool_script.sh")
    if os.path.exists(tool_script) and tool_script not in config_files:
        config_files.append(tool_script)
        if galaxy_renders_remote_paths:
            # Without client-side rewriting nothing else points the command at the staged script.
            remote_configs = remote_job_config.get("configs_directory") or remote_job_config["working_directory"]
            command_line = command_line.replace(tool_script, _remote_join(remote_job_config, remote_configs,
                                                                          "tool_script.sh"))
    env = list(getattr(job_wrapper.job_destination, "env", None) or [])
    env.extend(job_wrapper.environment_variables or [])
    env, directories = _job_directories_in_env([_env_entry(entry) for entry in env], remote_job_config,
                                               remote_job_directory)
    if directories:
        command_line = "mkdir -p %s; %s" % (" ".join("'%s'" % path for path in directories), command_line)
    description = ClientJobDescription(
        tool=tool,
        command_line=command_line,
        config_files=config_files,
        input_files=[str(path) for path in job_wrapper.job_io.get_input_paths(None)],
        client_outputs=client_outputs(runner, job_wrapper),
        working_directory=job_wrapper.tool_working_directory,
        dependencies_description=_dependencies_description(tool) if dependency_resolution == "remote" else None,
        env=env,
        arbitrary_files=compute_environment.arbitrary_files if compute_environment else None,
        rewrite_paths=not galaxy_renders_remote_paths,
    )
    return Submission(description, remote_job_config)


def client_outputs(runner, job_wrapper) -> ClientOutputs:
    """The files Galaxy wants back (datasets, ``from_work_dir`` outputs, tool streams, version)."""
    output_files = [str(path) for path in job_wrapper.job_io.get_output_fnames()]
    outputs_directory = os.path.join(job_wrapper.working_directory, "outputs")
    output_files.extend(os.path.join(outputs_directory, name) for name in TOOL_STREAMS)
    return ClientOutputs(
        working_directory=job_wrapper.tool_working_directory,
        output_files=output_files,
        work_dir_outputs=runner.get_work_dir_outputs(job_wrapper),
        version_file=job_wrapper.get_version_string_path(),
    )


def read_streams(job_wrapper, status: dict, limit: int):
    """``(tool_stdout, tool_stderr, job_stdout, job_stderr)`` of a finished LWR job.

    The tool's own streams are the files the command wrote; the job's streams are
    what the LWR captured around it (where a failure reason also lands).  If the
    tool never ran, the LWR's streams stand in for the tool's.
    """
    job_stdout = status.get("stdout") or ""
    job_stderr = status.get("stderr") or ""
    outputs_directory = os.path.join(job_wrapper.working_directory, "outputs")
    tool = [_read_text(os.path.join(outputs_directory, name), limit) for name in TOOL_STREAMS]
    if tool[0] is None and tool[1] is None:
        return job_stdout[-limit:], job_stderr[-limit:], None, None
    return tool[0] or "", tool[1] or "", job_stdout[-limit:], job_stderr[-limit:]


def _read_text(path, limit) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                handle.seek(size - limit)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _parent(remote_job_config) -> str:
    working = remote_job_config["working_directory"]
    separator = (remote_job_config.get("system_properties") or {}).get("separator") or os.sep
    return working.rstrip(separator).rpartition(separator)[0]


def _remote_join(remote_job_config, directory, name) -> str:
    separator = (remote_job_config.get("system_properties") or {}).get("separator") or os.sep
    return directory.rstrip(separator) + separator + name


#: Variables Galaxy's own job script defines (Pulsar's too); the LWR's does not.
_JOB_DIRECTORY_VARIABLES = {"$_GALAXY_JOB_HOME_DIR": "home", "$_GALAXY_JOB_TMP_DIR": "tmp"}


def _job_directories_in_env(env, remote_job_config, remote_job_directory):
    """Point ``HOME``/``TMPDIR``-style entries at directories inside the LWR job directory."""
    directories = []
    for entry in env:
        value = entry.get("value")
        if not isinstance(value, str):
            continue
        for variable, name in _JOB_DIRECTORY_VARIABLES.items():
            if variable in value:
                path = _remote_join(remote_job_config, remote_job_directory, name)
                value = value.replace(variable, path)
                if path not in directories:
                    directories.append(path)
        entry["value"] = value
    return env, directories


def _env_entry(entry) -> dict:
    return {key: value for key, value in dict(entry).items() if key in ("name", "value", "raw", "file", "execute")}


def _dependencies_description(tool) -> dict:
    requirements = []
    for requirement in getattr(tool, "requirements", None) or []:
        to_dict = getattr(requirement, "to_dict", None)
        requirements.append(to_dict() if to_dict else {"name": requirement.name, "type": requirement.type,
                                                       "version": requirement.version})
    installed = []
    for dependency in getattr(tool, "installed_tool_dependencies", None) or []:
        installed.append({"name": dependency.name, "version": dependency.version, "type": dependency.type})
    return {"requirements": requirements, "installed_tool_dependencies": installed}
