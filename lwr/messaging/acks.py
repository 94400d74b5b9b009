"""The server's memory of acknowledged message uuids (spec §5.5, consumer side).

A publisher with acknowledgements on (Galaxy's ``amqp_acknowledge``)
republishes a message until its answer arrives, so the same ``setup`` or
``kill`` can come more than once.  A uuid is recorded here only *after* its
message was handled; a message whose uuid is already recorded is answered
again but not acted on.  (Recording before handling, as Pulsar does, would
lose the job when the LWR dies in between: the broker redelivers the message
and it would be skipped.)

Entries are empty files ``<persistence_directory>/<manager>-amqp-ack-consumed/<uuid>``;
those older than :data:`DEFAULT_MEMORY` seconds are swept, since publishers stop
republishing once answered.
"""
import logging
import os
import threading
import time

__all__ = ["SeenUuids", "DEFAULT_MEMORY"]

log = logging.getLogger(__name__)

#: Seconds a handled uuid is remembered (three days).
DEFAULT_MEMORY = 3 * 24 * 3600
_SWEEP_EVERY = 3600.0


class SeenUuids:
    """Durable set of handled message uuids (callers pass uuids checked by ``amqp_acks.ack_request``)."""

    def __init__(self, directory: str, memory: float = DEFAULT_MEMORY):
        self.directory = directory
        self.memory = memory
        self._lock = threading.Lock()
        self._last_sweep = 0.0
        os.makedirs(directory, exist_ok=True)
        self.sweep()

    def __contains__(self, ack_uuid: str) -> bool:
        return os.path.exists(os.path.join(self.directory, ack_uuid))

    def add(self, ack_uuid: str) -> None:
        open(os.path.join(self.directory, ack_uuid), "a").close()
        if time.monotonic() - self._last_sweep > _SWEEP_EVERY:
            self.sweep()

    def sweep(self) -> int:
        """Forget uuids older than ``memory``; returns how many went."""
        with self._lock:
            self._last_sweep = time.monotonic()
            cutoff = time.time() - self.memory
            removed = 0
            for name in os.listdir(self.directory):
                path = os.path.join(self.directory, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except OSError:
                    continue
            if removed:
                log.debug("forgot %d acknowledged message uuids older than %ss", removed, self.memory)
            return removed
