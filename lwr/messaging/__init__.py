"""Message-queue mode: bind every job manager of an :class:`~lwr.core.LwrApp` to an AMQP broker (spec §7).

``LwrApp`` calls :func:`bind_app` when ``message_queue_url`` is set and
``shutdown()`` on the result.  See :mod:`lwr.messaging.bind_amqp` for the
delivery protocol.
"""
import logging
import time

from lwr.lwr_client.amqp_exchange import mask_password, parse_amqp_options
from lwr.messaging.bind_amqp import bind_manager_to_queue
from lwr.messaging.publisher import DEFAULT_REPUBLISH_TIME
from lwr.messaging.routes import parse_exchanges, route_of_body
from lwr.util import asbool

__all__ = ["bind_app", "AppBinding"]

log = logging.getLogger(__name__)


class AppBinding:
    """All manager bindings of one app."""

    def __init__(self, bindings):
        self.bindings = list(bindings)

    def start(self) -> "AppBinding":
        """Start consuming and publishing (``LwrApp.start``; building a binding starts nothing)."""
        for binding in self.bindings:
            binding.start()
        return self

    def wait_published(self, timeout: float = 30.0) -> bool:
        """Wait until every queued status was confirmed by the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        while any(b.outbox is not None and len(b.outbox) for b in self.bindings):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def remember_route(self, manager_name: str, job_id: str, body: dict) -> None:
        """For a job submitted without a queue (``lwr_submit``): its statuses go to the exchange the body
        names as ``amqp_exchange`` if this LWR serves it, else to the first one."""
        for binding in self.bindings:
            if binding.manager.name == manager_name:
                binding.remember_route(job_id, route_of_body(body, list(binding.exchanges), binding.primary))

    def shutdown(self, timeout: float = 5.0) -> None:
        for binding in self.bindings:
            try:
                binding.shutdown(timeout)
            except Exception:
                log.exception("stopping the message queue binding of %s failed", binding.manager.name)


def bind_app(app, queue_url: str, conf: dict) -> AppBinding:
    """Consume ``setup``/``kill``/``status``/``clean`` and publish ``status_update`` for each of ``app.managers``.

    ``message_queue_consume`` / ``message_queue_publish`` are booleans (ini
    strings such as ``false`` are parsed, unlike 0.2.0); ``amqp_exchange`` /
    ``amqp_key_prefix`` pick the queue names (:mod:`lwr.messaging.routes`);
    ``amqp_acknowledge`` asks consumers of ``status_update`` to acknowledge
    each message, which is republished every ``amqp_ack_republish_time``
    seconds until they do.  Never blocks on the broker: consumers and the
    publisher connect (and reconnect) in threads.
    """
    conf = conf or {}
    consume = _flag(conf, "message_queue_consume", True)
    publish = _flag(conf, "message_queue_publish", True)
    acknowledge = _flag(conf, "amqp_acknowledge", False)
    republish_time = _seconds(conf, "amqp_ack_republish_time", DEFAULT_REPUBLISH_TIME)
    options = parse_amqp_options(conf)
    routes = parse_exchanges(conf, list(app.managers))
    bindings = []
    for manager in app.managers.values():
        log.info("binding manager %s to message queue %s on exchange(s) %s (consume=%s, publish=%s, "
                 "acknowledge=%s)", manager.name, mask_password(queue_url), ", ".join(r["exchange_name"] for r in routes),
                 consume, publish, acknowledge)
        bindings.append(bind_manager_to_queue(manager, app.persistence_directory, queue_url, options,
                                              consume=consume, publish=publish, routes=routes,
                                              acknowledge=acknowledge, republish_time=republish_time))
    return AppBinding(bindings)


def _flag(conf, option, default) -> bool:
    try:
        return asbool(conf.get(option), default)
    except ValueError:
        raise ValueError("%s must be true or false, not %r" % (option, conf.get(option)))


def _seconds(conf, option, default) -> float:
    value = conf.get(option)
    if value in (None, ""):
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1
    if seconds <= 0:
        raise ValueError("%s must be a positive number of seconds, not %r" % (option, value))
    return seconds
