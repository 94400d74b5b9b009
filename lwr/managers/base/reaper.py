"""Deleting job directories off the request path.

``clean`` renames a job directory to a hidden ``.deleting-<job_id>-<random>`` name in the
staging directory, which takes the job's name away at once (the id is free, every route
answers 404), and a single background thread removes the tree: on a busy server removing a
job's inputs and outputs is a large part of the work, and the client need not wait for it.
Trees left by a stopped server are removed when the next one starts (:func:`sweep`, run by
:mod:`lwr.managers.base.leftovers`).
"""
import logging
import os
import queue
import shutil
import tempfile
import threading
import time

__all__ = ["discard_tree", "sweep", "wait_idle", "DELETING_PREFIX"]

log = logging.getLogger(__name__)

DELETING_PREFIX = ".deleting-"
SETUP_PREFIX = ".setup-"

_pending: "queue.Queue[str]" = queue.Queue()
_thread_lock = threading.Lock()
_thread = None


def discard_tree(path: str, job_id: str) -> None:
    """Take ``path`` (a job directory) out of the way now and delete it in the background."""
    staging = os.path.dirname(path)
    try:
        hidden = tempfile.mkdtemp(prefix="%s%s-" % (DELETING_PREFIX, job_id), dir=staging)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return
    target = os.path.join(hidden, "tree")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        os.rmdir(hidden)
        return
    except OSError as exc:
        log.warning("could not move %s aside (%s); deleting it in place", path, exc)
        os.rmdir(hidden)
        shutil.rmtree(path, ignore_errors=True)
        return
    _enqueue(hidden)


def sweep(staging_directory: str, started_ns: int) -> None:
    """Queue the deletion of trees an earlier server left in ``staging_directory``: every
    ``.deleting-*`` tree, and ``.setup-*`` trees last changed before ``started_ns`` (the start
    mark of :mod:`lwr.managers.base.leftovers`; later ones are setups of this server)."""
    try:
        names = os.listdir(staging_directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(staging_directory, name)
        if name.startswith(DELETING_PREFIX):
            _enqueue(path)
        elif name.startswith(SETUP_PREFIX):
            try:
                stale = os.lstat(path).st_ctime_ns < started_ns
            except OSError:
                continue
            if stale:
                _enqueue(path)


def wait_idle(timeout: float = 30.0) -> bool:
    """Block until every queued tree is deleted (tests, shutdown); False on timeout."""
    deadline = time.monotonic() + timeout
    while _pending.unfinished_tasks:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _enqueue(path: str) -> None:
    global _thread
    _pending.put(path)
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="lwr-directory-reaper", daemon=True)
            _thread.start()


def _work() -> None:
    while True:
        path = _pending.get()
        try:
            shutil.rmtree(path, onerror=_report)
        finally:
            _pending.task_done()


def _report(function, path, exc_info) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        log.warning("deleting %s: %s failed: %s", path, getattr(function, "__name__", function), exc_info[1])
