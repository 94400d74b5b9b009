"""The status publisher of one manager binding: outbox -> broker, optionally with acknowledgements.

Each outbox entry is published to ``status_update`` on its exchange (declared
first, ``mandatory``, confirmed by the broker).  A failure - broker down,
message refused, or returned as unroutable - leaves the entry in the outbox;
it is logged as a warning and retried with growing pauses.

With ``amqp_acknowledge`` the payload also carries Pulsar's ack keys
(``acknowledge_uuid`` ...): after the broker took it, the entry stays in the
outbox marked as published until the consumer's answer arrives on
``status_update_ack`` (:meth:`StatusPublisher.acknowledged`), and it is
republished with ``force_noack`` every ``amqp_ack_republish_time`` seconds
until then.  Once a job's terminal status went out, its older non-terminal
entries are no longer republished.
"""
import logging
import time

from lwr.lwr_client.amqp_acks import add_ack_keys

__all__ = ["StatusPublisher", "DEFAULT_REPUBLISH_TIME", "RETRY_START"]

log = logging.getLogger(__name__)

#: Seconds a published status waits for its acknowledgement before it is sent again (Pulsar's default).
DEFAULT_REPUBLISH_TIME = 30.0
#: First pause after a failed publish; doubles up to the exchange's ``reconnect_max``.
RETRY_START = 0.5
_IDLE_WAIT = 1.0


class StatusPublisher:
    """Runs in the binding's ``status-publisher`` thread (:meth:`run`)."""

    def __init__(self, manager, outbox, exchanges: dict, primary: str, stopping, reconnect_max: float,
                 acknowledge: bool = False, republish_time: float = DEFAULT_REPUBLISH_TIME):
        self.manager = manager
        self.outbox = outbox
        self.exchanges = exchanges
        self.primary = primary
        self.stopping = stopping
        self.reconnect_max = reconnect_max
        self.acknowledge = acknowledge
        self.republish_time = republish_time

    @property
    def active(self) -> bool:
        return not self.stopping.is_set()

    def exchange_for(self, entry):
        exchange = self.exchanges.get(entry.route or self.primary)
        if exchange is None:
            log.warning("job %s: exchange %r is no longer served; sending its %s status to %s", entry.job_id,
                        entry.route, entry.status, self.primary)
            exchange = self.exchanges[self.primary]
        return exchange

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        delay, attempt = RETRY_START, 0
        while self.active:
            self.outbox.wakeup.clear()
            now = time.time()
            due = [e for e in self.outbox.pending() if self._due(e, now)]
            if not due:
                self.outbox.wakeup.wait(self._idle_wait(now))
                continue
            for entry in due:
                if not self.active:
                    return
                try:
                    self._publish(entry)
                except Exception as exc:
                    attempt += 1
                    log.warning("manager %s: publishing %s status of job %s to %s failed (%s: %s); attempt %d, "
                                "retrying in %.1fs", self.manager.name, entry.status, entry.job_id,
                                self.exchange_for(entry).queue_name("status_update"), type(exc).__name__, exc,
                                attempt, delay)
                    self.stopping.wait(delay)
                    delay = min(delay * 2, self.reconnect_max)
                    break
                if attempt:
                    log.info("manager %s: message queue reachable again after %d failed publish attempts",
                             self.manager.name, attempt)
                attempt, delay = 0, RETRY_START

    def _due(self, entry, now) -> bool:
        return entry.published_at is None or now - entry.published_at >= self.republish_time

    def _idle_wait(self, now) -> float:
        waiting = [e.published_at + self.republish_time - now for e in self.outbox.pending()
                   if e.published_at is not None]
        return max(min([_IDLE_WAIT] + waiting), 0.05)

    def _publish(self, entry) -> None:
        exchange = self.exchange_for(entry)
        if not self.acknowledge:
            exchange.publish("status_update", entry.payload)
            self.outbox.remove(entry, before_remove=self._confirmed)
            log.debug("job %s: %s status published", entry.job_id, entry.status)
            return
        republish = entry.published_at is not None
        payload = add_ack_keys(entry.payload, "status_update", entry.ack_uuid, republish=republish)
        exchange.publish("status_update", payload)
        if republish:
            log.info("job %s: %s status not acknowledged within %ss; published again", entry.job_id,
                     entry.status, self.republish_time)
        else:
            self._confirmed(entry)
        self.outbox.mark_published(entry)

    def _confirmed(self, entry) -> None:
        """The broker has the status: a terminal one is no longer 'pending' for the manager."""
        if not entry.terminal:
            return
        confirm = getattr(self.manager, "confirm_terminal_status", None)
        if confirm is not None:
            confirm(entry.job_id)
        for stale in self.outbox.drop_superseded(entry.job_id):
            log.debug("job %s: unacknowledged %s status superseded by %s; not sent again", entry.job_id,
                      stale.status, entry.status)

    # -- acknowledgements ----------------------------------------------------------------------
    def acknowledged(self, ack_uuid: str) -> None:
        entry = self.outbox.acknowledged(ack_uuid)
        if entry is None:
            log.debug("acknowledgement for unknown or already acknowledged status %s", ack_uuid)
        else:
            log.debug("job %s: %s status acknowledged by its consumer", entry.job_id, entry.status)
