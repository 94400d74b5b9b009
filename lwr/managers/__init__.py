"""Job managers: what every manager answers (:class:`ManagerInterface`), and the managers.

Two kinds of objects implement the interface: the concrete managers
(:class:`lwr.managers.base.BaseManager` and its subclasses: how a job runs) and
:class:`lwr.managers.stateful.StatefulManagerProxy`, which wraps one of them and adds the job's
durable life cycle (staging, the terminal status, callbacks, recovery).  Routes and the message
queue talk to the proxy only; the proxy talks to its manager only through this interface.
"""
import abc

__all__ = ["ManagerInterface"]


class ManagerInterface(abc.ABC):
    """One named manager of jobs.  ``name`` is its name in ``job_managers.ini``."""

    name: str
    #: the ``type`` of ``job_managers.ini`` (``queued_python``, ``queued_drmaa``, ...)
    manager_type: str
    #: where the manager's job directories are
    staging_directory: str

    # -- life cycle of the object ----------------------------------------------------------------
    def start(self) -> None:
        """Start background work (worker threads).  Constructors start nothing."""

    def shutdown(self, timeout=None) -> None:
        """Stop background work started by :meth:`start`."""

    # -- jobs ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def job_directory(self, job_id: str):
        """The job's :class:`lwr.managers.base.directory.JobDirectory` (it may not exist)."""

    @abc.abstractmethod
    def setup_job(self, job_id, tool_id, tool_version, use_metadata=False,
                  preserve_galaxy_python_environment=False) -> str:
        """Create the job's directory; returns the job id (a new one with ``assign_ids = uuid``)."""

    @abc.abstractmethod
    def authorize_submission(self, job_id: str, job_config: dict) -> None:
        """Refuse (raise) a submit request the tool restrictions do not allow."""

    @abc.abstractmethod
    def launch(self, job_id, command_line, submit_params=None, dependencies_description=None, env=(),
               setup_params=None):
        """Start the job (the proxy's launch takes more keywords; see its documentation)."""

    @abc.abstractmethod
    def get_status(self, job_id: str) -> str:
        """The job's status (:mod:`lwr.managers.status`).  A read: it changes no job state."""

    @abc.abstractmethod
    def kill(self, job_id: str) -> None:
        """Cancel the job; raise if the job could not be stopped (it keeps running)."""

    @abc.abstractmethod
    def clean(self, job_id: str) -> None:
        """Remove the job's directory."""

    # -- what a finished job left --------------------------------------------------------------
    @abc.abstractmethod
    def failure_reason(self, job_id: str):
        """Why the job ended ``failed``/``lost`` (None when unknown)."""

    @abc.abstractmethod
    def return_code(self, job_id: str):
        """The tool's exit code, or ``"__unknown__"``."""

    @abc.abstractmethod
    def stdout_contents(self, job_id: str) -> str: ...

    @abc.abstractmethod
    def stderr_contents(self, job_id: str) -> str: ...

    @abc.abstractmethod
    def job_stdout_contents(self, job_id: str) -> str: ...

    @abc.abstractmethod
    def job_stderr_contents(self, job_id: str) -> str: ...

    @abc.abstractmethod
    def system_properties(self) -> dict:
        """Facts about the server the client needs to build command lines (separator, ...)."""

    # -- hooks the proxy calls on its manager -----------------------------------------------------
    def record_end(self, job_id: str) -> str:
        """``get_status`` said the job ended: record what the end left that only the manager
        knows (an exit code, why it failed) and return the final status."""
        return self.get_status(job_id)

    def recover_active_job(self, job_id: str) -> None:
        """After a restart: re-attach to a job the manager had accepted."""

    def forget_job(self, job_id: str) -> None:
        """The job ended or was removed: drop what is kept about it in memory."""
