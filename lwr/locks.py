"""Per-path locks.  LWR is a single process, so in-process re-entrant locks suffice."""
import threading
import weakref

__all__ = ["LockManager"]


class LockManager:
    """Hands out one re-entrant lock per path: while anyone holds (or waits for) a path's lock,
    everyone asking for that path gets the same lock.

    Locks are kept only as long as someone refers to them (``with job_directory.lock():``
    holds its lock for the whole block), so the map does not grow with the number of jobs
    a server has ever seen.
    """

    def __init__(self):
        self._locks = weakref.WeakValueDictionary()
        self._guard = threading.Lock()

    def get_lock(self, path: str) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(path)
            if lock is None:
                lock = self._locks[path] = threading.RLock()
            return lock

    def __len__(self) -> int:
        return len(self._locks)
