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

Each entry also records the exchange it goes to (``route``; None = the
binding's first) and a uuid for Pulsar's acknowledgement protocol.  With
``amqp_acknowledge`` on, a published entry stays, marked with the time it was
published, until the consumer's ``acknowledge_uuid_response`` names its uuid.
"""
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from typing import Callable, List, Optional

from lwr.lwr_client.util import ReplacingFile

__all__ = ["StatusOutbox", "OutboxEntry", "TERMINAL_STATUSES"]

log = logging.getLogger(__name__)

TERMINAL_STATUSES = ("complete", "failed", "lost")


class OutboxEntry:
    """One queued status message: ``payload`` is the ``status_update`` body.

    ``published_at`` (epoch seconds) is set only while the entry waits for the
    consumer's acknowledgement after the broker took it.
    """

    def __init__(self, path: str, sequence: int, status: str, job_id: str, payload: dict,
                 route: Optional[str] = None, ack_uuid: Optional[str] = None,
                 published_at: Optional[float] = None):
        self.path = path
        self.sequence = sequence
        self.status = status
        self.job_id = job_id
        self.payload = payload
        self.route = route
        self.ack_uuid = ack_uuid or str(uuid.uuid1())
        self.published_at = published_at

    def record(self) -> dict:
        return {"job_id": self.job_id, "status": self.status, "payload": self.payload, "route": self.route,
                "ack_uuid": self.ack_uuid, "published_at": self.published_at}

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
            still_pending: Optional[Callable[[], bool]] = None, route: Optional[str] = None) -> bool:
        """Queue ``payload`` for exchange ``route``; False when it was a duplicate (and nothing was written).

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
            entry = self._write(job_id, status, payload, route)
            self._entries[entry.path] = entry
        self._wakeup.set()
        return True

    def _has(self, job_id, status) -> bool:
        return any(e.job_id == job_id and e.status == status for e in self._entries.values())

    def _write(self, job_id, status, payload, route) -> OutboxEntry:
        sequence = time.time_ns() * 1000 + next(self._counter) % 1000
        name = "%025d.%s.%s.json" % (sequence, status, _job_key(job_id))
        entry = OutboxEntry(os.path.join(self.directory, name), sequence, status, job_id, payload, route)
        self._store(entry)
        return entry

    def _store(self, entry: OutboxEntry) -> None:
        """Write ``entry`` atomically (temporary name, fsync, rename over the old version)."""
        with ReplacingFile(entry.path, suffix=".tmp", mode=0o666, fsync=True) as handle:
            handle.write(json.dumps(entry.record()).encode("utf-8"))
        _fsync_directory(self.directory)

    # -- acknowledgements ----------------------------------------------------------------------
    def mark_published(self, entry: OutboxEntry, when: Optional[float] = None) -> None:
        """The broker took ``entry``; keep it until its acknowledgement arrives (republished when late)."""
        with self._lock:
            if entry.path not in self._entries:
                return
            entry.published_at = time.time() if when is None else when
            self._store(entry)

    def acknowledged(self, ack_uuid: str) -> Optional[OutboxEntry]:
        """Forget the entry whose acknowledgement arrived; None if no entry has that uuid."""
        with self._lock:
            for entry in list(self._entries.values()):
                if entry.ack_uuid == ack_uuid:
                    self.remove(entry)
                    return entry
        return None

    def drop_superseded(self, job_id: str) -> List[OutboxEntry]:
        """Forget the job's non-terminal entries still awaiting an acknowledgement.

        Called once its terminal status went out: republishing an old ``running``
        after that would move the job backwards on the consumer's side.
        """
        with self._lock:
            stale = [e for e in self._entries.values()
                     if e.job_id == job_id and not e.terminal and e.published_at is not None]
            for entry in stale:
                self.remove(entry)
        return stale

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
                                           record["payload"], record.get("route"), record.get("ack_uuid"),
                                           record.get("published_at")))
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
