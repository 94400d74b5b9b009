"""A durable, ordered outbox of status messages waiting for the broker's confirmation.

Each entry is one JSON file in ``<persistence_directory>/<manager>-status-outbox``,
written atomically (temporary name, fsync, rename) before the publisher tries
to send it; it is removed only after the broker confirmed the message.  A
process killed at any point therefore either never promised the message or
will send it again after the restart.

Terminal statuses (complete / failed / lost) are de-duplicated here: at most
one terminal entry per job is ever queued, and a terminal status coming from
the job manager is queued only while the manager still lists the job as
"terminal status pending" (so a status already confirmed is never queued
again).
"""
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from typing import Callable, List, Optional

__all__ = ["StatusOutbox", "OutboxEntry", "TERMINAL_STATUSES"]

log = logging.getLogger(__name__)

TERMINAL_STATUSES = ("complete", "failed", "lost")


class OutboxEntry:
    """One queued status message: ``payload`` is the ``status_update`` body."""

    def __init__(self, path: str, sequence: int, status: str, job_id: str, payload: dict):
        self.path = path
        self.sequence = sequence
        self.status = status
        self.job_id = job_id
        self.payload = payload

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def __repr__(self):
        return "OutboxEntry(%s, %s)" % (self.job_id, self.status)


def _job_key(job_id) -> str:
    return hashlib.sha1(str(job_id).encode("utf-8")).hexdigest()[:20]


class StatusOutbox:
    """Ordered on-disk queue of ``status_update`` payloads for one manager."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._lock = threading.RLock()
        self._wakeup = threading.Event()
        self._counter = itertools.count()
        self._entries = {}  # path -> OutboxEntry
        for entry in self._read_all():
            self._entries[entry.path] = entry

    @property
    def lock(self):
        return self._lock

    @property
    def wakeup(self) -> threading.Event:
        return self._wakeup

    # -- adding --------------------------------------------------------------------------------
    def put(self, job_id: str, status: str, payload: dict,
            still_pending: Optional[Callable[[], bool]] = None) -> bool:
        """Queue ``payload``; False when it was a duplicate (and nothing was written).

        ``still_pending`` (terminal statuses from the job manager): called under
        the outbox lock; the entry is queued only if it returns True.
        """
        with self._lock:
            if self._has(job_id, status):
                return False
            if status in TERMINAL_STATUSES:
                if any(e.terminal and e.job_id == job_id for e in self._entries.values()):
                    return False
                if still_pending is not None and not still_pending():
                    return False
            entry = self._write(job_id, status, payload)
            self._entries[entry.path] = entry
        self._wakeup.set()
        return True

    def _has(self, job_id, status) -> bool:
        return any(e.job_id == job_id and e.status == status for e in self._entries.values())

    def _write(self, job_id, status, payload) -> OutboxEntry:
        sequence = time.time_ns() * 1000 + next(self._counter) % 1000
        name = "%025d.%s.%s.json" % (sequence, status, _job_key(job_id))
        path = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, ".%s.tmp" % name)
        data = json.dumps({"job_id": job_id, "status": status, "payload": payload}).encode("utf-8")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_directory(self.directory)
        return OutboxEntry(path, sequence, status, job_id, payload)

    # -- reading and removing ------------------------------------------------------------------
    def pending(self) -> List[OutboxEntry]:
        """Entries not yet confirmed, oldest first."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e.sequence)

    def remove(self, entry: OutboxEntry, before_remove: Optional[Callable[[OutboxEntry], None]] = None) -> None:
        """Forget a confirmed entry; ``before_remove(entry)`` runs under the lock first."""
        with self._lock:
            if before_remove is not None:
                before_remove(entry)
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
            self._entries.pop(entry.path, None)

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def _read_all(self):
        entries = []
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            if name.startswith("."):
                if name.endswith(".tmp"):
                    _unlink_quietly(path)  # never renamed into place: it was never promised
                continue
            try:
                sequence = int(name.split(".", 1)[0])
                with open(path, "rb") as handle:
                    record = json.loads(handle.read().decode("utf-8"))
                entries.append(OutboxEntry(path, sequence, record["status"], record["job_id"],
                                           record["payload"]))
            except (ValueError, KeyError, OSError) as exc:
                log.error("status outbox: discarding unreadable entry %s: %s", path, exc)
                _unlink_quietly(path)
        return entries


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
