"""Polling with a deadline: the one place tests wait for something to happen.

Every wait reads at least once, sleeps ``interval`` between reads and, once ``timeout``
seconds have passed, fails with an ``AssertionError`` that names what it waited for and
the last value it read (``eventually`` answers ``False`` instead, for tests that assert
on it themselves).  ``message`` may be a callable, called only on failure, so that a
costly diagnostic (a server log) is read only when it is shown.
"""
import time

import psutil

__all__ = ["wait_for", "wait_for_value", "eventually", "process_ended"]


def _poll(read, accept, timeout, interval):
    """``(True, value)`` once ``accept(value)``; ``(False, last value)`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(interval)


def wait_for_value(read, accept, timeout=10.0, message="a value", interval=0.05):
    """Call ``read()`` until ``accept(value)``; return that value."""
    done, value = _poll(read, accept, timeout, interval)
    if not done:
        what = message() if callable(message) else message
        raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, value))
    return value


def wait_for(predicate, timeout=10.0, message="a condition", interval=0.05):
    """Call ``predicate()`` until it answers something true; return that answer."""
    return wait_for_value(predicate, bool, timeout, message, interval)


def eventually(predicate, timeout=10.0, interval=0.05) -> bool:
    """Whether ``predicate()`` answers true within ``timeout`` seconds."""
    return _poll(predicate, bool, timeout, interval)[0]


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` has exited (gone, or a zombie its parent has not reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
