"""``ExternalBaseManager``: jobs handed to a site's resource manager (spec §3.5).

A subclass knows one scheduler: how to submit a job script (returning the scheduler's id),
ask for a job's state and cancel it.  This base keeps everything else, in the job's facts
(:mod:`lwr.managers.job_state.facts`) so a restarted server picks every job up again:
``submitted`` (being handed to the scheduler, no id yet), ``external_id``, ``return_code``
(written by the job script), ``cancelled``, ``failure_reason`` (walltime/memory kill, ...).
"""
import logging
import os
import re
import string
import threading
import time
from typing import Dict, Optional, Tuple

from lwr.managers import status
from lwr.managers.job_state import facts as F
from lwr.managers.base import BaseManager, ManagerError
from lwr.managers.base.directory import JOB_STDERR
from lwr.managers.util.cli.job import JobStatus, SchedulerCommandError, UNKNOWN
from lwr.managers.util.limits import explain_failure

__all__ = ["ExternalBaseManager", "DEFAULT_JOB_NAME_TEMPLATE", "ManagerError", "SchedulerCommandError"]

log = logging.getLogger(__name__)

DEFAULT_JOB_NAME_TEMPLATE = "lwr_$job_id"
_JOB_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class ExternalBaseManager(BaseManager):
    """Base of the managers that submit to a resource manager (DRMAA, Condor, CLI, PBS).

    Options: ``job_name_template`` (default ``lwr_$job_id``; ``$job_id`` and environment
    variables are substituted) and ``status_cache_seconds`` (default 1: how long one answer of
    the scheduler serves repeated status requests for the same job).
    """

    def __init__(self, name: str, app, **kwds):
        super().__init__(name, app, **kwds)
        self.job_name_template = kwds.get("job_name_template") or DEFAULT_JOB_NAME_TEMPLATE
        try:
            self.status_cache_seconds = float(kwds.get("status_cache_seconds") or 1.0)
        except ValueError:
            raise ValueError("status_cache_seconds must be a number of seconds, not %r"
                             % kwds.get("status_cache_seconds")) from None
        self._external_ids: Dict[str, str] = {}
        self._last_status: Dict[str, Tuple[float, JobStatus]] = {}
        self._assessed: Dict[str, Tuple[str, Optional[str], Optional[int]]] = {}  # done, not yet recorded
        self._ids_lock = threading.Lock()

    # -- what a scheduler-specific subclass provides ------------------------------------------
    def _submit(self, job_id: str, script_path: str, submit_params: dict) -> str:
        """Hand ``script_path`` to the scheduler; return its job id.  Raise ManagerError
        (with what the scheduler printed) when it refuses."""
        raise NotImplementedError

    def _scheduler_status(self, job_id: str, external_id: str) -> JobStatus:
        """Ask the scheduler; raise SchedulerCommandError when it cannot be asked."""
        raise NotImplementedError

    def _cancel(self, job_id: str, external_id: str) -> Optional[bool]:
        """Ask the scheduler to cancel the job; raise SchedulerCommandError (or ManagerError)
        if it refuses; return False if the scheduler no longer knows the job (it has ended)."""
        raise NotImplementedError

    def _script_headers(self, job_id: str) -> str:
        """Scheduler directives placed at the top of ``command.sh``."""
        return ""

    def _job_ended(self, job_id: str) -> None:
        """Called once a job reaches a terminal state (e.g. to hand its directory back)."""

    # -- helpers --------------------------------------------------------------------------------
    def job_name(self, job_id: str) -> str:
        """The scheduler's name for the job: ``job_name_template`` made safe for headers."""
        env = dict(os.environ)
        env["job_id"] = job_id
        name = string.Template(self.job_name_template).safe_substitute(env)
        return _JOB_NAME_UNSAFE.sub("_", name)[:200] or "lwr_job"

    def job_file(self, job_id: str, name: str) -> str:
        return os.path.join(self.job_directory(job_id).path, name)

    def external_id(self, job_id: str) -> Optional[str]:
        """The scheduler's id for ``job_id`` (memory first, then the ``external_id`` file)."""
        with self._ids_lock:
            known = self._external_ids.get(job_id)
        if known is not None:
            return known
        stored = self.job_state(job_id).get(F.EXTERNAL_ID)
        if stored is None:
            return None
        with self._ids_lock:
            self._external_ids[job_id] = str(stored)
        return str(stored)

    def submitted_at(self, job_id: str) -> Optional[float]:
        """When the job was handed to the scheduler (the ``external_id`` marker's time)."""
        return self.job_state(job_id).written_at(F.EXTERNAL_ID)

    def _scheduler(self, command, *args):
        """Run one scheduler command (``_submit``, ``_scheduler_status``, ``_cancel``); a failure
        is counted for ``lwr_scheduler_command_failures_total`` (lwr.metrics) and raised."""
        try:
            return command(*args)
        except (SchedulerCommandError, ManagerError):
            metrics = getattr(self.app, "metrics", None)
            if metrics is not None:
                metrics.scheduler_command_failed(self.name)
            raise

    # -- launching ------------------------------------------------------------------------------
    def launch(self, job_id, command_line, submit_params=None, dependencies_description=None, env=(),
               setup_params=None):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if state.has(F.CANCELLED):
                return
            if state.has(F.EXTERNAL_ID):
                raise ManagerError("job %s was already submitted to the scheduler" % job_id)
        script = self._write_job_script(job_id, command_line, dependencies_description, env,
                                        headers=self._script_headers(job_id))
        with job_directory.lock():
            state.set(F.SUBMITTED, True)
        # A failure here propagates: the stateful proxy reports the job failed with its message.
        external_id = str(self._scheduler(self._submit, job_id, script, dict(submit_params or {}))).strip()
        if not external_id:
            raise ManagerError("the scheduler returned no job id")
        with job_directory.lock():
            state.set(F.EXTERNAL_ID, external_id)
            state.clear(F.SUBMITTED)
        with self._ids_lock:
            self._external_ids[job_id] = external_id
        log.info("job %s submitted as %s %s", job_id, self.manager_type, external_id)
        if state.has(F.CANCELLED):
            # kill() came while the scheduler was still answering the submission
            try:
                self._scheduler(self._cancel, job_id, external_id)
            except SchedulerCommandError as exc:
                log.warning("job %s (%s): cancelling after submission failed: %s", job_id, external_id, exc)

    # -- status ---------------------------------------------------------------------------------
    def get_status(self, job_id):
        """The job's status from its facts and the scheduler; writes nothing (``record_end`` does)."""
        found = self._assess(job_id)
        if status.is_job_done(found[0]):
            with self._ids_lock:
                self._assessed[job_id] = found  # record_end records what this answer saw
        return found[0]

    def record_end(self, job_id):
        """The job ended: record its exit code (when only the scheduler knows it) and why it
        failed, hand its directory back (``_job_ended``), and return its final status."""
        with self._ids_lock:
            found = self._assessed.pop(job_id, None)
        final, reason, exit_code = found or self._assess(job_id)
        state = self.job_state(job_id)
        if exit_code is not None and not state.has(F.RETURN_CODE):
            state.set(F.RETURN_CODE, int(exit_code))
        if reason:
            self._record_reason(job_id, reason)
        return self._ended(job_id, final)

    def _assess(self, job_id: str) -> Tuple[str, Optional[str], Optional[int]]:
        """``(status, failure reason to record, exit code to record)``."""
        state = self.job_state(job_id)
        if state.has(F.CANCELLED):
            return status.CANCELLED, None, None
        if state.has(F.FAILURE_REASON):
            return status.FAILED, None, None
        external_id = self.external_id(job_id)
        if external_id is None:
            if state.has(F.SUBMITTED):
                return status.QUEUED, None, None  # being submitted right now
            return status.FAILED, "LWR has no record of this job's scheduler id", None
        return self._resolve(state.has(F.RETURN_CODE), self._cached_status(job_id, external_id))

    def _cached_status(self, job_id: str, external_id: str) -> JobStatus:
        now = time.monotonic()
        with self._ids_lock:
            cached = self._last_status.get(job_id)
        if cached is not None and now - cached[0] < self.status_cache_seconds and not cached[1].done:
            return cached[1]
        try:
            found = self._scheduler(self._scheduler_status, job_id, external_id)
        except SchedulerCommandError as exc:
            # The scheduler could not be asked (ssh down, slurmctld restarting): keep the last
            # known state rather than failing a job that may well be fine.
            log.warning("job %s (%s): status unavailable, keeping the last known state: %s",
                        job_id, external_id, exc)
            return cached[1] if cached is not None else JobStatus(status.QUEUED)
        if found.state == UNKNOWN:
            return cached[1] if cached is not None else JobStatus(status.QUEUED)
        with self._ids_lock:
            self._last_status[job_id] = (now, found)
        return found

    @staticmethod
    def _resolve(has_code: bool, found: JobStatus) -> Tuple[str, Optional[str], Optional[int]]:
        """A scheduler status -> ``(status, reason, exit code)`` as :meth:`_assess` answers."""
        state, exit_code, reason = found
        if state in (status.QUEUED, status.RUNNING, status.CANCELLED):
            return state, None, None
        if state == status.FAILED:
            return status.FAILED, reason or "the scheduler reports the job failed", None
        if state == status.COMPLETE:
            if has_code:
                return status.COMPLETE, None, None
            if exit_code is not None:
                return status.COMPLETE, None, int(exit_code)
            return status.FAILED, ("the scheduler reports the job finished, but its script recorded no "
                                   "exit code (it was killed or could not start)"), None
        # LOST: the scheduler has forgotten the job; its own exit-code file decides.
        if has_code:
            return status.COMPLETE, None, None
        return status.FAILED, ("%s; the job recorded no exit code, so it did not finish normally"
                               % (reason or "the scheduler no longer knows this job")), None

    def _fail(self, job_id: str, reason: str) -> str:
        self._record_reason(job_id, reason)
        return self._ended(job_id, status.FAILED)

    def _record_reason(self, job_id: str, reason: str) -> None:
        state = self.job_state(job_id)
        if not state.has(F.FAILURE_REASON):
            state.set(F.FAILURE_REASON, explain_failure(reason, self.job_file(job_id, JOB_STDERR)))

    def _ended(self, job_id: str, final: str) -> str:
        try:
            self._job_ended(job_id)
        except Exception:
            log.exception("job %s: clean-up after the end of the job failed", job_id)
        return final

    def failure_reason(self, job_id):
        return self.job_state(job_id).get(F.FAILURE_REASON)

    # -- cancelling -----------------------------------------------------------------------------
    def kill(self, job_id):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if state.has(F.CANCELLED):
                return
            # Marked first, so whatever the scheduler reports while the job dies reads cancelled.
            state.set(F.CANCELLED, True)
        external_id = self.external_id(job_id)
        if external_id is None:
            return  # not submitted yet: launch() sees the marker and does not submit
        try:
            accepted = self._scheduler(self._cancel, job_id, external_id)
        except (SchedulerCommandError, ManagerError) as exc:
            with self._ids_lock:
                self._last_status.pop(job_id, None)
            try:
                current = self._scheduler(self._scheduler_status, job_id, external_id)
            except SchedulerCommandError:
                current = JobStatus(UNKNOWN)
            if current.done or current.state == status.LOST:
                # Already over: no cancellation happened, let the job keep its real outcome.
                state.clear(F.CANCELLED)
                log.info("job %s (%s) had already ended when cancelled: %s", job_id, external_id, exc)
                return
            state.clear(F.CANCELLED)
            raise ManagerError("the scheduler did not cancel job %s: %s" % (external_id, exc)) from exc
        if accepted is False:
            state.clear(F.CANCELLED)
            log.info("job %s (%s) had already ended when cancelled", job_id, external_id)
            return
        log.info("job %s (%s) cancelled", job_id, external_id)

    # -- restart --------------------------------------------------------------------------------
    def recover_active_job(self, job_id):
        state = self.job_state(job_id)
        external_id = self.external_id(job_id)
        if external_id is not None:
            log.info("job %s: following scheduler job %s again", job_id, external_id)
            return
        if state.has(F.SUBMITTED) and not state.has(F.CANCELLED):
            # LWR died between handing the script over and recording the id.
            self._fail(job_id, "LWR stopped while submitting this job and did not learn the "
                               "scheduler's id; it was not submitted again to avoid running it twice")

    def forget_job(self, job_id):
        with self._ids_lock:
            self._external_ids.pop(job_id, None)
            self._last_status.pop(job_id, None)
            self._assessed.pop(job_id, None)
