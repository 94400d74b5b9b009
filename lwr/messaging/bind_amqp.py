"""Bind one job manager to its AMQP queues on every configured exchange.

Consumed (per exchange): ``setup``, ``kill``, ``status`` (status requests),
``clean``, and ``status_update_ack`` when ``amqp_acknowledge`` is on.
Published: ``status_update`` (see :mod:`lwr.messaging.publisher`) and the
answers to acknowledgement requests (``<name>_ack``).

Protocol (what makes every job end with exactly one terminal status):

1. A ``setup`` message is acknowledged only after ``submit_job`` returned, i.e.
   after the job's ``launch_config`` is on disk.  A message redelivered after a
   crash finds the job recorded and is acknowledged without effect.
2. Every status change the manager reports (running, complete, failed, lost) is
   first written to the manager's on-disk outbox, then published with
   publisher confirms; the outbox entry goes only after the broker confirmed it
   (and, with ``amqp_acknowledge``, after the consumer answered).
3. Terminal statuses the manager decided while nobody listened (before the
   binding, or during a crash) are listed by the proxy as "terminal status
   pending" and queued again when the binding starts.
4. A message carrying ``acknowledge_uuid`` is answered on its
   ``acknowledge_queue`` after it was handled; one whose uuid was handled
   before is answered again and otherwise dropped.
"""
import logging
import os
import threading
import time
from typing import Optional

from lwr.lifecycle import Threads
from lwr.lwr_client.amqp_acks import InvalidAckRequest, ack_request, ack_response_uuid, answer_ack
from lwr.lwr_client.amqp_exchange import LwrExchange
from lwr.manager_endpoint_util import full_status
from lwr.managers import status as job_status
from lwr.messaging.acks import SeenUuids
from lwr.messaging.handlers import (
    CleanHandler,
    KillHandler,
    MalformedMessage,
    SetupHandler,
    StatusRequestHandler,
    decode_body,
)
from lwr.messaging.outbox import TERMINAL_STATUSES, StatusOutbox
from lwr.messaging.publisher import DEFAULT_REPUBLISH_TIME, StatusPublisher
from lwr.messaging.routes import RouteBook, parse_exchanges

__all__ = ["ManagerBinding", "bind_manager_to_queue", "PUBLISHED_STATUSES"]

log = logging.getLogger(__name__)

#: Statuses announced on ``status_update`` unasked (never queued/preprocessing/postprocessing/cancelled).
PUBLISHED_STATUSES = (job_status.RUNNING,) + TERMINAL_STATUSES
_ROUTE_SWEEP_EVERY = 3600.0


class ManagerBinding:
    """The consumer threads, status publisher and outbox of one manager.

    ``exchanges``: ``{exchange name: LwrExchange}`` in configuration order; the
    first one gets the statuses of jobs that did not arrive over a queue.
    """

    def __init__(self, manager, exchanges: dict, persistence_directory: str, consume: bool = True,
                 publish: bool = True, reconnect_max: Optional[float] = None, acknowledge: bool = False,
                 republish_time: float = DEFAULT_REPUBLISH_TIME):
        self.manager = manager
        self.exchanges = dict(exchanges)
        self.primary = next(iter(self.exchanges))
        self.exchange = self.exchanges[self.primary]
        self.consume = consume
        self.publish = publish
        self.acknowledge = acknowledge
        self.reconnect_max = reconnect_max or self.exchange.reconnect_max
        self._stopping = threading.Event()
        self.threads = Threads("message-queue binding of manager %s" % manager.name)
        self._threads = []  # the ones started, kept so /healthz can tell one that died
        self.outbox = None
        self.publisher = None
        base = os.path.join(persistence_directory, manager.name)
        self.routes = RouteBook(base + "-amqp-routes", self.primary)
        self.seen = SeenUuids(base + "-amqp-ack-consumed")
        if publish:
            self.outbox = StatusOutbox(base + "-status-outbox")
            self.publisher = StatusPublisher(manager, self.outbox, self.exchanges, self.primary, self._stopping,
                                             self.reconnect_max, acknowledge=acknowledge,
                                             republish_time=republish_time)
        self.handlers = {
            "setup": SetupHandler(manager, self.queue_status, self.remember_route),
            "kill": KillHandler(manager, self.queue_status),
            "status": StatusRequestHandler(manager, self.queue_status),
            "clean": CleanHandler(manager, self.queue_status),
        }

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> "ManagerBinding":
        self.routes.sweep(self._job_exists)
        self._last_route_sweep = time.monotonic()
        if self.publish:
            self.manager.set_state_change_callback(self.state_changed)
            self._queue_pending_terminal_statuses()
            self._start_thread(self.publisher.run, "status-publisher")
        if self.consume:
            for exchange_name, exchange in self.exchanges.items():
                for kind, handler in self.handlers.items():
                    self._start_thread(self._consumer(exchange_name, exchange, kind, handler),
                                       "%s-%s-consumer" % (exchange_name, kind))
                if self.acknowledge and self.publish:
                    self._start_thread(self._ack_consumer(exchange), "%s-status_update_ack-consumer"
                                       % exchange_name)
        return self

    def _start_thread(self, target, label):
        # Daemon threads (lwr.lifecycle.Threads): a stuck broker must never keep the process from exiting.
        self._threads.append(self.threads.start("lwr-mq-%s-%s" % (self.manager.name, label), target))

    def shutdown(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.outbox is not None:
            self.outbox.wakeup.set()
        self.threads.shutdown(timeout)
        for exchange in self.exchanges.values():
            exchange.close()

    @property
    def active(self) -> bool:
        return not self._stopping.is_set()

    # -- consuming -----------------------------------------------------------------------------
    def _consumer(self, exchange_name, exchange, kind, handler):
        def on_message(message):
            try:
                self._handle(exchange_name, exchange, kind, handler, message.body)
            except Exception:
                log.exception("manager %s: handling a %s message failed", self.manager.name, kind)
            finally:
                message.ack()  # after processing: a crash before this line means redelivery

        return lambda: exchange.consume(kind, on_message, check=lambda: self.active)

    def _handle(self, exchange_name, exchange, kind, handler, raw_body):
        try:
            body = decode_body(raw_body)
        except MalformedMessage:
            handler.handle(raw_body, exchange_name)  # logs the reason and answers when it can
            return
        try:
            request = ack_request(body)
        except InvalidAckRequest as exc:
            log.error("manager %s: %s message for job %s: not acknowledging it: %s", self.manager.name, kind,
                      body.get("job_id"), exc)
            request = None
        if request is not None and request[0] in self.seen:
            log.warning("manager %s: %s message %s for job %s was handled before (republished by its sender); "
                        "acknowledging it again, not acting on it", self.manager.name, kind, request[0],
                        body.get("job_id"))
        else:
            handler.handle(body, exchange_name)
            if request is not None:
                self.seen.add(request[0])
        if request is not None:
            self._answer(exchange, kind, body.get("job_id"), request)
        self._maybe_sweep_routes()

    def _answer(self, exchange, kind, job_id, request):
        ack_uuid, queue = request
        try:
            answer_ack(exchange, ack_uuid, queue)
        except Exception as exc:
            # The sender republishes unanswered messages; the next copy is answered again.
            log.error("manager %s: could not acknowledge %s message %s for job %s on %s (%s: %s); its sender "
                      "will publish it again", self.manager.name, kind, ack_uuid, job_id,
                      exchange.queue_name(queue), type(exc).__name__, exc)

    def _ack_consumer(self, exchange):
        def on_message(message):
            try:
                ack_uuid = ack_response_uuid(decode_body(message.body))
                if ack_uuid is None:
                    log.error("manager %s: message on %s is not an acknowledgement; dropped", self.manager.name,
                              exchange.queue_name("status_update_ack"))
                else:
                    self.publisher.acknowledged(ack_uuid)
            except MalformedMessage as exc:
                log.error("manager %s: unreadable acknowledgement dropped: %s", self.manager.name, exc)
            finally:
                message.ack()

        return lambda: exchange.consume("status_update_ack", on_message, check=lambda: self.active)

    # -- routes --------------------------------------------------------------------------------
    def remember_route(self, job_id, exchange_name) -> None:
        self.routes.remember(job_id, exchange_name or self.primary)

    def _job_exists(self, job_id) -> bool:
        return self.manager.job_directory(job_id).exists()

    def _maybe_sweep_routes(self):
        """Routes of jobs whose directory went (clean, reaping) are forgotten about hourly."""
        now = time.monotonic()
        if now - self._last_route_sweep > _ROUTE_SWEEP_EVERY:
            self._last_route_sweep = now
            self.routes.sweep(self._job_exists)

    # -- publishing ----------------------------------------------------------------------------
    def state_changed(self, new_status: str, job_id: str) -> None:
        """The manager's state change callback: queue the status durably (publishing happens later)."""
        if new_status not in PUBLISHED_STATUSES:
            return
        payload = full_status(self.manager, new_status, job_id)
        still_pending = None
        if new_status in TERMINAL_STATUSES:
            still_pending = lambda: self._terminal_pending(job_id)  # noqa: E731
        if self.outbox.put(job_id, new_status, payload, still_pending=still_pending,
                           route=self.routes.lookup(job_id)):
            log.debug("job %s: %s status queued for publication", job_id, new_status)

    def queue_status(self, job_id, status, payload, route=None):
        """A status the handlers produce: a failure they decided, or the answer to a status request."""
        if self.outbox is None:
            log.warning("job %s: %s status not sent: message_queue_publish is off", job_id, status)
            return
        self.outbox.put(job_id, status, payload, route=route or self.routes.lookup(job_id))

    def _terminal_pending(self, job_id) -> bool:
        check = getattr(self.manager, "terminal_status_pending", None)
        return True if check is None else bool(check(job_id))

    def _queue_pending_terminal_statuses(self):
        """Statuses decided while nothing was listening (startup, after a crash) are queued now."""
        pending_ids = getattr(self.manager, "terminal_status_pending_job_ids", None)
        if pending_ids is None:
            return
        for job_id in pending_ids():
            try:
                final = self.manager.get_status(job_id)
            except Exception as exc:
                log.warning("job %s: terminal status pending but unreadable (%s); dropping it", job_id, exc)
                self.manager.confirm_terminal_status(job_id)
                continue
            if final in TERMINAL_STATUSES:
                log.info("job %s: re-queueing its %s status (not confirmed published before)", job_id, final)
                self.state_changed(final, job_id)


def bind_manager_to_queue(manager, persistence_directory: str, url: str, options: dict, consume: bool = True,
                          publish: bool = True, routes=None, acknowledge: bool = False,
                          republish_time: float = DEFAULT_REPUBLISH_TIME) -> ManagerBinding:
    """The binding of ``manager`` (consuming / publishing once its ``start()`` is called).

    ``options`` from :func:`parse_amqp_options`; ``routes`` from
    :func:`lwr.messaging.routes.parse_exchanges` (default: exchanges ``pulsar`` and ``lwr``).
    """
    exchanges = {}
    for route in routes or parse_exchanges({}, [manager.name]):
        exchanges[route["exchange_name"]] = LwrExchange(url, manager.name, **dict(options, **route))
    return ManagerBinding(manager, exchanges, persistence_directory, consume=consume, publish=publish,
                          acknowledge=acknowledge, republish_time=republish_time)
