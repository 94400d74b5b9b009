"""``unqueued``: run each job at once as a local process (spec §3.4).

Job state lives in the job's facts (:mod:`lwr.managers.job_state.facts`) so that a restarted
server can tell, for every job, whether it is waiting, running or done: ``submitted``
(accepted, not started; ``command_line`` kept while queued), ``launching`` (a worker is
starting the process right now), ``pid`` (the process, pid + start time), ``return_code``
(written by the job script), ``cancelled``, ``failure_reason`` (ended abnormally).
"""
import logging
import os

from lwr.managers import status
from lwr.managers.job_state import facts as F
from lwr.managers.base import BaseManager
from lwr.managers.base.directory import JOB_STDERR, JOB_STDOUT
from lwr.managers.util.process import ProcessHandle, ProcessOps, WaitInterrupted

__all__ = ["Manager"]

log = logging.getLogger(__name__)


class Manager(BaseManager):
    """Runs every launched job immediately, each in its own process."""

    manager_type = "unqueued"

    def __init__(self, name, app, process_ops=None, **kwds):
        super().__init__(name, app, **kwds)
        self.process_ops = process_ops or ProcessOps()
        #: Jobs failed while their facts could not be written (a full disk): job id -> reason.
        self._unrecorded_failures = {}

    # -- launching ----------------------------------------------------------------------------
    def launch(self, job_id, command_line, submit_params=None, dependencies_description=None, env=(),
               setup_params=None):
        script = self._write_job_script(job_id, command_line, dependencies_description, env)
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            state.set(F.SUBMITTED, "true")
        self._start(job_id, script)

    def _start(self, job_id, script):
        self._run_job(job_id, script, wait_in_thread=True)

    def _script_path(self, job_id):
        return os.path.join(self.job_directory(job_id).path, "command.sh")

    def _run_job(self, job_id, script, wait_in_thread):
        """Start the job's process unless it was cancelled; record its identity first thing."""
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if state.has(F.CANCELLED) or not job_directory.exists():
                state.clear(F.SUBMITTED)
                return
            # Marker order matters for a restart at any instant: "launching" with "command_line"
            # still present means the process was certainly not started yet.
            try:
                state.set(F.LAUNCHING, "true")
                state.clear(F.SUBMITTED)
                state.clear(F.COMMAND_LINE)
            except OSError as exc:
                self._fail_unrecorded(job_id, "LWR could not record the start of the job: %s" % exc)
                return
            try:
                handle = self.process_ops.spawn(script, job_directory.working_directory(),
                                                job_directory.job_file(JOB_STDOUT),
                                                job_directory.job_file(JOB_STDERR))
            except OSError as exc:
                self._fail_unrecorded(job_id, "could not start the job: %s" % exc)
                return
            try:
                state.set(F.PID, handle.to_dict())
                state.clear(F.LAUNCHING)
            except OSError as exc:
                # Untracked, the job would read "running" until the next restart, and a restart
                # could not tell whether it ran: stop it and fail it, saying why.
                self.process_ops.kill_tree(handle)
                self._fail_unrecorded(job_id, "LWR could not record the job's process (%s); the job was "
                                              "stopped rather than run untracked" % exc)
                return
        if wait_in_thread:
            self._monitor_in_thread(job_id, handle)
        else:
            self._wait_and_finish(job_id, handle)

    def _fail_unrecorded(self, job_id, reason):
        """Fail the job even if its facts cannot be written: kept in memory, then on disk if possible."""
        self._unrecorded_failures[job_id] = reason
        log.error("job %s failed: %s", job_id, reason)
        state = self.job_state(job_id)
        try:
            state.set(F.FAILURE_REASON, reason)
            state.clear(F.LAUNCHING)
        except OSError as exc:
            log.warning("job %s: the failure is known in memory only (%s)", job_id, exc)

    def _monitor_in_thread(self, job_id, handle):
        try:
            self.threads.start("lwr-wait-%s" % job_id, self._wait_and_finish, job_id, handle)
        except RuntimeError:  # shutting down: the job runs on and is re-attached at the next start
            log.info("job %s: shutting down, not waiting for its process %d", job_id, handle.pid)

    def _wait_and_finish(self, job_id, handle: ProcessHandle):
        try:
            exit_status = self.process_ops.wait(handle, stopping=self.threads.stopping)
        except WaitInterrupted:
            return  # shutting down: the job runs on and is re-attached at the next start
        except Exception:  # never leave a job reading "running" forever
            log.exception("waiting for job %s failed", job_id)
            exit_status = None
        self._finish(job_id, exit_status, handle)
        self.on_job_end(job_id)

    def _finish(self, job_id, exit_status, handle):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if not job_directory.exists():
                return
            cancelled = state.has(F.CANCELLED)
            if not cancelled and not state.has(F.RETURN_CODE):
                # The script writes the tool's exit code itself; only a killed script does not.
                if exit_status is not None:
                    state.set(F.RETURN_CODE, exit_status)
                    if exit_status < 0:
                        state.set(
                            F.FAILURE_REASON, "the job was killed by signal %d" % -exit_status)
                else:
                    state.set(
                        F.FAILURE_REASON,
                        "the job's process (pid %d) ended without recording an exit code; it was "
                        "probably killed while LWR was not running" % handle.pid)
            for marker in (F.PID, F.LAUNCHING, F.SUBMITTED, F.COMMAND_LINE):
                state.clear(marker)

    # -- status and control -------------------------------------------------------------------
    def get_status(self, job_id):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if state.has(F.CANCELLED):
                return status.CANCELLED
            if job_id in self._unrecorded_failures:
                return status.FAILED
            if state.has(F.PID) or state.has(F.LAUNCHING):
                return status.RUNNING
            if state.has(F.FAILURE_REASON):
                return status.FAILED
            if state.has(F.SUBMITTED):
                return status.QUEUED
            return status.COMPLETE

    def failure_reason(self, job_id):
        return self._unrecorded_failures.get(job_id) or self.job_state(job_id).get(F.FAILURE_REASON)

    def forget_job(self, job_id):
        self._unrecorded_failures.pop(job_id, None)

    def kill(self, job_id):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            if self.get_status(job_id) not in (status.QUEUED, status.RUNNING):
                return
            state.set(F.CANCELLED, "true")
            state.clear(F.SUBMITTED)
            pid = state.get(F.PID)
        if pid is not None:
            self.process_ops.kill_tree(ProcessHandle.from_dict(pid))

    # -- restart ------------------------------------------------------------------------------
    def recover_active_job(self, job_id):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            pid = state.get(F.PID)
            launching = state.has(F.LAUNCHING)
            not_started = state.has(F.COMMAND_LINE) or state.has(F.SUBMITTED)
            if pid is not None:
                # Killed after the pid was recorded: the start-up markers are stale.
                state.clear(F.LAUNCHING)
                state.clear(F.SUBMITTED)
            elif launching and not_started:
                state.clear(F.LAUNCHING)  # killed before the process started
                state.set(F.SUBMITTED, "true")
        if pid is not None:
            handle = ProcessHandle.from_dict(pid)
            if self.process_ops.is_alive(handle):
                log.info("job %s: re-attached to its running process %d", job_id, handle.pid)
                self._monitor_in_thread(job_id, handle)
            else:
                self._finish(job_id, None, handle)
        elif launching and not not_started:
            self._recover_launching(job_id)
        elif not_started:
            self._start(job_id, self._script_path(job_id))

    def _recover_launching(self, job_id):
        """LWR died while starting this job: find the process, or report the job lost."""
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        handle = self.process_ops.find_script_process(self._script_path(job_id))
        never_ran = False
        with job_directory.lock():
            state.clear(F.LAUNCHING)
            if handle is not None:
                state.set(F.PID, handle.to_dict())
            elif state.has(F.RETURN_CODE):
                pass  # it ran to the end while LWR was down
            elif not state.has(F.JOB_STARTED):
                # The script's first command never ran: the process was never started.
                never_ran = True
                state.set(F.SUBMITTED, "true")
            else:
                state.set(
                    F.FAILURE_REASON,
                    "LWR stopped while starting this job; the job started but its process cannot "
                    "be found and it recorded no exit code, so it was not started again")
        if handle is not None:
            self._monitor_in_thread(job_id, handle)
        elif never_ran:
            self._start(job_id, self._script_path(job_id))
