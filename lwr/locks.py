"""Per-path locks.  LWR is a single process, so in-process re-entrant locks suffice."""
import threading

__all__ = ["LockManager"]


class LockManager:
    """Hands out one re-entrant lock per path; the same path always gets the same lock."""

    def __init__(self):
        self._locks = {}
        self._guard = threading.Lock()

    def get_lock(self, path: str) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(path)
            if lock is None:
                lock = self._locks[path] = threading.RLock()
            return lock

    def forget(self, path_prefix: str) -> None:
        """Drop the locks of a cleaned job so the map does not grow forever."""
        with self._guard:
            for key in [k for k in self._locks if k.startswith(path_prefix)]:
                del self._locks[key]
