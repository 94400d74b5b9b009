"""One DRMAA session: submit, status (state, exit code, reason), kill."""
import logging
import threading
import time
from typing import Dict, Optional, Set

from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus, UNKNOWN

from .loader import DrmaaUnavailable, load_drmaa, session_hint
from . import sge

__all__ = ["DrmaaSession", "DRMAA_STATES", "TEMPLATE_ATTRIBUTES"]

log = logging.getLogger(__name__)

# drmaa.JobState values -> LWR states.  DONE/FAILED are refined with wait()'s JobInfo.
DRMAA_STATES = {
    "undetermined": status.COMPLETE,  # LWR 0.2.0's choice: the job is gone, read its exit-code file
    "queued_active": status.QUEUED,
    "system_on_hold": status.QUEUED,
    "user_on_hold": status.QUEUED,
    "user_system_on_hold": status.QUEUED,
    "system_suspended": status.QUEUED,
    "user_suspended": status.QUEUED,
    "user_system_suspended": status.QUEUED,
    "running": status.RUNNING,
    "done": status.COMPLETE,
    "failed": status.FAILED,
}

# JobTemplate attributes a caller may set (drmaa 0.7.x names)
TEMPLATE_ATTRIBUTES = frozenset([
    "remoteCommand", "args", "jobName", "outputPath", "errorPath", "inputPath", "joinFiles",
    "nativeSpecification", "workingDirectory", "jobEnvironment", "jobSubmissionState", "email",
    "blockEmail", "startTime", "deadlineTime", "hardWallclockTimeLimit", "softWallclockTimeLimit",
    "hardRunDurationLimit", "softRunDurationLimit", "transferFiles", "jobCategory",
])


class DrmaaSession:
    """A DRMAA session; one per manager (DRMAA allows one per process)."""

    def __init__(self, contact: Optional[str] = None, use_qacct: bool = True):
        self.drmaa = load_drmaa()
        self._session = self.drmaa.Session()
        try:
            self._session.initialize(contact) if contact else self._session.initialize()
        except self.drmaa.errors.AlreadyActiveSessionException:
            pass  # another DrmaaSession in this process already opened it; share it
        except self.drmaa.errors.DrmaaException as exc:
            raise DrmaaUnavailable("DRMAA session failed to start: %s" % session_hint(str(exc))) from exc
        # read once, in the thread that opened the session: Grid Engine's drmaa_get_DRMS_info
        # returns a truncated string (" 8.1.9", no "SGE") when called from another thread
        self._drms_info = str(self._session.drmsInfo)
        self._lock = threading.Lock()
        self._finished: Dict[str, JobStatus] = {}
        self._killed: Set[str] = set()
        self.use_qacct = use_qacct

    @property
    def drms_info(self) -> str:
        return self._drms_info

    def run_job(self, **attributes) -> str:
        """Submit a job with the given JobTemplate attributes; return its external id."""
        unknown = set(attributes) - TEMPLATE_ATTRIBUTES
        if unknown:
            raise ValueError("unknown DRMAA job template attributes: %s" % ", ".join(sorted(unknown)))
        with self._lock:
            template = self._session.createJobTemplate()
            try:
                for name, value in attributes.items():
                    if value is not None:
                        setattr(template, name, value)
                return str(self._session.runJob(template))
            finally:
                self._session.deleteJobTemplate(template)

    def job_status(self, external_id: str, job_name: Optional[str] = None,
                   submitted_after: Optional[float] = None) -> JobStatus:
        """Where the job is.  A finished job's result is cached, because reading it (wait)
        makes DRMAA forget the job.  A job of an earlier session that has finished raises
        InvalidJobException in DRMAA; it reads ``LOST`` (read the exit-code file) unless Grid
        Engine's accounting (qacct) says more.  ``job_name`` and ``submitted_after`` (a
        timestamp) tell our job's accounting record from an older job that had the same number.

        Accounting is read without holding the session lock: qacct scans a file that only grows,
        and other jobs' submissions must not wait for it."""
        external_id = str(external_id)
        if external_id in self._finished:
            return self._finished[external_id]
        hints = {"job_name": job_name, "submitted_after": submitted_after}
        errors = self.drmaa.errors
        info = None
        with self._lock:
            try:
                code = self._session.jobStatus(external_id)
            except errors.InvalidJobException:
                code = None
            state = DRMAA_STATES.get(str(code)) if code is not None else None
            if code is not None and state is None:
                log.warning("unknown DRMAA job state %r for job %s", code, external_id)
                return JobStatus(UNKNOWN)
            if code is not None and code not in (self.drmaa.JobState.DONE, self.drmaa.JobState.FAILED):
                return JobStatus(state)
            outcome = "info"
            if code is not None:
                try:
                    info = self._session.wait(external_id, self.drmaa.Session.TIMEOUT_NO_WAIT)
                except errors.ExitTimeoutException:
                    # FAILED yet not waitable: Grid Engine holds the job in error state (Eqw)
                    outcome = "error_state" if code == self.drmaa.JobState.FAILED else "finishing"
                except errors.InvalidJobException:
                    outcome = "error_state" if code == self.drmaa.JobState.FAILED else "forgotten"
                except Exception as exc:  # drmaa raises a bare Exception for DRMAA_ERRNO_NO_RUSAGE (24)
                    if not str(exc).startswith("code 24"):
                        raise
                    outcome = "no_usage"
            else:
                outcome = "forgotten"
        if outcome == "finishing":
            return JobStatus(status.RUNNING)  # ask again
        if outcome == "forgotten":
            return self._forgotten(external_id, hints)
        if outcome == "error_state":
            result = self._error_state(external_id, hints)
        elif outcome == "no_usage":
            # Grid Engine keeps no usage record for a job deleted before it started
            result = self._qacct(external_id, hints) or JobStatus(status.CANCELLED, None, "ended before it ran")
        else:
            result = self._from_job_info(external_id, info, hints)
        self._finished[external_id] = result
        return result

    def _from_job_info(self, external_id: str, info, hints) -> JobStatus:
        if info.hasExited:
            return JobStatus(status.COMPLETE, int(info.exitStatus))
        if external_id in self._killed:
            return JobStatus(status.CANCELLED, None, "terminated on request")
        if info.wasAborted and not info.hasSignal:
            # deleted while pending (qdel) or failed to start (Grid Engine's error state)
            accounting = self._qacct(external_id, hints, wait=3.0)
            if accounting is not None and accounting.state == status.FAILED:
                self._remove_failed(external_id)
                return accounting
            reason = sge.qstat_error_reason(external_id)
            if reason:
                self._remove_failed(external_id)
                return JobStatus(status.FAILED, None, "Grid Engine could not start the job: %s" % reason)
            return JobStatus(status.CANCELLED, None, "aborted before it ran")
        if info.hasSignal:
            # qacct explains a kill (e.g. "qmaster enforced h_rt ... limit"); its record may
            # trail DRMAA's by up to the accounting flush time
            accounting = self._qacct(external_id, hints, wait=3.0)
            if accounting is not None and accounting.state == status.FAILED:
                return accounting
            return JobStatus(status.FAILED, None, "killed by %s" % info.terminatedSignal)
        return JobStatus(status.FAILED, None, "DRMAA reports the job failed")

    def _error_state(self, external_id: str, hints) -> JobStatus:
        """A job Grid Engine put in error state (``Eqw``): it will never run unless an admin
        clears it, so it fails with Grid Engine's reason and is removed from the queue."""
        reason = sge.qstat_error_reason(external_id)
        if reason is None:
            accounting = self._qacct(external_id, hints)
            reason = accounting.reason if accounting is not None and accounting.reason else None
        self._remove_failed(external_id)
        return JobStatus(status.FAILED, None, "Grid Engine could not start the job: %s"
                         % (reason or "the job is in error state"))

    def _remove_failed(self, external_id: str) -> None:
        with self._lock:
            try:
                self._session.control(external_id, self.drmaa.JobControlAction.TERMINATE)
            except self.drmaa.errors.DrmaaException:
                pass  # already gone

    def _forgotten(self, external_id: str, hints) -> JobStatus:
        # a job that has just ended may be gone from the qmaster a moment before qacct has it
        accounting = self._qacct(external_id, hints, wait=3.0)
        if accounting is not None:
            return accounting
        return JobStatus(status.LOST, None, "DRMAA no longer knows job %s (finished in an earlier session)" % external_id)

    def _qacct(self, external_id: str, hints=None, wait: float = 0.0) -> Optional[JobStatus]:
        if not self.use_qacct or "SGE" not in self.drms_info and "Grid Engine" not in self.drms_info:
            return None
        deadline = time.monotonic() + wait
        while True:
            found = sge.qacct_status(external_id, **(hints or {}))
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.5)

    def kill(self, external_id: str) -> bool:
        """TERMINATE the job; False if DRMAA no longer knows it (already finished)."""
        with self._lock:
            try:
                self._session.control(str(external_id), self.drmaa.JobControlAction.TERMINATE)
            except self.drmaa.errors.InvalidJobException:
                return False
            self._killed.add(str(external_id))
        return True

    def close(self) -> None:
        with self._lock:
            try:
                self._session.exit()
            except self.drmaa.errors.NoActiveSessionException:
                pass

    def __enter__(self) -> "DrmaaSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
