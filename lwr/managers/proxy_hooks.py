"""What the stateful proxy tells others about its jobs: phase listeners (job history, metrics),
the status callback and the terminal statuses awaiting confirmed publication (message queue)."""
import logging

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
