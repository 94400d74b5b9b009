"""What every job manager shares: job directories, ids, authorization, the job script (spec §3.2)."""
import logging
import os
import uuid

from lwr.managers import status
from lwr.managers.base import reaper
from lwr.managers.base.directory import JobDirectory
from lwr.managers.util.job_script import job_script
from lwr.util import asbool

__all__ = ["BaseManager", "ManagerError", "UNKNOWN_RETURN_CODE"]

log = logging.getLogger(__name__)

UNKNOWN_RETURN_CODE = "__unknown__"
JOB_SCRIPT_NAME = "command.sh"


class ManagerError(Exception):
    """A manager could not do what was asked; the message is shown to the client."""


class BaseManager:
    """Base of all managers.  ``kwds`` are the manager's ini options (strings)."""

    manager_type = None

    def __init__(self, name: str, app, **kwds):
        self.name = name
        self.app = app
        self.staging_directory = os.path.abspath(app.staging_directory)
        os.makedirs(self.staging_directory, exist_ok=True)
        reaper.sweep(self.staging_directory)
        self.lock_manager = app.lock_manager
        self.authorizer = app.authorizer
        self.dependency_manager = app.dependency_manager
        self.job_metrics = getattr(app, "job_metrics", None)
        self.debug = asbool(kwds.get("debug"), False)
        self.assign_ids = kwds.get("assign_ids") or "galaxy"
        self.galaxy_home = kwds.get("galaxy_home") or os.environ.get("GALAXY_HOME")
        self.galaxy_options = {k: kwds[k] for k in ("galaxy_config_file", "galaxy_dataset_files_path",
                                                    "galaxy_datatypes_config_file") if kwds.get(k)}
        # ini keys are read case-preserving so env_NAME keeps NAME's case.
        self.env_vars = [{"name": k[len("env_"):], "value": v, "raw": False}
                         for k, v in kwds.items() if k.lower().startswith("env_")]

    # -- directories and ids ------------------------------------------------------------------
    def job_directory(self, job_id: str) -> JobDirectory:
        return JobDirectory(self.staging_directory, job_id, self.lock_manager)

    def _get_job_id(self, input_job_id) -> str:
        if self.assign_ids == "uuid":
            return uuid.uuid4().hex
        return str(input_job_id)

    def setup_job(self, input_job_id, tool_id, tool_version) -> str:
        job_id = self._get_job_id(input_job_id)
        job_directory = self.job_directory(job_id)
        job_directory.setup()
        try:
            self.authorizer.get_authorization(tool_id).authorize_setup()
            job_directory.store_metadata("tool_id", tool_id or "")
            job_directory.store_metadata("tool_version", tool_version or "")
        except BaseException:
            # Refused, or the disk filled up: leave no half-made job behind (it would read
            # "preprocessing" forever); the client gets the error and the id stays free.
            job_directory.delete()
            raise
        return job_id

    def clean(self, job_id: str) -> None:
        if self.debug:
            return
        job_directory = self.job_directory(job_id)
        job_directory.delete()
        self.lock_manager.forget(job_directory.path + os.sep)

    def system_properties(self) -> dict:
        properties = {"separator": os.sep}
        if self.galaxy_home:
            properties["galaxy_home"] = self.galaxy_home
        properties.update(self.galaxy_options)
        return properties

    # -- job results --------------------------------------------------------------------------
    def return_code(self, job_id: str):
        value = self.job_directory(job_id).read_text("return_code", "").strip()
        try:
            return int(value)
        except ValueError:
            return UNKNOWN_RETURN_CODE

    def stdout_contents(self, job_id: str) -> str:
        return self.job_directory(job_id).read_text("stdout")

    def stderr_contents(self, job_id: str) -> str:
        return self.job_directory(job_id).read_text("stderr")

    # -- launching ----------------------------------------------------------------------------
    def _check_execution(self, job_directory: JobDirectory, command_line: str) -> None:
        """Tool-based authorization of staged tool files, configs and the raw command line."""
        tool_id = job_directory.load_metadata("tool_id", "")
        authorization = self.authorizer.get_authorization(tool_id)
        tool_dir = job_directory.tool_files_directory()
        for name in sorted(os.listdir(tool_dir)) if os.path.isdir(tool_dir) else []:
            with open(os.path.join(tool_dir, name), "rb") as handle:
                authorization.authorize_tool_file(name, handle.read())
        config_dir = job_directory.configs_directory()
        for name in sorted(os.listdir(config_dir)) if os.path.isdir(config_dir) else []:
            authorization.authorize_config_file(job_directory, name, os.path.join(config_dir, name))
        authorization.authorize_execution(job_directory, command_line)

    def _expand_command_line(self, command_line: str, dependencies_description) -> str:
        if not dependencies_description:
            return command_line
        commands = self.dependency_manager.shell_commands(dependencies_description)
        return "; ".join(list(commands) + [command_line]) if commands else command_line

    def _galaxy_lib(self):
        if self.galaxy_home and str(self.galaxy_home).lower() != "none":
            return os.path.join(self.galaxy_home, "lib")
        return None

    def _write_job_script(self, job_id: str, command_line: str, dependencies_description=None,
                          env=(), headers: str = "") -> str:
        """Authorize, expand dependencies, write ``command.sh`` (mode 0700) and return its path."""
        job_directory = self.job_directory(job_id)
        self._check_execution(job_directory, command_line)
        command = self._expand_command_line(command_line, dependencies_description)
        pre, post = ("", "")
        if self.job_metrics is not None:
            pre, post = self.job_metrics.commands(job_directory.working_directory())
        script = job_script(
            working_directory=job_directory.working_directory(),
            command=command,
            exit_code_path=os.path.join(job_directory.path, "return_code"),
            start_marker_path=os.path.join(job_directory.path, "job_started"),
            headers=headers,
            env=list(env or []) + self.env_vars,
            galaxy_lib=self._galaxy_lib(),
            instrument_pre_commands=pre,
            instrument_post_commands=post,
        )
        path = os.path.join(job_directory.path, JOB_SCRIPT_NAME)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(script)
        os.chmod(path, 0o700)
        return path

    # -- hooks for the stateful proxy ---------------------------------------------------------
    def _recover_active_job(self, job_id: str) -> None:
        """Re-attach to an active job after a restart (managers override)."""

    def _deactivate_job(self, job_id: str) -> None:
        """Forget in-memory state of a finished job (managers override)."""

    def shutdown(self, timeout=None) -> None:
        """Stop background threads (managers override)."""

    def get_status(self, job_id: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def launch(self, job_id, command_line, submit_params=None, dependencies_description=None, env=(),
               setup_params=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def kill(self, job_id: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def failure_reason(self, job_id: str):
        """Why a job ended ``failed`` (external managers report walltime / memory kills)."""
        return None


_ = status  # re-exported for subclasses' convenience
