"""``StatefulManagerProxy``: durable job life cycle around any manager (spec §4).

The proxy owns the phases the managers know nothing about: remote staging before launch,
pushing outputs after it, the active-job list that survives a restart, and the one terminal
status each job ends with.  A job's phase lives in :mod:`lwr.managers.job_state` and changes
only through ``JobState``'s transition methods, called from here:

* ``launch``  (a request)          ACCEPTED -> PREPROCESSING, then a thread stages and hands
                                   the job to the manager: -> SUBMITTED (or FAILED)
* ``advance`` (the JobMonitor)     SUBMITTED -> RUNNING -> a terminal status or POSTPROCESSING
* ``kill`` / ``record_failure``    -> CANCELLED / FAILED

``get_status`` only reads.  The proxy implements :class:`lwr.managers.ManagerInterface` and
talks to its manager only through that interface.
"""
import logging
import threading

from lwr.managers import ManagerInterface, status
from lwr.managers.active_jobs import ActiveJobs, PendingTerminalStatuses
from lwr.managers.job_state import PROXY, JobState, JobStateConflict, NotCancelled, Phase, UnknownJob
from lwr.managers.job_state import facts as F
from lwr.managers.monitor import JobMonitor
from lwr.managers.proxy_hooks import ProxyHooks
from lwr.managers.staging import needs_postprocess, postprocess, preprocess
from lwr.managers.util.job_script import InvalidEnvironment, env_to_statement

__all__ = ["StatefulManagerProxy", "ActiveJobs", "PendingTerminalStatuses", "UnknownJob", "JobStateConflict",
           "NotCancelled", "InvalidEnvironment"]

log = logging.getLogger(__name__)


class StatefulManagerProxy(ProxyHooks, ManagerInterface):
    """Wraps a manager; every route talks to this object.  ``start()`` recovers the active jobs
    and starts the monitor; the constructor starts nothing."""

    def __init__(self, proxied_manager: ManagerInterface, persistence_directory=None, min_polling_interval=None,
                 threads=None, **kwds):
        self._proxied_manager = proxied_manager
        self.name = proxied_manager.name
        self.threads = threads if threads is not None else proxied_manager.threads
        self.min_polling_interval = float(min_polling_interval if min_polling_interval not in (None, "")
                                          else 0.5)
        self.active_jobs = ActiveJobs(persistence_directory, self.name)
        self._init_hooks(persistence_directory)
        self.staging_observer = None  # observe(direction, file_type, size, seconds) of each file staged here
        self._memory_failures = {}
        self._postprocessing = set()
        self._guard = threading.Lock()
        self.monitor_thread = None
        self.monitor = JobMonitor(self.name, self.active_jobs.active_job_ids, self.advance, self.threads,
                                  interval=self.min_polling_interval, forget=self.active_jobs.deactivate,
                                  unknown=(UnknownJob,))
        proxied_manager.on_job_end = self._job_ended

    @property
    def proxied_manager(self) -> ManagerInterface:
        return self._proxied_manager

    @property
    def manager_type(self) -> str:
        return self._proxied_manager.manager_type

    @property
    def staging_directory(self) -> str:
        return self._proxied_manager.staging_directory

    # -- life cycle of the object ---------------------------------------------------------------
    def start(self):
        self._proxied_manager.start()
        self._recover()
        self.monitor_thread = self.monitor.start()  # an attribute: /healthz checks it is alive

    def shutdown(self, timeout=None):
        self.threads.stopping.set()
        self.monitor.shutdown(timeout)
        self._proxied_manager.shutdown(timeout)

    # -- delegated as they are ------------------------------------------------------------------
    def job_directory(self, job_id):
        return self._proxied_manager.job_directory(job_id)

    def setup_job(self, job_id, tool_id, tool_version, use_metadata=False,
                  preserve_galaxy_python_environment=False):
        job_id = self._proxied_manager.setup_job(
            job_id, tool_id, tool_version, use_metadata=use_metadata,
            preserve_galaxy_python_environment=preserve_galaxy_python_environment)
        self._tell_listeners(job_id, None, Phase.ACCEPTED)
        return job_id

    def authorize_submission(self, job_id, job_config):
        self._proxied_manager.authorize_submission(job_id, job_config)

    def return_code(self, job_id):
        return self._proxied_manager.return_code(job_id)

    def stdout_contents(self, job_id):
        return self._proxied_manager.stdout_contents(job_id)

    def stderr_contents(self, job_id):
        return self._proxied_manager.stderr_contents(job_id)

    def job_stdout_contents(self, job_id):
        return self._proxied_manager.job_stdout_contents(job_id)

    def job_stderr_contents(self, job_id):
        return self._proxied_manager.job_stderr_contents(job_id)

    def system_properties(self):
        return self._proxied_manager.system_properties()

    # -- job life cycle -------------------------------------------------------------------------
    def _existing_job_directory(self, job_id):
        job_directory = self._proxied_manager.job_directory(job_id)
        if not job_directory.exists():
            raise UnknownJob(job_id)
        return job_directory

    def _state(self, job_directory) -> JobState:
        state = job_directory.state(PROXY, self.name)
        if self._phase_listeners:
            state.on_change = lambda changed, previous, phase: self._tell_listeners(
                changed.job_id, previous, phase, changed)
        return state

    def handle_remote_staging(self, job_id, staging_config):
        self._state(self._existing_job_directory(job_id)).set(F.STAGING_CONFIG, staging_config)

    def launch(self, job_id, command_line, submit_params=None, dependencies_description=None, env=(),
               setup_params=None, touch_outputs=(), dynamic_file_sources=None, token_endpoint=None):
        """Record the launch durably, then stage and launch in a thread (answering OK at once).

        ``touch_outputs``: output names created empty first (so an output the tool never writes
        still exists); ``dynamic_file_sources``: the galaxy.json-like files whose contents the
        final status carries; ``token_endpoint`` is kept with the launch but not used.
        """
        job_directory = self._existing_job_directory(job_id)
        for entry in env or []:
            env_to_statement(entry)  # raises InvalidEnvironment -> 400 before anything is stored
        touch_paths = [job_directory.calculate_path(name, "output") for name in touch_outputs or ()]
        launch_config = {"command_line": command_line, "submit_params": submit_params or {},
                         "dependencies_description": dependencies_description, "env": list(env or []),
                         "setup_params": setup_params or {},
                         "dynamic_file_sources": dynamic_file_sources,
                         "token_endpoint": token_endpoint}
        with job_directory.lock("status"):
            if not job_directory.exists():  # removed (clean, retention) since the check above
                raise UnknownJob(job_id)
            state = self._state(job_directory)
            if state.submitted():
                raise JobStateConflict("job %s was already submitted" % job_id)
            for path in touch_paths:
                open(path, "ab").close()
            state.record_launch(launch_config)
            self.active_jobs.activate(job_id)
        self._launch_in_thread(job_id)

    def _launch_in_thread(self, job_id):
        self.threads.start("lwr-launch-%s" % job_id, self._stage_and_launch, job_id)

    def _stage_and_launch(self, job_id):
        job_directory = self._proxied_manager.job_directory(job_id)
        state = self._state(job_directory)
        try:
            config = state.launch_config()
            preprocess(job_directory, state.staging_config().get("setup", []), self.staging_observer)
            # Held across the launch so a cancel cannot slip in between the check and the launch.
            with job_directory.lock("status"):
                if state.terminal():
                    return  # cancelled while staging
                self._proxied_manager.launch(
                    job_id, config.get("command_line"), config.get("submit_params") or {},
                    dependencies_description=config.get("dependencies_description"),
                    env=config.get("env") or [])
                state.record_accepted()
        except Exception as exc:
            if not job_directory.exists():
                return
            log.exception("job %s: staging or launch failed", job_id)
            self._finish(job_directory, status.FAILED, "LWR could not launch the job: %s" % exc)
        self.monitor.wake()

    def get_status(self, job_id):
        """The job's status, read from its phase and (while it runs) its manager; changes nothing.

        When the manager's answer is ahead of the recorded phase (the job ended) the monitor is
        woken to record it, and until then the job reads ``running``: a client never sees
        ``complete`` before the outputs are pushed, nor ``queued`` after ``running``.
        """
        job_directory = self._existing_job_directory(job_id)
        with job_directory.lock("status"):
            if job_id in self._memory_failures:
                return status.FAILED
            phase = self._state(job_directory).phase()
            if phase in (Phase.ACCEPTED, Phase.PREPROCESSING):
                return status.PREPROCESSING
            if phase not in (Phase.SUBMITTED, Phase.RUNNING):
                return phase.value
            manager_status = self._proxied_manager.get_status(job_id)
        if status.is_job_done(manager_status):
            self.monitor.wake()
            return status.RUNNING  # it ran (or tried to); never back to queued once seen running
        if manager_status == status.RUNNING and phase == Phase.SUBMITTED:
            self.monitor.wake()
        return manager_status

    def advance(self, job_id):
        """Record what the manager reports (running once, the terminal status) and start pushing
        outputs; called by the monitor for every active job, and by ``kill``."""
        job_directory = self._existing_job_directory(job_id)
        with job_directory.lock("status"):
            state = self._state(job_directory)
            if job_id in self._memory_failures:
                if not state.terminal():  # not on disk yet (it was full): try again
                    self._finish(job_directory, status.FAILED, self._memory_failures[job_id])
                return
            phase = state.phase()
            if phase == Phase.POSTPROCESSING:
                self._postprocess_in_thread(job_id)  # after a restart; at most one at a time
                return
            if phase not in (Phase.SUBMITTED, Phase.RUNNING):
                return
            manager_status = self._proxied_manager.get_status(job_id)
            if manager_status == status.RUNNING and state.record_running():
                self._callback(status.RUNNING, job_id)
            if not status.is_job_done(manager_status):
                return
            final_status = self._proxied_manager.record_end(job_id)
            reason = None
            if final_status in (status.FAILED, status.LOST):
                reason = self._proxied_manager.failure_reason(job_id)
            self._finish(job_directory, final_status, reason)

    def _finish(self, job_directory, final_status, reason=None):
        """Record the job's one terminal status; start pushing outputs if it completed."""
        job_id = job_directory.job_id
        state = self._state(job_directory)
        with job_directory.lock("status"):
            if state.terminal():
                return
            outputs_pending = final_status == status.COMPLETE and needs_postprocess(state.staging_config())
            try:
                state.record_final(final_status, reason, outputs_pending=outputs_pending)
            except OSError as exc:
                # A full disk: a failed job reads failed from memory at once; the monitor retries
                # the write with backoff (a complete job reads running until it is written).
                if final_status in (status.FAILED, status.LOST):
                    self._memory_failures[job_id] = reason or "the job %s" % final_status
                log.warning("job %s: could not record its %s status yet: %s", job_id, final_status, exc)
                raise
            self._proxied_manager.forget_job(job_id)
            if outputs_pending:
                self._postprocess_in_thread(job_id)
                return
            if final_status != status.CANCELLED:
                self.terminal_pending.activate(job_id)  # MQ hook, before the job leaves the active list
            self.active_jobs.deactivate(job_id)
            if final_status != status.CANCELLED:
                self._callback(final_status, job_id)

    def _postprocess_in_thread(self, job_id):
        with self._guard:
            if job_id in self._postprocessing:
                return
            self._postprocessing.add(job_id)
        self.threads.start("lwr-postprocess-%s" % job_id, self._postprocess, job_id)

    def _postprocess(self, job_id):
        job_directory = self._proxied_manager.job_directory(job_id)
        state = self._state(job_directory)
        try:
            failures = postprocess(job_directory, state.staging_config(), self.staging_observer)
        except Exception as exc:
            log.exception("job %s: staging outputs failed", job_id)
            failures = [exc]
        finally:
            with self._guard:
                self._postprocessing.discard(job_id)
        if not job_directory.exists():
            return
        with job_directory.lock("status"):
            reason = None
            if failures:
                reason = "LWR could not send the job's outputs back: %s" % "; ".join(map(str, failures))
            state.record_postprocessed(reason)
            self.terminal_pending.activate(job_id)  # MQ hook
            self.active_jobs.deactivate(job_id)
            self._callback(status.FAILED if failures else status.COMPLETE, job_id)

    def record_failure(self, job_id, reason):
        """A request-level failure (disk full during an upload) makes the job ``failed``.

        Kept in memory too, since writing a marker on a full disk may itself fail.
        """
        self._memory_failures[job_id] = reason
        job_directory = self._proxied_manager.job_directory(job_id)
        try:
            with job_directory.lock("status"):
                self._state(job_directory).record_final(status.FAILED, reason)
            self.active_jobs.deactivate(job_id)
        except (OSError, JobStateConflict) as exc:
            log.warning("job %s: could not record failure on disk (%s): %s", job_id, exc, reason)

    def failure_reason(self, job_id):
        if job_id in self._memory_failures:
            return self._memory_failures[job_id]
        return self._state(self._proxied_manager.job_directory(job_id)).failure_reason()

    def kill(self, job_id):
        """Cancel the job.  ``NotCancelled`` (409) when the manager could not stop it: the job
        keeps running and reads as it does."""
        job_directory = self._existing_job_directory(job_id)
        with job_directory.lock("status"):
            state = self._state(job_directory)
            if state.terminal():
                return
            if not state.accepted():
                self._finish(job_directory, status.CANCELLED)
                return
        try:
            self._proxied_manager.kill(job_id)
        except Exception as exc:
            log.warning("job %s: cancelling failed, the job keeps running: %s", job_id, exc)
            raise NotCancelled("job %s could not be cancelled: %s" % (job_id, exc)) from exc
        self.advance(job_id)

    def clean(self, job_id):
        """Remove the job; a job still running is cancelled first, and stays (``NotCancelled``)
        when that fails: its directory must not go while the job writes in it."""
        job_directory = self._existing_job_directory(job_id)
        state = self._state(job_directory)
        if not state.terminal() and state.launch_recorded():
            self.kill(job_id)  # NotCancelled propagates: nothing is removed
        self.forget(job_id)
        self._proxied_manager.clean(job_id)

    def forget(self, job_id):
        """Drop everything this manager keeps about a job whose directory goes (clean, retention)."""
        self.active_jobs.deactivate(job_id)
        self.terminal_pending.deactivate(job_id)  # MQ hook
        self._memory_failures.pop(job_id, None)
        self._proxied_manager.forget_job(job_id)
        self._tell_listeners(job_id, None, None)

    def forget_job(self, job_id):
        self.forget(job_id)

    def recover_active_job(self, job_id):
        self._recover_job(job_id)

    def record_end(self, job_id):
        return self.get_status(job_id)

    def is_active(self, job_id) -> bool:
        """True while the job is on this manager's active list (not yet finished)."""
        return self.active_jobs.contains(job_id)

    # -- restart --------------------------------------------------------------------------------
    def _recover(self):
        for job_id in self.active_jobs.active_job_ids():
            try:
                self._recover_job(job_id)
            except Exception:
                log.exception("job %s: recovery failed", job_id)

    def _recover_job(self, job_id):
        job_directory = self._proxied_manager.job_directory(job_id)
        if not job_directory.exists():
            self.active_jobs.deactivate(job_id)
            return
        state = self._state(job_directory)
        phase = state.phase()
        if phase == Phase.POSTPROCESSING:
            self._postprocess_in_thread(job_id)
        elif state.terminal():
            self.active_jobs.deactivate(job_id)
        elif phase in (Phase.SUBMITTED, Phase.RUNNING):
            self._proxied_manager.recover_active_job(job_id)
        elif state.accepted():
            # Died after the manager accepted the job but before the proxy recorded it.
            state.record_accepted()
            self._proxied_manager.recover_active_job(job_id)
        elif state.launch_recorded():
            log.info("job %s: staging was interrupted by a restart; starting it again", job_id)
            self._launch_in_thread(job_id)
        else:
            self.active_jobs.deactivate(job_id)
