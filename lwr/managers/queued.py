"""``queued_python``: LWR's own queue, N worker threads running local processes (spec §3.4)."""
import logging
import os
import queue

from lwr.managers.job_state import facts as F
from lwr.managers.unqueued import Manager

__all__ = ["QueueManager", "parse_concurrency"]

log = logging.getLogger(__name__)

_STOP = object()


def parse_concurrency(value, default: int = 1) -> int:
    """``num_concurrent_jobs`` / ``max_concurrent_jobs``: an integer, or ``*`` for the CPU count."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip()
    if text == "*":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise ValueError("num_concurrent_jobs must be an integer or '*', not %r" % value)
    if count < 0:
        raise ValueError("num_concurrent_jobs must not be negative, got %d" % count)
    return count


class QueueManager(Manager):
    """Jobs wait in a FIFO queue; ``num_concurrent_jobs`` of them run at once."""

    manager_type = "queued_python"

    def __init__(self, name, app, **kwds):
        super().__init__(name, app, **kwds)
        # 0.2.0 read num_concurrent_jobs while its sample file said max_concurrent_jobs: accept both.
        value = kwds.get("num_concurrent_jobs", kwds.get("max_concurrent_jobs"))
        self.num_concurrent_jobs = parse_concurrency(value)
        self.work_queue = queue.Queue()
        self.workers = []

    def start(self):
        super().start()
        self.workers = [self.threads.start("lwr-%s-worker-%d" % (self.name, index), self._work)
                        for index in range(self.num_concurrent_jobs)]

    def _start(self, job_id, script):
        job_directory = self.job_directory(job_id)
        state = self.job_state(job_id)
        with job_directory.lock():
            state.set(F.COMMAND_LINE, script)
        self.work_queue.put(job_id)

    def _work(self):
        while True:
            job_id = self.work_queue.get()
            if job_id is _STOP or self.threads.stopping.is_set():
                return  # a job still queued keeps its command_line fact: queued again at the next start
            try:
                self._run_job(job_id, self._script_path(job_id), wait_in_thread=False)
            except Exception:
                log.exception("running queued job %s failed", job_id)

    def shutdown(self, timeout=None):
        self.threads.stopping.set()
        for _ in self.workers:
            self.work_queue.put(_STOP)
        # A worker waiting for a running job's process sees threads.stopping and lets go of it:
        # the job survives and is re-attached at the next start.
        for worker in self.workers:
            self.threads.join(worker, timeout if timeout is not None else 5)
