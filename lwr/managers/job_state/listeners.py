"""Who else is told when a job changes phase (the job history of the status page, ...).

:meth:`JobState._transition <lwr.managers.job_state.state.JobState>` calls :func:`notify`
after the new phase's facts are written and logged, in the thread that moved the job.  A
listener is ``listener(job_state, previous, phase)``; it must be quick and must not change the
job (it gets the proxy's :class:`JobState`, but a report has no business writing facts).  A
listener that raises is logged and the others still run: the job's phase is already recorded.

Listeners are per process; an app adds its own in ``start()`` and removes them in
``shutdown()``, so that several apps in one process (tests) each hear their own jobs (a
listener filters by the job's directory).  Standard library only.
"""
import logging
import threading

__all__ = ["add_listener", "remove_listener", "notify"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_listeners: tuple = ()  # replaced, never changed in place: notify reads it without the lock


def add_listener(listener) -> None:
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = _listeners + (listener,)


def remove_listener(listener) -> None:
    global _listeners
    with _lock:
        _listeners = tuple(known for known in _listeners if known is not listener)


def notify(job_state, previous, phase) -> None:
    for listener in _listeners:
        try:
            listener(job_state, previous, phase)
        except Exception:
            log.exception("job %s: a listener of its change to %s failed", job_state.job_id, phase)
