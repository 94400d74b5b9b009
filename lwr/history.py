"""Job history: a summary of every finished job, kept in SQLite so that it survives restarts.

One row per (manager, job id): tool, the time the job reached each phase, its final state,
exit code, failure reason and the bytes staged in and out.  Rows are written when a job
reaches a terminal phase (:func:`summary_from_directory` reads the job directory's facts) and
pruned to ``job_history_max_days`` and ``job_history_max_rows``.  The file is
``<persistence_directory>/job_history.sqlite`` unless ``job_history_file`` names another;
``job_history_max_rows = 0`` turns the history off.

Standard library and :mod:`lwr.managers.job_state` only (the job's facts are read through
``JobState``, never by file name).  Each call is one short statement on the process's
connection, under a lock: writers are the threads finishing jobs, readers the status routes.
"""
import json
import logging
import os
import sqlite3
import threading
import time
from typing import List, Optional

from lwr.managers.job_state import READER, JobState
from lwr.managers.job_state import facts as F
from lwr.managers.job_state.state import bytes_below

__all__ = ["JobHistory", "HistoryRecorder", "summary_from_directory", "DEFAULT_MAX_DAYS", "DEFAULT_MAX_ROWS", "HISTORY_OPTIONS",
           "PHASE_FACTS"]

log = logging.getLogger(__name__)

DEFAULT_MAX_DAYS = 30.0
DEFAULT_MAX_ROWS = 10000
HISTORY_OPTIONS = ("job_history_file", "job_history_max_days", "job_history_max_rows")

#: The phase each fact marks, by the time it was written.
PHASE_FACTS = (("accepted", F.TOOL_ID), ("preprocessing", F.LAUNCH_CONFIG), ("submitted", F.PREPROCESSED),
               ("running", F.RUNNING), ("finished", F.FINAL_STATUS), ("postprocessed", F.POSTPROCESSED))

#: Prune at most once per this many inserts (and at start).
_PRUNE_EVERY = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    manager TEXT NOT NULL,
    job_id TEXT NOT NULL,
    tool_id TEXT,
    tool_version TEXT,
    state TEXT NOT NULL,
    exit_code INTEGER,
    failure_reason TEXT,
    bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0,
    timestamps TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (manager, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_finished_at ON jobs (finished_at);
"""
_COLUMNS = ("manager", "job_id", "tool_id", "tool_version", "state", "exit_code", "failure_reason",
            "bytes_in", "bytes_out", "timestamps", "finished_at")


class JobHistory:
    """The store; :meth:`record` a finished job, :meth:`recent` / :meth:`totals_since` to read."""

    def __init__(self, path: Optional[str], max_days: float = DEFAULT_MAX_DAYS, max_rows: int = DEFAULT_MAX_ROWS):
        self.path = path
        self.max_days = max_days
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._inserts = 0
        self._connection_of = None  # (pid, connection)
        if self.enabled:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with self._lock:
                self._connection.executescript(_SCHEMA)
            self.prune()

    @property
    def _connection(self):
        """This process's connection, shared by its threads and always used under the lock.
        A server that forks its workers after building the app (uWSGI without lazy-apps) gives
        each worker its own: an SQLite connection must not cross a fork."""
        if self._connection_of is None or self._connection_of[0] != os.getpid():
            connection = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
            # Write-ahead log, synced at checkpoints only: an insert costs microseconds instead of
            # an fsync (~1 ms, and more under load) in the thread that records the job's end. A
            # power cut may lose the last few rows of history, never the database.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._connection_of = (os.getpid(), connection)
        return self._connection_of[1]

    @property
    def enabled(self) -> bool:
        return bool(self.path) and self.max_rows > 0

    @classmethod
    def from_config(cls, conf: dict, persistence_directory: str) -> "JobHistory":
        """ValueError naming the option when a value is not a number (or is negative)."""
        path = conf.get("job_history_file") or os.path.join(persistence_directory, "job_history.sqlite")
        max_days = _number(conf, "job_history_max_days", DEFAULT_MAX_DAYS, float)
        max_rows = _number(conf, "job_history_max_rows", DEFAULT_MAX_ROWS, int)
        return cls(path, max_days, max_rows)

    def record(self, summary: dict) -> None:
        """Insert (or replace: a job id set up again) one finished job's summary."""
        if not self.enabled:
            return
        row = dict(summary)
        row["timestamps"] = json.dumps(row.get("timestamps") or {}, sort_keys=True)
        row.setdefault("finished_at", time.time())
        values = [row.get(column) for column in _COLUMNS]
        for index, column in enumerate(_COLUMNS):
            if column in ("bytes_in", "bytes_out"):
                values[index] = int(values[index] or 0)
        with self._lock:
            self._connection.execute("INSERT OR REPLACE INTO jobs (%s) VALUES (%s)"
                                     % (", ".join(_COLUMNS), ", ".join("?" * len(_COLUMNS))), values)
            self._inserts += 1
            due = self._inserts % _PRUNE_EVERY == 0
        if due:
            self.prune()

    def prune(self, now: Optional[float] = None) -> int:
        """Drop rows older than ``max_days`` and the oldest past ``max_rows``; the count dropped."""
        if not self.enabled:
            return 0
        cutoff = (now if now is not None else time.time()) - self.max_days * 86400
        with self._lock:
            dropped = self._connection.execute("DELETE FROM jobs WHERE finished_at < ?", (cutoff,)).rowcount
            dropped += self._connection.execute(
                "DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs ORDER BY finished_at DESC LIMIT -1 OFFSET ?)",
                (self.max_rows,)).rowcount
        return dropped

    def recent(self, limit: int = 20, manager: Optional[str] = None) -> List[dict]:
        """The latest finished jobs, newest first."""
        if not self.enabled:
            return []
        query = "SELECT %s FROM jobs" % ", ".join(_COLUMNS)
        args: list = []
        if manager is not None:
            query += " WHERE manager = ?"
            args.append(manager)
        query += " ORDER BY finished_at DESC LIMIT ?"
        args.append(int(limit))
        with self._lock:
            rows = self._connection.execute(query, args).fetchall()
        return [_as_dict(row) for row in rows]

    def totals_since(self, since: float) -> dict:
        """``{"jobs", "failed", "bytes_in", "bytes_out"}`` over jobs finished after ``since``."""
        if not self.enabled:
            return {"jobs": 0, "failed": 0, "bytes_in": 0, "bytes_out": 0}
        with self._lock:
            jobs, failed, bytes_in, bytes_out = self._connection.execute(
                "SELECT COUNT(*), SUM(state != 'complete'), SUM(bytes_in), SUM(bytes_out) FROM jobs"
                " WHERE finished_at >= ?", (since,)).fetchone()
        return {"jobs": jobs or 0, "failed": failed or 0, "bytes_in": bytes_in or 0, "bytes_out": bytes_out or 0}

    def count(self) -> int:
        if not self.enabled:
            return 0
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            owned, self._connection_of = self._connection_of, None
            self.path = None  # closed: later calls are no-ops, not errors
        if owned is not None and owned[0] == os.getpid():
            owned[1].close()


def _as_dict(row) -> dict:
    entry = dict(zip(_COLUMNS, row))
    try:
        entry["timestamps"] = json.loads(entry["timestamps"])
    except ValueError:
        entry["timestamps"] = {}
    return entry


def _number(conf, name, default, kind):
    value = conf.get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = kind(str(value).strip())
    except ValueError:
        raise ValueError("%s must be a %s, not %r" % (name, "whole number" if kind is int else "number", value))
    if number < 0:
        raise ValueError("%s must not be negative, not %r" % (name, value))
    return number


# -- reading a finished job's directory -----------------------------------------------------------
def summary_from_directory(manager: str, job_id: str, path: str, state: Optional[str] = None) -> dict:
    """A job's summary, asked of the :class:`JobState` of its directory ``path`` (a read)."""
    job = JobState(path, job_id, READER, manager)
    timestamps = {}
    for phase, fact in PHASE_FACTS:
        written = job.written_at(fact)
        if written is not None:
            timestamps[phase] = round(written, 3)
    tool_id, tool_version, reason = job.get(F.TOOL_ID), job.get(F.TOOL_VERSION), job.failure_reason()
    return {
        "manager": manager,
        "job_id": job_id,
        "tool_id": tool_id if isinstance(tool_id, str) else None,
        "tool_version": tool_version if isinstance(tool_version, str) else None,
        "state": state or job.final_status() or "unknown",
        "exit_code": job.return_code(),
        "failure_reason": None if reason is None else str(reason),
        "bytes_in": bytes_below(os.path.join(path, "inputs")),
        "bytes_out": bytes_below(os.path.join(path, "outputs")),
        "timestamps": timestamps,
        "finished_at": max(timestamps.values()) if timestamps else time.time(),
    }


class HistoryRecorder:
    """A phase listener (:meth:`lwr.managers.stateful.StatefulManagerProxy.add_phase_listener`):
    records each job reaching a terminal phase."""

    TERMINAL = ("complete", "failed", "cancelled", "lost")

    def __init__(self, history: JobHistory, staging_directory: str):
        self.history = history
        self.staging_directory = os.path.abspath(staging_directory)

    def __call__(self, manager_name, job_id, previous, phase, state=None) -> None:
        if phase is None or str(phase) not in self.TERMINAL or not self.history.enabled:
            return
        path = state.path if state is not None else os.path.join(self.staging_directory, job_id)
        try:
            self.history.record(summary_from_directory(manager_name, job_id, path, str(phase)))
        except Exception:  # the history is a report: failing to write it never fails the job
            log.exception("job %s: could not record it in the job history", job_id)
