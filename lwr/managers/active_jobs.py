"""Durable lists of job ids kept per manager in the persistence directory (survive restarts)."""
import os

__all__ = ["ActiveJobs", "PendingTerminalStatuses"]


class ActiveJobs:
    """Ids of jobs not yet finished: empty files in ``<persistence_directory>/<manager>-active-jobs``."""

    def __init__(self, persistence_directory, manager_name):
        self.directory = None
        if persistence_directory:
            self.directory = os.path.join(persistence_directory, "%s-active-jobs" % manager_name)
            os.makedirs(self.directory, exist_ok=True)

    def activate(self, job_id):
        if self.directory:
            open(os.path.join(self.directory, job_id), "a").close()

    def deactivate(self, job_id):
        if self.directory:
            try:
                os.unlink(os.path.join(self.directory, job_id))
            except FileNotFoundError:
                pass

    def active_job_ids(self):
        if not self.directory:
            return []
        return sorted(name for name in os.listdir(self.directory) if not name.startswith("."))

    def contains(self, job_id) -> bool:
        return bool(self.directory) and os.path.exists(os.path.join(self.directory, job_id))


class PendingTerminalStatuses(ActiveJobs):
    """Ids whose terminal status callback is due but not yet confirmed published.

    An empty file ``<persistence_directory>/<manager>-terminal-pending/<job_id>`` is
    created *before* the job leaves the active list, so a restart between the two
    never loses the job's one terminal status.  ``lwr.messaging`` removes the entry
    once the broker confirmed the status; ``clean`` removes it too (HTTP mode).
    """

    def __init__(self, persistence_directory, manager_name):
        self.directory = None
        if persistence_directory:
            self.directory = os.path.join(persistence_directory, "%s-terminal-pending" % manager_name)
            os.makedirs(self.directory, exist_ok=True)
