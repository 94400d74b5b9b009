"""``JobMonitor``: advances every active job of one manager, whether or not a client polls.

Status reads change nothing (:meth:`StatefulManagerProxy.get_status`); this loop is what
records a job's progress: it calls ``advance(job_id)`` for each active job every
``interval`` seconds, or at once after :meth:`wake` (a status read that saw the manager's
answer move on, a kill).  A job whose ``advance`` keeps failing (its directory unreadable, a
scheduler command broken) is retried with exponential backoff up to ``max_backoff``
seconds; its failure is logged with a traceback the first time and as one line after each
further attempt, instead of every ``interval``.
"""
import logging
import threading
import time
from typing import Callable, Dict, Iterable, Optional, Tuple

__all__ = ["JobMonitor"]

log = logging.getLogger(__name__)


class JobMonitor:

    def __init__(self, name: str, active_job_ids: Callable[[], Iterable[str]], advance: Callable[[str], None],
                 threads, interval: float = 0.5, max_backoff: float = 60.0,
                 forget: Callable[[str], None] = lambda job_id: None,
                 unknown: Tuple[type, ...] = (), clock: Callable[[], float] = time.monotonic):
        self.name, self.threads, self.clock = name, threads, clock
        # what to advance, how, and what to do with a job that is gone (``unknown`` raised)
        self.active_job_ids, self.advance, self.forget, self.unknown = active_job_ids, advance, forget, unknown
        self.interval, self.max_backoff = interval, max_backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failures: Dict[str, Tuple[int, float]] = {}  # job id -> (failures in a row, next try)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> threading.Thread:
        self._thread = self.threads.start("lwr-%s-monitor" % self.name, self._loop)
        return self._thread

    def wake(self) -> None:
        """Advance the jobs now rather than at the next interval."""
        self._wake.set()

    def shutdown(self, timeout: Optional[float] = None) -> None:
        self._stop.set()
        self._wake.set()
        self.threads.join(self._thread, timeout if timeout is not None else 5)

    def _stopping(self) -> bool:
        return self._stop.is_set() or self.threads.stopping.is_set()

    def _loop(self) -> None:
        while not self._stopping():
            started = self.clock()
            self._wake.clear()
            self.run_once()
            self._wake.wait(max(self.interval - (self.clock() - started), 0.05))

    def run_once(self) -> None:
        now = self.clock()
        active = list(self.active_job_ids())
        for job_id in list(self._failures):
            if job_id not in active:
                del self._failures[job_id]
        for job_id in active:
            if self._stopping():
                return
            failed, next_try = self._failures.get(job_id, (0, 0.0))
            if now < next_try:
                continue
            try:
                self.advance(job_id)
            except self.unknown:
                self.forget(job_id)
                self._failures.pop(job_id, None)
                continue
            except Exception as exc:
                failed += 1
                delay = min(self.interval * 2 ** failed, self.max_backoff)
                self._failures[job_id] = (failed, now + delay)
                if failed == 1:
                    log.exception("job %s: advancing its state failed; retrying in %.1fs", job_id, delay)
                else:
                    log.warning("job %s: advancing its state failed again (%d times in a row, retrying in "
                                "%.1fs): %s", job_id, failed, delay, exc)
                continue
            if failed:
                log.info("job %s: advancing its state works again after %d failures", job_id, failed)
            self._failures.pop(job_id, None)

    def backoff(self, job_id: str) -> Optional[Tuple[int, float]]:
        """``(failures in a row, next try)`` of a failing job, None when it is fine."""
        return self._failures.get(job_id)
