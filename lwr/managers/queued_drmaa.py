"""``queued_drmaa``: submit through DRMAA (e.g. Grid Engine) (spec §3.5).

Needs the python ``drmaa`` package and ``DRMAA_LIBRARY_PATH`` (set it in ``local_env.sh``); both
are loaded only when a manager of this type is configured, and a missing piece stops the
server with a message saying what to set or install.
"""
import logging
import threading

from lwr.managers.base.directory import JOB_STDERR, JOB_STDOUT
from lwr.managers.base.external import ExternalBaseManager, ManagerError, SchedulerCommandError
from lwr.options import ConfigurationError

__all__ = ["DrmaaQueueManager"]

log = logging.getLogger(__name__)


class DrmaaQueueManager(ExternalBaseManager):
    """One DRMAA session per manager; ``native_specification`` passes scheduler options
    (the manager's option wins over the client's ``submit_native_specification``)."""

    manager_type = "queued_drmaa"

    def __init__(self, name, app, **kwds):
        super().__init__(name, app, **kwds)
        self.native_specification = kwds.get("native_specification") or None
        self.drmaa_session = self._open_session(name, kwds.get("drmaa_contact") or None)

    def _open_session(self, name, contact):
        try:
            return _shared_session(contact)
        except Exception as exc:  # DrmaaUnavailable: says what to set or install
            raise ConfigurationError("[manager:%s] (type %s) cannot use DRMAA: %s"
                                     % (name, self.manager_type, exc)) from exc

    def job_template_attributes(self, job_id, script_path, submit_params):
        """The DRMAA job template of spec §3.5 (``jt.json`` for the external variant)."""
        native = self.native_specification or (submit_params or {}).get("native_specification") or None
        attributes = {
            "remoteCommand": script_path,
            "jobName": self.job_name(job_id),
            "outputPath": ":%s" % self.job_file(job_id, JOB_STDOUT),
            "errorPath": ":%s" % self.job_file(job_id, JOB_STDERR),
            "workingDirectory": self.job_directory(job_id).working_directory(),
        }
        if native:
            attributes["nativeSpecification"] = str(native)
        return attributes

    def _submit(self, job_id, script_path, submit_params):
        attributes = self.job_template_attributes(job_id, script_path, submit_params)
        try:
            return self.drmaa_session.run_job(**attributes)
        except self.drmaa_session.drmaa.errors.DrmaaException as exc:
            raise ManagerError("DRMAA refused the job: %s" % exc) from exc

    def _scheduler_status(self, job_id, external_id):
        try:
            return self.drmaa_session.job_status(external_id, job_name=self.job_name(job_id),
                                                 submitted_after=self.submitted_at(job_id))
        except self.drmaa_session.drmaa.errors.DrmaaException as exc:
            raise SchedulerCommandError(["drmaa", "jobStatus", external_id], -1, "", str(exc)) from exc

    def _cancel(self, job_id, external_id):
        # False = DRMAA no longer knows the job (it has finished): nothing to cancel
        try:
            return self.drmaa_session.kill(external_id)
        except self.drmaa_session.drmaa.errors.DrmaaException as exc:
            raise ManagerError("DRMAA could not terminate job %s: %s" % (external_id, exc)) from exc

    def shutdown(self, timeout=None):
        try:
            _release_session(self.drmaa_session)
        except Exception:
            log.exception("closing the DRMAA session of manager %s failed", self.name)


# DRMAA allows one session per process: every DRMAA manager of the server shares it.
_SESSION_LOCK = threading.Lock()
_SESSION = {"session": None, "users": 0}


def _shared_session(contact):
    from lwr.managers.util.drmaa import DrmaaSession
    with _SESSION_LOCK:
        if _SESSION["session"] is None:
            _SESSION["session"] = DrmaaSession(contact)
        _SESSION["users"] += 1
        return _SESSION["session"]


def _release_session(session):
    with _SESSION_LOCK:
        if _SESSION["session"] is not session:
            return
        _SESSION["users"] -= 1
        if _SESSION["users"] <= 0:
            _SESSION["session"] = None
            _SESSION["users"] = 0
            session.close()
