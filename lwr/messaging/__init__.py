"""Message-queue mode: bind every job manager of an :class:`~lwr.core.LwrApp` to an AMQP broker (spec §7).

``LwrApp`` calls :func:`bind_app` when ``message_queue_url`` is set and
``shutdown()`` on the result.  See :mod:`lwr.messaging.bind_amqp` for the
delivery protocol.
"""
import logging

from lwr.util import asbool

__all__ = ["bind_app", "AppBinding"]

log = logging.getLogger(__name__)


class AppBinding:
    """All manager bindings of one app."""

    def __init__(self, bindings):
        self.bindings = list(bindings)

    def wait_published(self, timeout: float = 30.0) -> bool:
        """Wait until every queued status was confirmed by the broker; False on timeout."""
        import time
        deadline = time.monotonic() + timeout
        while any(b.outbox is not None and len(b.outbox) for b in self.bindings):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        for binding in self.bindings:
            try:
                binding.shutdown(timeout)
            except Exception:
                log.exception("stopping the message queue binding of %s failed", binding.manager.name)


def bind_app(app, queue_url: str, conf: dict) -> AppBinding:
    """Consume ``setup``/``kill`` and publish ``status_update`` for each of ``app.managers``.

    ``message_queue_consume`` / ``message_queue_publish`` are booleans (ini
    strings such as ``false`` are parsed, unlike 0.2.0).  Never blocks on the
    broker: consumers and the publisher connect (and reconnect) in threads.
    """
    from lwr.lwr_client.amqp_exchange import _mask, parse_amqp_options
    from lwr.messaging.bind_amqp import bind_manager_to_queue

    conf = conf or {}
    consume = asbool(conf.get("message_queue_consume"), True)
    publish = asbool(conf.get("message_queue_publish"), True)
    options = parse_amqp_options(conf)
    bindings = []
    for manager in app.managers.values():
        log.info("binding manager %s to message queue %s (consume=%s, publish=%s)", manager.name,
                 _mask(queue_url), consume, publish)
        bindings.append(bind_manager_to_queue(manager, app.persistence_directory, queue_url, options,
                                              consume=consume, publish=publish))
    return AppBinding(bindings)
