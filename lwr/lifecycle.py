"""``Threads``: the one place LWR creates threads, so every thread has an owner.

An :class:`lwr.core.LwrApp` owns one ``Threads``; the objects it builds (managers, the
stateful proxies, their monitors, the directory reaper, retention) receive it and start their
threads through it, only from their own ``start()``, never from a constructor.  Every thread
is named, tracked until it ends, and stopped by :meth:`Threads.shutdown`: it sets
:attr:`Threads.stopping`, which every loop started here waits on, then joins them all.

Threads are daemons on purpose: a thread blocked where it cannot see ``stopping`` (a
scheduler command, a slow disk) must not keep the process alive after ``shutdown`` gave up on
it; ``shutdown`` returns those it could not join so the caller can say so.

A server that forks after start (uWSGI without ``lazy-apps``) copies the ``Thread`` objects but
not the threads: threads started in another process are not waited for.
"""
import logging
import os
import threading
import time
from typing import Callable, List, Optional

__all__ = ["Threads"]

log = logging.getLogger(__name__)


class Threads:
    """Creates, names, tracks and joins the threads of one owner."""

    def __init__(self, owner: str = "lwr"):
        self.owner = owner
        self.stopping = threading.Event()
        self._threads = set()
        self._lock = threading.Lock()

    def start(self, name: str, target: Callable, *args) -> threading.Thread:
        """Run ``target(*args)`` in a new daemon thread called ``name``; its exception is logged."""
        thread = threading.Thread(target=self._run, args=(target, args), name=name, daemon=True)
        thread.lwr_pid = os.getpid()
        with self._lock:
            if self.stopping.is_set():
                raise RuntimeError("%s is shutting down: not starting %s" % (self.owner, name))
            self._threads.add(thread)
        thread.start()
        return thread

    def _run(self, target, args):
        try:
            target(*args)
        except Exception:
            log.exception("thread %s failed", threading.current_thread().name)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def alive(self) -> List[threading.Thread]:
        """Threads started here, in this process, still running."""
        pid = os.getpid()
        with self._lock:
            return [thread for thread in self._threads
                    if thread.is_alive() and getattr(thread, "lwr_pid", pid) == pid]

    @staticmethod
    def join(thread: Optional[threading.Thread], timeout: Optional[float] = None) -> None:
        """Join ``thread`` unless it is None or was started in another process (before a fork)."""
        if thread is not None and getattr(thread, "lwr_pid", os.getpid()) == os.getpid():
            thread.join(timeout)

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless shutting down; True once shutdown began."""
        return self.stopping.wait(seconds)

    def shutdown(self, timeout: Optional[float] = 5.0) -> List[threading.Thread]:
        """Ask every thread to stop and join them (all within ``timeout`` seconds); returns
        the threads still running after it (each logged)."""
        self.stopping.set()
        deadline = time.monotonic() + (timeout if timeout is not None else 5.0)
        current = threading.current_thread()
        for thread in self.alive():
            if thread is not current:
                thread.join(max(deadline - time.monotonic(), 0.0))
        left = [thread for thread in self.alive() if thread is not current]
        for thread in left:
            log.warning("%s: thread %s did not stop within the shutdown timeout", self.owner, thread.name)
        return left
