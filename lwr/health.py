"""What ``/healthz`` reports: each component of a running server, and whether it works.

Components:

* ``managers`` - every job manager: the threads it owns (queue workers, status monitor) are
  alive and its staging directory is writable; a manager may add its own checks with a
  ``health_problems()`` method returning a list of problem strings (empty when fine);
* ``broker`` (only with ``message_queue_url``) - a round trip to the message broker on a
  connection kept for this purpose (re-opened when it fails), and the consumer and
  publisher threads of every manager's binding alive;
* ``disk`` - the free space of the file system holding ``staging_directory``, at least
  ``healthz_min_free_bytes``; ``persistence_directory`` writable.

:meth:`HealthCheck.report` returns ``(ok, body)``: the route answers 200 with the body when
every component is fine, 503 with it (its ``reasons`` say what is down) otherwise.
"""
import json
import logging
import os
import threading
import time
from typing import List, Optional, Tuple

from webob import Response

import lwr
from lwr.lwr_client.amqp_exchange import mask_password
from lwr.lwr_client.progress import format_bytes, parse_size as parse_bytes

__all__ = ["HealthCheck", "health_response", "DEFAULT_MIN_FREE_BYTES", "BROKER_TIMEOUT", "BROKER_CACHE_SECONDS",
           "parse_bytes"]

log = logging.getLogger(__name__)

#: ``healthz_min_free_bytes`` default: 100 MiB.
DEFAULT_MIN_FREE_BYTES = 100 * 1024 * 1024
#: Longest a broker check waits (connect, or one round trip).
BROKER_TIMEOUT = 3.0
#: A broker check serves the requests of this many seconds (load balancers poll often).
BROKER_CACHE_SECONDS = 1.0


class HealthCheck:
    """Built once per app (the option is checked at start); :meth:`report` per request."""

    def __init__(self, app, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES):
        self.app = app
        self.min_free_bytes = min_free_bytes
        self._broker = _BrokerProbe()

    @classmethod
    def from_config(cls, app, conf) -> "HealthCheck":
        """ValueError naming ``healthz_min_free_bytes`` when its value is not a byte count."""
        value = (conf or {}).get("healthz_min_free_bytes")
        if value is None or str(value).strip() == "":
            return cls(app)
        return cls(app, parse_bytes(value, "healthz_min_free_bytes"))

    @classmethod
    def of(cls, app) -> "HealthCheck":
        """The app's health check, or one with the defaults for an app built without it."""
        check = getattr(app, "health", None)
        return check if isinstance(check, HealthCheck) else cls(app)

    def report(self) -> Tuple[bool, dict]:
        components, reasons = {}, []
        managers = getattr(self.app, "managers", None) or {}
        components["managers"] = {}
        for name, manager in managers.items():
            problems = _manager_problems(manager)
            entry = {"status": "down" if problems else "ok",
                     "type": getattr(manager, "manager_type", None) or type(manager).__name__}
            if problems:
                entry["problems"] = problems
                reasons += ["manager %s: %s" % (name, problem) for problem in problems]
            components["managers"][name] = entry
        binding = getattr(self.app, "message_queue_binding", None)
        if binding is not None:
            entry = self._broker.check(binding)
            components["broker"] = entry
            reasons += ["broker: %s" % problem for problem in entry.get("problems", [])]
        staging = getattr(self.app, "staging_directory", None)
        if staging:
            entry = _disk(staging, self.min_free_bytes)
            persistence = getattr(self.app, "persistence_directory", None)
            if persistence and not os.access(persistence, os.W_OK | os.X_OK):
                # where managers record their jobs: without it no job survives a restart
                entry.setdefault("problems", []).append("persistence_directory is missing or not writable")
                entry["status"] = "down"
            components["disk"] = entry
            reasons += ["disk: %s" % problem for problem in entry.get("problems", [])]
        ok = not reasons
        body = {"status": "ok" if ok else "down", "version": lwr.__version__,
                "pulsar_version": lwr.PULSAR_VERSION, "components": components}
        if not ok:
            body["reasons"] = reasons
            body["error"] = "; ".join(reasons)  # what every LWR error answer carries
        return ok, body

    def broker_connected(self, binding) -> Optional[bool]:
        """Whether a round trip to the broker works (the same cached probe as the report's)."""
        return self._broker.check(binding).get("connected")

    def close(self) -> None:
        self._broker.close()


# -- managers ------------------------------------------------------------------------------------
def _owned_threads(obj) -> List[threading.Thread]:
    """The threads an object keeps as attributes (one, or a list/tuple of them)."""
    threads = []
    for value in list(getattr(obj, "__dict__", {}).values()):
        if isinstance(value, threading.Thread):
            threads.append(value)
        elif isinstance(value, (list, tuple)):
            threads.extend(item for item in value if isinstance(item, threading.Thread))
    return threads


def _stopped(threads) -> List[str]:
    # A thread never started is not a failure; one started and no longer alive is.
    return ["thread %s has stopped" % thread.name for thread in threads
            if thread.ident is not None and not thread.is_alive()]


def _manager_problems(manager) -> List[str]:
    layers = [manager]
    inner = getattr(manager, "proxied_manager", None)
    if inner is not None and inner is not manager:
        layers.append(inner)
    problems = []
    for layer in layers:
        problems += _stopped(_owned_threads(layer))
    staging = getattr(manager, "staging_directory", None)
    if staging and not os.access(staging, os.W_OK | os.X_OK):
        problems.append("its staging directory is missing or not writable")
    own_check = getattr(manager, "health_problems", None)
    if callable(own_check):
        try:
            problems += [str(problem) for problem in own_check() or ()]
        except Exception as exc:
            problems.append("its own check failed: %s: %s" % (type(exc).__name__, exc))
    return problems


# -- disk ----------------------------------------------------------------------------------------
def _disk(path: str, min_free_bytes: int) -> dict:
    try:
        stats = os.statvfs(path)
    except OSError as exc:
        return {"status": "down", "problems": ["staging_directory cannot be read: %s" % exc.strerror]}
    free = stats.f_bavail * stats.f_frsize
    entry = {"free_bytes": free, "min_free_bytes": min_free_bytes}
    problems = []
    if free < min_free_bytes:
        problems.append("staging_directory has %s free, below healthz_min_free_bytes (%s)"
                        % (format_bytes(free), format_bytes(min_free_bytes)))
    if stats.f_files and not stats.f_favail:  # file systems without an inode count report 0 of 0
        problems.append("staging_directory's file system has no free inodes")
    entry["status"] = "down" if problems else "ok"
    if problems:
        entry["problems"] = problems
    return entry


# -- broker --------------------------------------------------------------------------------------
class _BrokerProbe:
    """One connection to the broker, kept for health checks; each check is a round trip on it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connection = None
        self._last: Optional[Tuple[float, dict]] = None

    def check(self, binding) -> dict:
        bindings = list(getattr(binding, "bindings", [binding]))
        exchange = next((getattr(b, "exchange", None) for b in bindings if getattr(b, "exchange", None)), None)
        entry = self._connected(exchange) if exchange is not None else {"connected": None}
        entry = dict(entry)
        problems = list(entry.pop("problems", []))
        for manager_binding in bindings:
            problems += _stopped(getattr(manager_binding, "_threads", []))
        backlog = sum(len(b.outbox) for b in bindings if getattr(b, "outbox", None) is not None)
        entry["unpublished_statuses"] = backlog
        entry["status"] = "down" if problems else "ok"
        if problems:
            entry["problems"] = problems
        return entry

    def _connected(self, exchange) -> dict:
        now = time.monotonic()
        last = self._last
        if last is not None and now - last[0] < BROKER_CACHE_SECONDS:
            return last[1]
        # One probe at a time; requests arriving meanwhile get the previous answer.
        if not self._lock.acquire(timeout=0 if last is not None else 2 * BROKER_TIMEOUT + 1):
            return last[1] if last is not None else {"connected": None,
                                                     "problems": ["the broker check is still running"]}
        try:
            result = self._probe(exchange)
            self._last = (time.monotonic(), result)
            return result
        finally:
            self._lock.release()

    def _probe(self, exchange) -> dict:
        url = mask_password(exchange.url)
        try:
            if self._connection is not None:
                try:
                    self._round_trip(self._connection)
                    return {"connected": True, "url": url}
                except Exception:
                    self._drop()  # stale: the broker went away since; try a new connection
            self._connection = self._open(exchange)
            self._round_trip(self._connection)
            return {"connected": True, "url": url}
        except Exception as exc:
            self._drop()
            error = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
            log.debug("healthz: broker %s unreachable: %s", url, error)
            return {"connected": False, "url": url, "error": error,
                    "problems": ["not connected to %s: %s" % (url, error)]}

    @staticmethod
    def _open(exchange):
        import kombu  # here: only a server with a broker configured loads kombu

        kwds = {"heartbeat": 0, "connect_timeout": BROKER_TIMEOUT,
                "transport_options": {"read_timeout": BROKER_TIMEOUT, "write_timeout": BROKER_TIMEOUT}}
        if exchange.connect_ssl:
            kwds["ssl"] = exchange.connect_ssl
        connection = kombu.Connection(exchange.url, **kwds)
        # One attempt: connect() would retry once after a pause, doubling the wait.
        connection.ensure_connection(max_retries=0, reraise_as_library_errors=False)
        return connection

    @staticmethod
    def _round_trip(connection):
        # Opening and closing a channel waits for the broker's answer to each: a dead
        # connection fails here, within the read timeout.
        channel = connection.channel()
        channel.close()

    def _drop(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                pass

    def close(self):
        with self._lock:
            self._drop()


def health_response(app):
    """The ``/healthz`` answer: a WebOb response, 200 or 503, with :meth:`HealthCheck.report`'s body."""
    ok, body = HealthCheck.of(app).report()
    return Response(body=json.dumps(body).encode("utf-8"), status=200 if ok else 503,
                    content_type="application/json", charset=None)
