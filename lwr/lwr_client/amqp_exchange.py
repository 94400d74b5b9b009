"""``LwrExchange``: the AMQP plumbing shared by the LWR server and its message-queue clients (spec §7).

One direct, durable exchange; queue name = routing key = ``<prefix>_<name>``.
The prefix is ``<exchange>_`` for the manager ``_default_`` and
``<exchange>_<manager>_`` otherwise, unless a key prefix is given, which is
used as it is (Pulsar's ``amqp_key_prefix``).  So exchange ``lwr`` (2014 LWR
clients, and this package's default) gives ``lwr__setup``,
``lwr_<manager>__status_update`` ..., exchange ``pulsar`` (Galaxy's stock
Pulsar runners) gives ``pulsar__setup`` ..., and key prefix ``gx`` gives ``gx_setup``.

Reliability beyond 0.2.0:

* queues are durable and declared by publishers as well as consumers, so a
  message published before anyone consumed is kept, not dropped;
* messages are persistent (``delivery_mode`` 2), published with publisher
  confirms and ``mandatory``: :meth:`LwrExchange.publish` returns only once
  the broker has routed the message to a queue, and raises
  :class:`PublishFailed` when it refused it or could route it nowhere;
* consumers hand the *raw* message to their callback, which decodes it and
  acknowledges it when done (a malformed body is the callback's business);
* a consumer whose connection drops reconnects with exponential backoff,
  logging every attempt, until its ``check`` says stop.
"""
import logging
import re
import socket
import threading
import time
from typing import Callable, Optional

from lwr.lwr_client.amqp_options import (  # noqa: F401 - parse_amqp_options and asbool are re-exported
    DEFAULT_CONFIRM_TIMEOUT,
    DEFAULT_HEARTBEAT,
    DEFAULT_RECONNECT_MAX,
    DEFAULT_TIMEOUT,
    asbool,
    parse_amqp_options,
)

__all__ = [
    "LwrExchange",
    "DEFAULT_EXCHANGE_NAME",
    "DEFAULT_HEARTBEAT",
    "queue_name",
    "key_prefix",
    "check_name",
    "parse_amqp_options",
    "PublishFailed",
    "mask_password",
]

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE_NAME = "lwr"
DEFAULT_EXCHANGE_TYPE = "direct"
DEFAULT_MANAGER_NAME = "_default_"
DEFAULT_RECONNECT_START = 1.0
#: Longest single wait inside the consume loop, so heartbeats and ``check`` are looked at.
_MAX_DRAIN_SLICE = 1.0
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")


class PublishFailed(Exception):
    """The broker did not take a message: unreachable, refused, unroutable or not confirmed in time."""


def check_name(value: str, option: str) -> str:
    """``value`` if it can be an exchange name or key prefix; ValueError naming ``option`` otherwise."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("%s must be 1-120 letters, digits or _ . : -, not %r" % (option, value))
    return value


def key_prefix(manager_name: Optional[str], exchange_name: str = DEFAULT_EXCHANGE_NAME,
               amqp_key_prefix: Optional[str] = None) -> str:
    """The routing-key prefix: ``amqp_key_prefix`` when set, else derived from exchange and manager.

    >>> key_prefix("_default_"), key_prefix("cluster", "pulsar"), key_prefix("cluster", "pulsar", "gx")
    ('lwr_', 'pulsar_cluster_', 'gx')
    """
    if amqp_key_prefix:
        return amqp_key_prefix
    if manager_name in (None, "", DEFAULT_MANAGER_NAME):
        return "%s_" % exchange_name
    return "%s_%s_" % (exchange_name, manager_name)


def queue_name(manager_name: Optional[str], name: str, exchange_name: str = DEFAULT_EXCHANGE_NAME,
               amqp_key_prefix: Optional[str] = None) -> str:
    """``lwr__setup`` for the default manager, ``lwr_<manager>__setup`` otherwise.

    >>> queue_name("_default_", "setup")
    'lwr__setup'
    >>> queue_name("cluster", "status_update")
    'lwr_cluster__status_update'
    >>> queue_name("_default_", "setup", "pulsar"), queue_name("m", "kill", "pulsar", "gx")
    ('pulsar__setup', 'gx_kill')
    """
    return "%s_%s" % (key_prefix(manager_name, exchange_name, amqp_key_prefix), name)


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
                 prefetch_count: int = 4, exchange_name: str = DEFAULT_EXCHANGE_NAME,
                 amqp_key_prefix: Optional[str] = None):
        import kombu  # here: the client package works without kombu until a queue is used

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
        self.exchange_name = check_name(exchange_name or DEFAULT_EXCHANGE_NAME, "amqp_exchange")
        self.amqp_key_prefix = check_name(amqp_key_prefix, "amqp_key_prefix") if amqp_key_prefix else None
        self.exchange = kombu.Exchange(self.exchange_name, DEFAULT_EXCHANGE_TYPE, durable=True)
        self._publish_connection = None
        self._publish_lock = threading.Lock()

    # -- names ---------------------------------------------------------------------------------
    def queue_name(self, name: str) -> str:
        return queue_name(self.manager_name, name, self.exchange_name, self.amqp_key_prefix)

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
                            "retrying in %.1fs", queue_label, mask_password(self.url), type(exc).__name__, exc,
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
    def publish(self, name: str, payload: dict, declare: bool = True) -> None:
        """Publish ``payload`` (JSON, persistent) to queue ``name``; return once the broker confirmed it.

        The queue is declared first (durable) unless ``declare`` is false, so
        the message waits there until someone consumes it.  Raises
        :class:`PublishFailed` (or a kombu connection error) when the broker is
        unreachable, refuses the message, routes it to no queue (it is
        published ``mandatory``, and the broker returns it) or does not
        confirm within ``confirm_timeout``.  Safe to call from several threads.
        """
        with self._publish_lock:
            for attempt in (1, 2):
                reused = self._publish_connection is not None
                try:
                    self._publish_once(name, payload, declare)
                    return
                except Exception as exc:
                    self._drop_publish_connection()
                    # A connection the broker dropped since the last publish is only noticed now:
                    # retry once on a fresh one before reporting the failure.
                    if (attempt == 2 or not reused or isinstance(exc, PublishFailed)
                            or not isinstance(exc, self._recoverable_errors(None))):
                        raise
                    log.info("message queue connection went stale (%s); publishing on a new one", exc)

    def _publish_once(self, name, payload, declare):
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
        returned = []
        # The broker answers an unroutable mandatory message with basic.return *before* its
        # confirm; a handler on the channel records it (without one py-amqp would raise in the
        # middle of waiting for the confirm and leave that confirm unread on the connection).
        channel = connection.default_channel
        handler = lambda exc, exchange, routing_key, message: returned.append(exc)  # noqa: E731
        channel.events["basic_return"].add(handler)
        try:
            producer = connection.Producer(serializer="json")
            producer.publish(payload, exchange=self.exchange, routing_key=queue.routing_key,
                             declare=[queue] if declare else [self.exchange], mandatory=True,
                             retry=bool(retry), retry_policy=retry_policy, timeout=self.confirm_timeout,
                             **kwds)
        except Exception as exc:
            if _is_nack(exc):
                raise PublishFailed("the broker refused the message for %s" % queue.routing_key)
            raise
        finally:
            channel.events["basic_return"].discard(handler)
        if returned:
            raise PublishFailed("the broker could route the message for %s to no queue (%s): nobody declared "
                                "a queue bound to that key on exchange %s"
                                % (queue.routing_key, returned[0], self.exchange_name))

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


def mask_password(url: str) -> str:
    """The broker URL without its password (for logs).

    >>> mask_password("amqp://guest:secret@localhost:5672//")
    'amqp://guest:***@localhost:5672//'
    """
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url or "")
