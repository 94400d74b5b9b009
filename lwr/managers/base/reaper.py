"""Deleting job directories off the request path.

``clean`` renames a job directory to a hidden ``.deleting-<job_id>-<random>`` name in the
staging directory, which takes the job's name away at once (the id is free, every route
answers 404), and a :class:`DirectoryReaper` thread removes the tree: on a busy server
removing a job's inputs and outputs is a large part of the work, and the client need not wait
for it.  The app owns one reaper (``LwrApp.reaper``); its thread exists only while there is
something to delete and is created through the app's :class:`lwr.lifecycle.Threads`.  Trees
left by a stopped server are removed when the next one starts (:meth:`DirectoryReaper.sweep`,
run by :mod:`lwr.managers.base.leftovers`).  Without a reaper (a manager built alone), trees
are deleted at once.
"""
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from typing import Optional

__all__ = ["DirectoryReaper", "discard_tree", "DELETING_PREFIX", "SETUP_PREFIX"]

log = logging.getLogger(__name__)

DELETING_PREFIX = ".deleting-"
SETUP_PREFIX = ".setup-"


class DirectoryReaper:
    """One background deleter of job trees (see the module documentation)."""

    def __init__(self, threads):
        self.threads = threads
        self._pending: "queue.Queue[str]" = queue.Queue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def discard(self, path: str, job_id: str) -> None:
        """Take ``path`` (a job directory) out of the way now and delete it in the background."""
        hidden = _move_aside(path, job_id)
        if hidden is not None:
            self._enqueue(hidden)

    def sweep(self, staging_directory: str, started_ns: int) -> None:
        """Queue the deletion of trees an earlier server left in ``staging_directory``: every
        ``.deleting-*`` tree, and ``.setup-*`` trees last changed before ``started_ns`` (the
        start mark of :mod:`lwr.managers.base.leftovers`; later ones are setups of this server)."""
        for path in _left_trees(staging_directory, started_ns):
            self._enqueue(path)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued tree is deleted (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._pending.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _enqueue(self, path: str) -> None:
        with self._lock:
            self._pending.put(path)
            if self._thread is not None:
                return
            try:
                self._thread = self.threads.start("lwr-directory-reaper", self._work)
            except RuntimeError:  # shutting down: the next start's sweep removes the tree
                self._thread = None

    def _work(self) -> None:
        while not self.threads.stopping.is_set():
            with self._lock:
                try:
                    path = self._pending.get_nowait()
                except queue.Empty:
                    self._thread = None  # under the lock: the next _enqueue starts a new thread
                    return
            try:
                shutil.rmtree(path, onerror=_report)
            finally:
                self._pending.task_done()
        with self._lock:
            self._thread = None


def discard_tree(path: str, job_id: str, reaper: Optional[DirectoryReaper] = None) -> None:
    """Remove a job directory: by ``reaper`` in the background, else at once."""
    if reaper is not None:
        reaper.discard(path, job_id)
        return
    hidden = _move_aside(path, job_id)
    if hidden is not None:
        shutil.rmtree(hidden, onerror=_report)


def sweep_now(staging_directory: str, started_ns: int) -> None:
    """:meth:`DirectoryReaper.sweep` without a reaper: delete the trees at once."""
    for path in _left_trees(staging_directory, started_ns):
        shutil.rmtree(path, onerror=_report)


def _move_aside(path: str, job_id: str) -> Optional[str]:
    staging = os.path.dirname(path)
    try:
        hidden = tempfile.mkdtemp(prefix="%s%s-" % (DELETING_PREFIX, job_id), dir=staging)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return None
    try:
        os.rename(path, os.path.join(hidden, "tree"))
    except FileNotFoundError:
        os.rmdir(hidden)
        return None
    except OSError as exc:
        log.warning("could not move %s aside (%s); deleting it in place", path, exc)
        os.rmdir(hidden)
        shutil.rmtree(path, ignore_errors=True)
        return None
    return hidden


def _left_trees(staging_directory: str, started_ns: int):
    try:
        names = os.listdir(staging_directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(staging_directory, name)
        if name.startswith(DELETING_PREFIX):
            yield path
        elif name.startswith(SETUP_PREFIX):
            try:
                stale = os.lstat(path).st_ctime_ns < started_ns
            except OSError:
                continue
            if stale:
                yield path


def _report(function, path, exc_info) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        log.warning("deleting %s: %s failed: %s", path, getattr(function, "__name__", function), exc_info[1])
