"""What every job manager shares: job directories, ids, authorization, the job script (spec §3.2)."""
import logging
import os
import shlex
import uuid

from lwr.managers import ManagerInterface, status
from lwr.managers.base.directory import JOB_STDERR, JOB_STDOUT, TOOL_STDERR, TOOL_STDOUT, JobDirectory
from lwr.managers.job_state import MANAGER, JobState
from lwr.managers.job_state import facts as F
from lwr.lifecycle import Threads
from lwr.managers.util.job_script import job_script
from lwr.util import asbool

__all__ = ["BaseManager", "ManagerError", "UNKNOWN_RETURN_CODE"]

log = logging.getLogger(__name__)

UNKNOWN_RETURN_CODE = "__unknown__"
JOB_SCRIPT_NAME = "command.sh"
#: Streams in status responses keep at most this many bytes (head and tail), as Pulsar's do.
MAXIMUM_STREAM_SIZE = 64 * 1024
#: Job fact written at setup: ``{"use_metadata": bool, "preserve_galaxy_python_environment": bool}``.
SETUP_OPTIONS = F.SETUP_OPTIONS


class ManagerError(Exception):
    """A manager could not do what was asked; the message is shown to the client."""


class BaseManager(ManagerInterface):
    """Base of all managers.  ``kwds`` are the manager's ini options (strings)."""

    manager_type = None

    def __init__(self, name: str, app, **kwds):
        self.name = name
        self.app = app
        self.staging_directory = os.path.abspath(app.staging_directory)
        os.makedirs(self.staging_directory, exist_ok=True)
        self.lock_manager = app.lock_manager
        self.reaper = getattr(app, "reaper", None)  # the app's DirectoryReaper (lwr.managers.base.reaper)
        self.authorizer = app.authorizer
        self.dependency_manager = app.dependency_manager
        self.job_metrics = getattr(app, "job_metrics", None)
        # The app's thread owner (lwr.lifecycle); a manager built alone (tests) owns its own.
        self.threads = getattr(app, "threads", None) or Threads("manager %s" % name)
        # Told a job's id as soon as this manager sees the job end by itself (a local process
        # exiting): the stateful proxy wakes its monitor, so the end is recorded at once rather
        # than at the monitor's next interval. Managers that learn of an end only by asking a
        # scheduler leave it to the monitor's polling.
        self.on_job_end = lambda job_id: None
        self.debug = asbool(kwds.get("debug"), False)
        self.assign_ids = kwds.get("assign_ids") or "galaxy"
        self.galaxy_home = kwds.get("galaxy_home") or os.environ.get("GALAXY_HOME")
        self.galaxy_virtual_env = kwds.get("galaxy_virtual_env") or os.environ.get("GALAXY_VIRTUAL_ENV")
        self.tmp_dir = kwds.get("tmp_dir")
        self.galaxy_options = {k: kwds[k] for k in ("galaxy_config_file", "galaxy_dataset_files_path",
                                                    "galaxy_datatypes_config_file") if kwds.get(k)}
        # ini keys are read case-preserving so env_NAME keeps NAME's case.
        self.env_vars = [{"name": k[len("env_"):], "value": v, "raw": False}
                         for k, v in kwds.items() if k.lower().startswith("env_")]

    # -- directories and ids ------------------------------------------------------------------
    def job_directory(self, job_id: str) -> JobDirectory:
        return JobDirectory(self.staging_directory, job_id, self.lock_manager, self.reaper)

    def job_state(self, job_id: str) -> JobState:
        """The job's facts as this manager may write them (lwr.managers.job_state)."""
        return self.job_directory(job_id).state(MANAGER, self.name)

    def _get_job_id(self, input_job_id) -> str:
        if self.assign_ids == "uuid":
            return uuid.uuid4().hex
        return str(input_job_id)

    def setup_job(self, input_job_id, tool_id, tool_version, use_metadata=False,
                  preserve_galaxy_python_environment=False) -> str:
        """Create the job directory.  ``use_metadata`` (sent by every current Pulsar client)
        marks a job whose client collects ``metadata/``: job metrics are written there;
        ``preserve_galaxy_python_environment`` puts Galaxy's library on the tool's PYTHONPATH."""
        job_id = self._get_job_id(input_job_id)
        job_directory = self.job_directory(job_id)
        job_directory.setup()
        try:
            self.authorizer.get_authorization(tool_id).authorize_setup()
            state = job_directory.state(MANAGER, self.name)
            state.set(F.TOOL_ID, tool_id or "")
            state.set(F.TOOL_VERSION, tool_version or "")
            state.set(F.SETUP_OPTIONS, {
                "use_metadata": bool(use_metadata),
                "preserve_galaxy_python_environment": bool(preserve_galaxy_python_environment)})
        except BaseException:
            # Refused, or the disk filled up: leave no half-made job behind (it would read
            # "preprocessing" forever); the client gets the error and the id stays free.
            job_directory.delete()
            raise
        return job_id

    def clean(self, job_id: str) -> None:
        if self.debug:
            return
        self.job_directory(job_id).delete()

    def system_properties(self) -> dict:
        properties = {"separator": os.sep}
        if self.galaxy_home:
            properties["galaxy_home"] = self.galaxy_home
        if self.galaxy_virtual_env:
            properties["galaxy_virtual_env"] = self.galaxy_virtual_env
        properties.update(self.galaxy_options)
        return properties

    # -- job results --------------------------------------------------------------------------
    def return_code(self, job_id: str):
        value = self.job_state(job_id).return_code()
        return UNKNOWN_RETURN_CODE if value is None else value

    # The status rule (docs/galaxy.rst, "Streams"): ``stdout``/``stderr`` are the tool's streams
    # when the command wrote metadata/tool_stdout or metadata/tool_stderr (Galaxy's command line
    # does, for current Pulsar clients); otherwise (0.2.0-era clients, whose command writes
    # neither) they are the job script's own streams, as LWR 0.2.0 reported them.
    def stdout_contents(self, job_id: str) -> str:
        return self._status_stream(job_id, 0)

    def stderr_contents(self, job_id: str) -> str:
        return self._status_stream(job_id, 1)

    def job_stdout_contents(self, job_id: str) -> str:
        return self._job_stream(job_id, JOB_STDOUT, "stdout")

    def job_stderr_contents(self, job_id: str) -> str:
        return self._job_stream(job_id, JOB_STDERR, "stderr")

    def _status_stream(self, job_id, index):
        job_directory = self.job_directory(job_id)
        tool_streams = [_first_stream(job_directory, (TOOL_STDOUT, "tool_stdout")),
                        _first_stream(job_directory, (TOOL_STDERR, "tool_stderr"))]
        if tool_streams != [None, None]:
            return tool_streams[index] or ""
        return (self.job_stdout_contents, self.job_stderr_contents)[index](job_id)

    def _job_stream(self, job_id, name, legacy_name):
        # legacy_name: where LWR wrote the job's streams before it followed current Pulsar
        # (jobs still running across the upgrade).
        return _first_stream(self.job_directory(job_id), (name, legacy_name)) or ""

    # -- launching ----------------------------------------------------------------------------
    def authorize_submission(self, job_id: str, job_config: dict) -> None:
        """Tool-based authorization of a whole submit request (for the tool the job was set up
        for), before any of it is stored."""
        job_directory = self.job_directory(job_id)
        tool_id = self.job_state(job_id).get(F.TOOL_ID, "")
        self.authorizer.get_authorization(tool_id).authorize_submission(job_directory, job_config)

    def _check_execution(self, job_directory: JobDirectory, command_line: str):
        """Tool-based authorization of staged tool files, configs and the raw command line."""
        tool_id = job_directory.state(MANAGER).get(F.TOOL_ID, "")
        authorization = self.authorizer.get_authorization(tool_id)
        tool_dir = job_directory.tool_files_directory()
        # Tool files may be nested (tools with required_files send e.g. subdir/helper.R).
        for name in job_directory.tool_files_contents():
            with open(os.path.join(tool_dir, name), "rb") as handle:
                authorization.authorize_tool_file(name.replace(os.sep, "/"), handle.read())
        config_dir = job_directory.configs_directory()
        for name in sorted(os.listdir(config_dir)) if os.path.isdir(config_dir) else []:
            authorization.authorize_config_file(job_directory, name, os.path.join(config_dir, name))
        authorization.authorize_execution(job_directory, command_line)
        return authorization

    def _expand_command_line(self, command_line: str, dependencies_description) -> str:
        if not dependencies_description:
            return command_line
        commands = self.dependency_manager.shell_commands(dependencies_description)
        return "; ".join(list(commands) + [command_line]) if commands else command_line

    def _galaxy_lib(self):
        if self.galaxy_home and str(self.galaxy_home).lower() != "none":
            return os.path.join(self.galaxy_home, "lib")
        return None

    @staticmethod
    def _preserve_galaxy_environment(setup_options) -> bool:
        """Galaxy's lib on the tool's PYTHONPATH: when a current client asks for it; always for
        0.2.0-era clients (no ``use_metadata`` at setup), whose LWR put it there for every job."""
        if setup_options.get("use_metadata"):
            return bool(setup_options.get("preserve_galaxy_python_environment"))
        return True

    def _tmp_directory_statement(self, job_directory) -> str:
        """Shell text naming the job's tmp directory: option ``tmp_dir`` unset or true ->
        ``<jobdir>/tmp``; false -> none; any other text is used as it is (e.g. ``$(mktemp -d)``)."""
        try:
            wanted = asbool(self.tmp_dir or "true")
        except ValueError:
            return str(self.tmp_dir)
        return shlex.quote(os.path.join(job_directory.path, "tmp")) if wanted else '""'

    def _write_job_script(self, job_id: str, command_line: str, dependencies_description=None,
                          env=(), headers: str = "") -> str:
        """Authorize, expand dependencies, write ``command.sh`` (mode 0700) and return its path."""
        job_directory = self.job_directory(job_id)
        authorization = self._check_execution(job_directory, command_line)
        authorization.authorize_dependencies(dependencies_description)
        env = authorization.authorize_env(job_directory, env)
        command = self._expand_command_line(command_line, dependencies_description)
        state = self.job_state(job_id)
        options = state.get(F.SETUP_OPTIONS) or {}
        pre, post = ("", "")
        if self.job_metrics is not None:
            # Current Galaxy reads job metrics from its metadata directory, 0.2.0-era clients
            # from the working directory.
            metrics_directory = (job_directory.metadata_directory() if options.get("use_metadata")
                                 else job_directory.working_directory())
            pre, post = self.job_metrics.commands(metrics_directory)
        script = job_script(
            working_directory=job_directory.working_directory(),
            command=command,
            exit_code_path=state.fact_path(F.RETURN_CODE),
            start_marker_path=state.fact_path(F.JOB_STARTED),
            headers=headers,
            env=list(env or []) + self.env_vars,
            galaxy_lib=self._galaxy_lib(),
            galaxy_virtual_env=self.galaxy_virtual_env,
            preserve_python_environment=self._preserve_galaxy_environment(options),
            metadata_directory=job_directory.metadata_directory(),
            home_directory=job_directory.home_directory(),
            tmp_directory_statement=self._tmp_directory_statement(job_directory),
            instrument_pre_commands=pre,
            instrument_post_commands=post,
        )
        path = os.path.join(job_directory.path, JOB_SCRIPT_NAME)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(script)
        os.chmod(path, 0o700)
        return path

    # -- hooks for the stateful proxy (ManagerInterface): managers override ------------------------
    def failure_reason(self, job_id: str):
        """Why a job ended ``failed`` (external managers report walltime / memory kills)."""
        return None


def _first_stream(job_directory, names):
    for name in names:
        text = job_directory.read_stream(name, MAXIMUM_STREAM_SIZE)
        if text is not None:
            return text
    return None


_ = status  # re-exported for subclasses' convenience
