"""Pulsar's message acknowledgement protocol (spec §5.5), shared by the LWR server and its clients.

A publisher with acknowledgements enabled adds three keys to a message:
``acknowledge_uuid``, ``acknowledge_queue`` (``<name>_ack``, without the key
prefix) and ``acknowledge_submit_queue`` (``<name>``), and keeps the payload
until ``{"acknowledge_uuid_response": <uuid>}`` arrives on that ack queue; it
republishes unanswered payloads with ``force_noack`` added.  Whoever consumes
a message carrying ``acknowledge_uuid`` answers it, whatever its own settings.
"""
import logging
import re
import uuid
from typing import Optional, Tuple

__all__ = ["ACK_UUID_KEY", "ACK_QUEUE_KEY", "ACK_SUBMIT_QUEUE_KEY", "ACK_UUID_RESPONSE_KEY",
           "ACK_FORCE_NOACK_KEY", "ACK_QUEUE_SUFFIX", "ACK_KEYS", "InvalidAckRequest", "ack_request",
           "answer_ack", "add_ack_keys", "ack_response_uuid", "new_ack_uuid"]

log = logging.getLogger(__name__)

ACK_UUID_KEY = "acknowledge_uuid"
ACK_QUEUE_KEY = "acknowledge_queue"
ACK_SUBMIT_QUEUE_KEY = "acknowledge_submit_queue"
ACK_UUID_RESPONSE_KEY = "acknowledge_uuid_response"
ACK_FORCE_NOACK_KEY = "force_noack"
ACK_QUEUE_SUFFIX = "_ack"
ACK_KEYS = (ACK_UUID_KEY, ACK_QUEUE_KEY, ACK_SUBMIT_QUEUE_KEY, ACK_FORCE_NOACK_KEY)

# Pulsar sends str(uuid.uuid1()); anything uuid-shaped is accepted, nothing that could name a path.
_UUID = re.compile(r"^[0-9A-Fa-f][0-9A-Fa-f-]{7,63}$")
# An answer may only go to an ``*_ack`` queue of the same key prefix (never to setup, kill, ...).
_ACK_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}_ack$")


class InvalidAckRequest(ValueError):
    """A message asked for an acknowledgement in a form that cannot be answered."""


def ack_request(body) -> Optional[Tuple[str, str]]:
    """``(uuid, ack queue name)`` when ``body`` asks for an acknowledgement, else None.

    >>> ack_request({"job_id": "1"}) is None
    True
    >>> ack_request({"acknowledge_uuid": "6c4a1f5e-0b1d-11ef-9d2a-0242ac120002", "acknowledge_queue": "setup_ack"})
    ('6c4a1f5e-0b1d-11ef-9d2a-0242ac120002', 'setup_ack')
    """
    if not isinstance(body, dict) or ACK_UUID_KEY not in body:
        return None
    ack_uuid, queue = body.get(ACK_UUID_KEY), body.get(ACK_QUEUE_KEY)
    if not isinstance(ack_uuid, str) or not _UUID.match(ack_uuid):
        raise InvalidAckRequest("acknowledge_uuid %r is not a UUID" % (ack_uuid,))
    if not isinstance(queue, str) or not _ACK_QUEUE.match(queue):
        raise InvalidAckRequest("acknowledge_queue %r is not the name of an *_ack queue" % (queue,))
    return ack_uuid, queue


def answer_ack(exchange, ack_uuid: str, queue: str) -> None:
    """Publish ``{"acknowledge_uuid_response": ack_uuid}`` to ``queue`` (declared, mandatory, confirmed).

    The queue is declared so the answer waits for a publisher that is down
    right now; it keeps the payload until it reads the answer.
    """
    exchange.publish(queue, {ACK_UUID_RESPONSE_KEY: ack_uuid})
    log.debug("acknowledged message %s on %s", ack_uuid, exchange.queue_name(queue))


def new_ack_uuid() -> str:
    return str(uuid.uuid1())


def add_ack_keys(payload: dict, name: str, ack_uuid: str, republish: bool = False) -> dict:
    """A copy of ``payload`` asking for an acknowledgement on ``<name>_ack``; ``republish`` adds ``force_noack``."""
    payload = dict(payload)
    payload[ACK_UUID_KEY] = ack_uuid
    payload[ACK_QUEUE_KEY] = name + ACK_QUEUE_SUFFIX
    payload[ACK_SUBMIT_QUEUE_KEY] = name
    if republish:
        payload[ACK_FORCE_NOACK_KEY] = True
    return payload


def ack_response_uuid(body) -> Optional[str]:
    """The uuid an ``*_ack`` message answers (None when it is not an answer)."""
    if isinstance(body, dict) and isinstance(body.get(ACK_UUID_RESPONSE_KEY), str):
        return body[ACK_UUID_RESPONSE_KEY]
    return None
