"""Bind one job manager to its AMQP queues: consume ``setup``/``kill``, publish ``status_update``.

Protocol (what makes every job end with exactly one terminal status):

1. A ``setup`` message is acknowledged only after ``submit_job`` returned, i.e.
   after the job's ``launch_config`` is on disk.  A message redelivered after a
   crash finds the job recorded and is acknowledged without effect.
2. Every status change the manager reports (running, complete, failed, lost) is
   first written to the manager's on-disk outbox, then published with
   publisher confirms; the outbox entry goes only after the broker confirmed it.
3. Terminal statuses the manager decided while nobody listened (before the
   binding, or during a crash) are listed by the proxy as "terminal status
   pending" and queued again when the binding starts.
"""
import logging
import os
import threading
from typing import Optional

from lwr.lwr_client.amqp_exchange import LwrExchange
from lwr.managers import status as job_status
from lwr.messaging.handlers import CleanHandler, KillHandler, SetupHandler
from lwr.messaging.outbox import TERMINAL_STATUSES, StatusOutbox

__all__ = ["ManagerBinding", "bind_manager_to_queue", "PUBLISHED_STATUSES"]

log = logging.getLogger(__name__)

#: Statuses announced on ``status_update`` (never queued/preprocessing/postprocessing/cancelled).
PUBLISHED_STATUSES = (job_status.RUNNING,) + TERMINAL_STATUSES
_PUBLISH_RETRY_START = 0.5


class ManagerBinding:
    """The consumer threads, status publisher and outbox of one manager."""

    def __init__(self, manager, exchange: LwrExchange, persistence_directory: str, consume: bool = True,
                 publish: bool = True, reconnect_max: Optional[float] = None):
        self.manager = manager
        self.exchange = exchange
        self.consume = consume
        self.publish = publish
        self.reconnect_max = reconnect_max or exchange.reconnect_max
        self._stopping = threading.Event()
        self._threads = []
        self.outbox = None
        if publish:
            self.outbox = StatusOutbox(os.path.join(persistence_directory, "%s-status-outbox" % manager.name))
        self.setup_handler = SetupHandler(manager, self._queue_failed)
        self.kill_handler = KillHandler(manager, self._queue_failed)
        self.clean_handler = CleanHandler(manager, self._queue_failed)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> "ManagerBinding":
        if self.publish:
            self.manager.set_state_change_callback(self.state_changed)
            self._queue_pending_terminal_statuses()
            self._start_thread(self._publish_loop, "status-publisher")
        if self.consume:
            self._start_thread(lambda: self._consume("setup", self.setup_handler), "setup-consumer")
            self._start_thread(lambda: self._consume("kill", self.kill_handler), "kill-consumer")
            self._start_thread(lambda: self._consume("clean", self.clean_handler), "clean-consumer")
        return self

    def _start_thread(self, target, label):
        # Daemon threads: a stuck broker must never keep the process from exiting.
        thread = threading.Thread(target=target, name="lwr-mq-%s-%s" % (self.manager.name, label), daemon=True)
        thread.start()
        self._threads.append(thread)

    def shutdown(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.outbox is not None:
            self.outbox.wakeup.set()
        for thread in self._threads:
            thread.join(timeout)
        self.exchange.close()

    @property
    def active(self) -> bool:
        return not self._stopping.is_set()

    # -- consuming -----------------------------------------------------------------------------
    def _consume(self, name, handler):
        def on_message(message):
            try:
                handler.handle(message.body)
            finally:
                message.ack()  # after processing: a crash before this line means redelivery

        self.exchange.consume(name, on_message, check=lambda: self.active)

    # -- publishing ----------------------------------------------------------------------------
    def state_changed(self, new_status: str, job_id: str) -> None:
        """The manager's state change callback: queue the status durably (publishing happens later)."""
        if new_status not in PUBLISHED_STATUSES:
            return
        from lwr.manager_endpoint_util import full_status

        payload = full_status(self.manager, new_status, job_id)
        still_pending = None
        if new_status in TERMINAL_STATUSES:
            still_pending = lambda: self._terminal_pending(job_id)  # noqa: E731
        if self.outbox.put(job_id, new_status, payload, still_pending=still_pending):
            log.debug("job %s: %s status queued for publication", job_id, new_status)

    def _queue_failed(self, job_id, payload):
        if self.outbox is None:
            log.warning("job %s failed but message_queue_publish is off; no status sent", job_id)
            return
        self.outbox.put(job_id, job_status.FAILED, payload)

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

    def _confirmed(self, entry):
        if entry.terminal:
            confirm = getattr(self.manager, "confirm_terminal_status", None)
            if confirm is not None:
                confirm(entry.job_id)

    def _publish_loop(self):
        delay = _PUBLISH_RETRY_START
        attempt = 0
        while self.active:
            self.outbox.wakeup.clear()
            entries = self.outbox.pending()
            if not entries:
                self.outbox.wakeup.wait(1.0)
                continue
            for entry in entries:
                if not self.active:
                    return
                try:
                    self.exchange.publish("status_update", entry.payload)
                except Exception as exc:
                    attempt += 1
                    log.warning("manager %s: publishing %s status of job %s failed (%s: %s); attempt %d, "
                                "retrying in %.1fs", self.manager.name, entry.status, entry.job_id,
                                type(exc).__name__, exc, attempt, delay)
                    self._stopping.wait(delay)
                    delay = min(delay * 2, self.reconnect_max)
                    break
                if attempt:
                    log.info("manager %s: message queue reachable again after %d failed publish attempts",
                             self.manager.name, attempt)
                attempt, delay = 0, _PUBLISH_RETRY_START
                self.outbox.remove(entry, before_remove=self._confirmed)
                log.debug("job %s: %s status published", entry.job_id, entry.status)


def bind_manager_to_queue(manager, persistence_directory: str, url: str, options: dict, consume: bool = True,
                          publish: bool = True) -> ManagerBinding:
    """Start consuming / publishing for ``manager``; ``options`` from :func:`parse_amqp_options`."""
    exchange = LwrExchange(url, manager.name, **options)
    return ManagerBinding(manager, exchange, persistence_directory, consume=consume, publish=publish).start()
