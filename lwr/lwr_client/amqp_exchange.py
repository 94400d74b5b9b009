"""``LwrExchange``: the AMQP plumbing shared by the LWR server and its message-queue clients (spec §7).

Exchange ``lwr`` (direct, durable).  Queue name = routing key =
``lwr_<manager-prefix>_<name>``: ``lwr__setup``, ``lwr__kill``, ``lwr__status_update``
for ``_default_`` and ``lwr_<manager>__setup`` ... for a named manager.

Reliability beyond 0.2.0:

* queues are durable and declared by publishers as well as consumers, so a
  message published before anyone consumed is kept, not dropped;
* messages are persistent (``delivery_mode`` 2) and published with publisher
  confirms: :meth:`LwrExchange.publish` returns only once the broker has the
  message, and raises otherwise;
* consumers hand the *raw* message to their callback, which decodes it and
  acknowledges it when done (a malformed body is the callback's business);
* a consumer whose connection drops reconnects with exponential backoff,
  logging every attempt, until its ``check`` says stop.
"""
import logging
import socket
import ssl
import threading
import time
from typing import Callable, Optional

__all__ = [
    "LwrExchange",
    "DEFAULT_EXCHANGE_NAME",
    "DEFAULT_HEARTBEAT",
    "queue_name",
    "parse_amqp_options",
    "PublishFailed",
]

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE_NAME = "lwr"
DEFAULT_EXCHANGE_TYPE = "direct"
DEFAULT_MANAGER_NAME = "_default_"
#: Seconds; the broker drops a connection that misses two heartbeats.
DEFAULT_HEARTBEAT = 580
DEFAULT_TIMEOUT = 0.2
#: Seconds to wait for the broker to confirm a publish.
DEFAULT_CONFIRM_TIMEOUT = 10.0
DEFAULT_RECONNECT_START = 1.0
DEFAULT_RECONNECT_MAX = 30.0
#: Longest single wait inside the consume loop, so heartbeats and ``check`` are looked at.
_MAX_DRAIN_SLICE = 1.0


class PublishFailed(Exception):
    """The broker did not confirm a message (unreachable, refused or timed out)."""


def queue_name(manager_name: str, name: str) -> str:
    """``lwr__setup`` for the default manager, ``lwr_<manager>__setup`` otherwise.

    >>> queue_name("_default_", "setup")
    'lwr__setup'
    >>> queue_name("cluster", "status_update")
    'lwr_cluster__status_update'
    """
    prefix = "lwr_" if manager_name in (None, "", DEFAULT_MANAGER_NAME) else "lwr_%s_" % manager_name
    return "%s_%s" % (prefix, name)


def _ssl_options(conf: dict):
    """``amqp_connect_ssl_*`` -> the ``ssl`` dict kombu passes to py-amqp (None when unset)."""
    options = {}
    for key in ("ca_certs", "keyfile", "certfile"):
        value = conf.get("amqp_connect_ssl_%s" % key)
        if value:
            options[key] = value
    cert_reqs = conf.get("amqp_connect_ssl_cert_reqs")
    if cert_reqs:
        name = str(cert_reqs).strip().upper()
        if not hasattr(ssl, name) or not name.startswith("CERT_"):
            raise ValueError("amqp_connect_ssl_cert_reqs %r is not cert_none, cert_optional or cert_required"
                             % cert_reqs)
        options["cert_reqs"] = getattr(ssl, name)
    return options or None


def _number(value, kind, option):
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be a number, not %r" % (option, value))


def parse_amqp_options(conf: dict) -> dict:
    """Typed :class:`LwrExchange` keyword arguments from ini-style ``amqp_*`` strings.

    >>> opts = parse_amqp_options({"amqp_consumer_timeout": "None", "amqp_publish_retry": "true",
    ...                            "amqp_publish_retry_max_retries": "4", "amqp_publish_priority": "3"})
    >>> opts["timeout"], opts["publish_kwds"]["retry"], opts["publish_kwds"]["retry_policy"]["max_retries"]
    (None, True, 4)
    >>> opts["publish_kwds"]["priority"]
    3
    """
    conf = conf or {}
    timeout = conf.get("amqp_consumer_timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, str) and timeout.strip().lower() in ("none", ""):
        timeout = None
    elif timeout is not None:
        timeout = _number(timeout, float, "amqp_consumer_timeout")
    publish_kwds = {}
    retry_policy = {}
    for key, value in conf.items():
        if key.startswith("amqp_publish_retry_"):
            name = key[len("amqp_publish_retry_"):]
            retry_policy[name] = _number(value, float if name.startswith("interval") else int, key)
        elif key == "amqp_publish_retry":
            publish_kwds["retry"] = asbool(value)
        elif key.startswith("amqp_publish_"):
            name = key[len("amqp_publish_"):]
            publish_kwds[name] = _publish_value(name, value)
    if publish_kwds.get("retry"):
        # Without a bound kombu retries forever inside one call, and shutdown would hang.
        retry_policy.setdefault("max_retries", 3)
        publish_kwds["retry_policy"] = retry_policy
    options = {
        "timeout": timeout,
        "publish_kwds": publish_kwds,
        "connect_ssl": _ssl_options(conf),
        "heartbeat": _number(conf.get("amqp_heartbeat", DEFAULT_HEARTBEAT), int, "amqp_heartbeat"),
        "confirm_timeout": _number(conf.get("amqp_confirm_timeout", DEFAULT_CONFIRM_TIMEOUT), float,
                                   "amqp_confirm_timeout"),
        "reconnect_max": _number(conf.get("amqp_reconnect_max", DEFAULT_RECONNECT_MAX), float,
                                 "amqp_reconnect_max"),
    }
    return options


def asbool(value, default=False) -> bool:
    """An ini boolean ("true", "False", "1", "no", ...); the client package has no server imports.

    >>> asbool("False"), asbool("yes"), asbool(None, True)
    (False, True, True)
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "y", "t"):
        return True
    if text in ("false", "no", "off", "0", "n", "f", "", "none"):
        return False
    raise ValueError("not a boolean: %r" % (value,))


def _publish_value(name, value):
    if not isinstance(value, str):
        return value
    if name in ("priority", "delivery_mode"):
        return _number(value, int, "amqp_publish_%s" % name)
    if name in ("expiration",):
        return _number(value, float, "amqp_publish_%s" % name)
    return value


#: ``amqp_publish_*`` names that would redirect or break the publish; ignored.
_RESERVED_PUBLISH_KWDS = ("exchange", "routing_key", "declare", "serializer", "timeout", "body")


def _errback(exc, interval):
    log.warning("publishing to the message queue failed (%s); retrying in %ss", exc, interval)


class LwrExchange:
    """Publish to and consume from one manager's queues on one broker."""

    def __init__(self, url: str, manager_name: str = DEFAULT_MANAGER_NAME, connect_ssl=None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, publish_kwds: Optional[dict] = None,
                 heartbeat: int = DEFAULT_HEARTBEAT, confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT,
                 reconnect_start: float = DEFAULT_RECONNECT_START, reconnect_max: float = DEFAULT_RECONNECT_MAX,
                 prefetch_count: int = 4):
        import kombu

        self._kombu = kombu
        self.url = url
        self.manager_name = manager_name or DEFAULT_MANAGER_NAME
        self.connect_ssl = connect_ssl
        self.timeout = timeout
        self.publish_kwds = dict(publish_kwds or {})
        self.heartbeat = heartbeat
        self.confirm_timeout = confirm_timeout
        self.reconnect_start = reconnect_start
        self.reconnect_max = reconnect_max
        self.prefetch_count = prefetch_count
        self.exchange = kombu.Exchange(DEFAULT_EXCHANGE_NAME, DEFAULT_EXCHANGE_TYPE, durable=True)
        self._publish_connection = None
        self._publish_lock = threading.Lock()

    # -- names ---------------------------------------------------------------------------------
    def queue_name(self, name: str) -> str:
        return queue_name(self.manager_name, name)

    def queue(self, name: str):
        key = self.queue_name(name)
        return self._kombu.Queue(key, self.exchange, routing_key=key, durable=True, auto_delete=False)

    # -- connections ---------------------------------------------------------------------------
    def connection(self, confirm: bool = False):
        """A new (not yet connected) kombu connection with heartbeats, TLS and confirms as configured."""
        kwds = {"heartbeat": self.heartbeat or 0}
        if self.connect_ssl:
            kwds["ssl"] = self.connect_ssl
        if confirm:
            kwds["transport_options"] = {"confirm_publish": True}
        return self._kombu.Connection(self.url, **kwds)

    def _recoverable_errors(self, connection=None):
        if connection is None:
            connection = self.connection()
        return tuple(set(connection.recoverable_connection_errors) | set(connection.recoverable_channel_errors)
                     | set(connection.connection_errors) | {OSError, socket.error, PublishFailed})

    # -- consuming -----------------------------------------------------------------------------
    def consume(self, name: str, callback: Callable, check=True, on_connected: Optional[Callable] = None) -> None:
        """Deliver each raw kombu message of queue ``name`` to ``callback(message)`` until ``check`` is falsy.

        ``check`` is anything with a truth value (re-read every loop).  The
        callback must ``ack()`` the message.  Lost connections are re-opened
        with exponential backoff (``reconnect_start`` doubling up to ``reconnect_max``).
        """
        delay = self.reconnect_start
        failures = 0
        queue_label = self.queue_name(name)
        while _truthy(check):
            connection = self.connection()
            try:
                connection.connect()
                with connection.Consumer(self.queue(name), on_message=callback, accept=["json"],
                                         prefetch_count=self.prefetch_count):
                    if failures:
                        log.info("consumer of %s reconnected to the message queue after %d failed attempts",
                                 queue_label, failures)
                    if on_connected is not None:
                        on_connected()
                    failures = 0
                    delay = self.reconnect_start
                    self._drain(connection, check)
            except Exception as exc:
                if not isinstance(exc, self._recoverable_errors(connection)):
                    log.exception("consumer of %s failed unexpectedly; reconnecting", queue_label)
                if not _truthy(check):
                    break
                failures += 1
                log.warning("consumer of %s: message queue %s unavailable (%s: %s); attempt %d failed, "
                            "retrying in %.1fs", queue_label, _mask(self.url), type(exc).__name__, exc,
                            failures, delay)
                _sleep_while(check, delay)
                delay = min(delay * 2, self.reconnect_max)
            finally:
                _release(connection)

    def _drain(self, connection, check):
        slice_ = self.timeout if self.timeout is not None else _MAX_DRAIN_SLICE
        slice_ = min(max(slice_, 0.01), _MAX_DRAIN_SLICE)
        while _truthy(check):
            try:
                connection.drain_events(timeout=slice_)
            except socket.timeout:
                pass
            if self.heartbeat:
                connection.heartbeat_check()

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, name: str, payload: dict) -> None:
        """Publish ``payload`` (JSON, persistent) to queue ``name``; return once the broker confirmed it.

        Raises :class:`PublishFailed` (or a kombu connection error) when the
        broker is unreachable, refuses the message or does not confirm within
        ``confirm_timeout``.  Safe to call from several threads.
        """
        with self._publish_lock:
            for attempt in (1, 2):
                reused = self._publish_connection is not None
                try:
                    self._publish_once(name, payload)
                    return
                except Exception as exc:
                    self._drop_publish_connection()
                    # A connection the broker dropped since the last publish is only noticed now:
                    # retry once on a fresh one before reporting the failure.
                    if attempt == 2 or not reused or not isinstance(exc, self._recoverable_errors(None)):
                        raise
                    log.info("message queue connection went stale (%s); publishing on a new one", exc)

    def _publish_once(self, name, payload):
        connection = self._publish_connection
        if connection is None:
            connection = self._publish_connection = self.connection(confirm=True)
        kwds = dict(self.publish_kwds)
        retry = kwds.pop("retry", False)
        retry_policy = kwds.pop("retry_policy", None)
        if retry:
            retry_policy = dict(retry_policy or {})
            retry_policy.setdefault("errback", _errback)
        else:
            connection.ensure_connection(max_retries=1)
        for reserved in _RESERVED_PUBLISH_KWDS:
            kwds.pop(reserved, None)
        kwds.setdefault("delivery_mode", 2)  # persistent unless amqp_publish_delivery_mode says otherwise
        queue = self.queue(name)
        producer = connection.Producer(serializer="json")
        try:
            producer.publish(payload, exchange=self.exchange, routing_key=queue.routing_key,
                             declare=[queue], retry=bool(retry), retry_policy=retry_policy,
                             timeout=self.confirm_timeout, **kwds)
        except Exception as exc:
            if _is_nack(exc):
                raise PublishFailed("the broker refused the message for %s" % queue.routing_key)
            raise

    def _drop_publish_connection(self):
        connection, self._publish_connection = self._publish_connection, None
        if connection is not None:
            _release(connection)

    def close(self) -> None:
        with self._publish_lock:
            self._drop_publish_connection()


def _is_nack(exc) -> bool:
    return type(exc).__name__ == "MessageNacked"


def _truthy(check) -> bool:
    return bool(check() if callable(check) else check)


def _sleep_while(check, seconds):
    deadline = time.monotonic() + seconds
    while _truthy(check) and time.monotonic() < deadline:
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))


def _release(connection):
    try:
        connection.release()
    except Exception:  # a dead socket may fail to close; nothing left to do
        log.debug("closing a message queue connection failed", exc_info=True)


def _mask(url: str) -> str:
    """The broker URL without its password."""
    import re
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url or "")
