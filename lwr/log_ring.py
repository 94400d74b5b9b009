"""The last WARNING-or-worse log records, kept in memory for the status page (``/status``).

:class:`LogRing` is a :class:`logging.Handler` holding a bounded deque of small dicts
(time, level, logger, message); :func:`install` attaches the process's one ring to the
``lwr`` logger, which every LWR module's logger propagates to (again calling it returns the
same ring, attached again if a logging configuration loaded since removed it).  Not the root
logger: a handler there would make a later ``logging.basicConfig`` do nothing.  Messages pass
through the record factory that masks secrets (``lwr.web.access_log``) before any handler
sees them.
"""
import collections
import logging
import threading
from typing import List, Optional

__all__ = ["LogRing", "install", "DEFAULT_SIZE"]

DEFAULT_SIZE = 50
LOGGER = "lwr"
#: Longest message kept (a traceback's first lines are enough on a status page).
MAX_MESSAGE = 2000

_installed: Optional["LogRing"] = None
_install_lock = threading.Lock()


class LogRing(logging.Handler):
    def __init__(self, size: int = DEFAULT_SIZE, level: int = logging.WARNING):
        super().__init__(level)
        self._records = collections.deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message += " (%s: %s)" % (type(record.exc_info[1]).__name__, record.exc_info[1])
        self._records.append({"time": record.created, "level": record.levelname, "logger": record.name,
                              "message": message[:MAX_MESSAGE]})

    def records(self, limit: int = 20) -> List[dict]:
        """The newest ``limit`` records, newest first."""
        return list(reversed(list(self._records)))[:limit]

    def clear(self) -> None:
        self._records.clear()


def install(size: int = DEFAULT_SIZE) -> LogRing:
    """The process's ring, attached to the ``lwr`` logger."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = LogRing(size)
        logger = logging.getLogger(LOGGER)
        if _installed not in logger.handlers:
            logger.addHandler(_installed)
        return _installed
