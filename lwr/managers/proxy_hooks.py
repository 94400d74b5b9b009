"""What the stateful proxy tells others about its jobs: phase listeners (job history, metrics),
the status callback and the terminal statuses awaiting confirmed publication (message queue);
and what it does when its manager sees a job's process end (:meth:`ProxyHooks._job_ended`)."""
import logging

from lwr import file_digests
from lwr.managers.active_jobs import PendingTerminalStatuses

__all__ = ["ProxyHooks"]

log = logging.getLogger(__name__)


class ProxyHooks:
    """Mixed into :class:`lwr.managers.stateful.StatefulManagerProxy` (needs ``name``)."""

    def _init_hooks(self, persistence_directory):
        self.terminal_pending = PendingTerminalStatuses(persistence_directory, self.name)  # MQ hook
        self.state_change_callback = lambda status_, job_id: None
        self._phase_listeners = []

    def set_state_change_callback(self, callback):
        self.state_change_callback = callback

    def add_phase_listener(self, listener):
        """``listener(manager_name, job_id, previous, phase, state)`` after each phase change of
        a job of this manager, under the job's lock (keep it quick): ``state`` is the job's
        :class:`JobState`; ``previous`` and ``state`` are None when the job was just set up,
        ``phase`` and ``state`` None when it goes (clean, retention)."""
        self._phase_listeners.append(listener)

    def _tell_listeners(self, job_id, previous, phase, state=None):
        for listener in self._phase_listeners:
            try:
                listener(self.name, job_id, previous, phase, state)
            except Exception:
                log.exception("job %s: phase listener %r failed", job_id, listener)

    # -- message-queue hook: terminal statuses awaiting confirmed publication ------------------
    def terminal_status_pending_job_ids(self):
        """Jobs whose terminal status callback fired (or was due) but was not confirmed published."""
        return self.terminal_pending.active_job_ids()

    def terminal_status_pending(self, job_id) -> bool:
        return self.terminal_pending.contains(job_id)

    def confirm_terminal_status(self, job_id):
        """The job's terminal status reached its consumer; stop offering it after restarts."""
        self.terminal_pending.deactivate(job_id)

    def _callback(self, new_status, job_id):
        try:
            self.state_change_callback(new_status, job_id)
        except Exception:
            log.exception("job %s: status callback for %s failed", job_id, new_status)

    # -- a local job's process ended ---------------------------------------------------------------
    def _job_ended(self, job_id):
        """Told by the manager's thread that waited for the job (``on_job_end``): the digests of
        the job's small outputs are recorded while the files are in the page cache (the
        download that follows answers ``Repr-Digest`` without reading them first), then the
        monitor is woken to record the end at once."""
        try:
            job_directory = self._proxied_manager.job_directory(job_id)
            file_digests.record_small_files(job_directory.path, (job_directory.sub_directory("outputs"),
                                                                 job_directory.sub_directory("working")))
        except Exception:
            log.debug("job %s: recording its outputs' digests failed", job_id, exc_info=True)
        self.monitor.wake()
