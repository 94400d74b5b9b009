"""``[app:main]`` options of message-queue mode, declared once (see :mod:`lwr.options`).

:mod:`lwr.messaging` and :mod:`lwr.lwr_client.amqp_options` read these values; this table
refuses typos and bad values at start and writes the docs' table.
"""
from lwr.options import BOOL, STRING, Kind, Option, choice, integer, number

__all__ = ["MESSAGE_QUEUE_OPTIONS"]


def _timeout(text):
    return None if text.strip().lower() == "none" else number(minimum=0).parse(text)


TIMEOUT = Kind("number or None", _timeout, "a number of seconds of at least 0, or None")

MESSAGE_QUEUE_OPTIONS = [
    Option("message_queue_url", STRING, None,
           "AMQP broker URL (e.g. amqp://guest:guest@localhost:5672//): take jobs from it and publish "
           "their status to it. Unset: no message queue."),
    Option("message_queue_consume", BOOL, True, "Consume setup, kill, status and clean messages."),
    Option("message_queue_publish", BOOL, True, "Publish status updates."),
    Option("amqp_exchange", STRING, "pulsar, lwr",
           "Exchanges served, comma-separated (pulsar, lwr); the first one also gets the statuses of "
           "jobs that did not arrive over a queue."),
    Option("amqp_key_prefix", STRING, None,
           "Routing-key prefix on the first exchange instead of <exchange>_ / <exchange>_<manager>_; "
           "must equal Galaxy's amqp_key_prefix runner parameter."),
    Option("amqp_acknowledge", BOOL, False,
           "Ask consumers of status updates to acknowledge each one; republish until they do."),
    Option("amqp_ack_republish_time", number(positive=True), 30,
           "Seconds between republications of an unacknowledged status update."),
    Option("amqp_consumer_timeout", TIMEOUT, 0.2,
           "Seconds each wait for messages lasts before the consumer checks whether to stop "
           "(a number, or None)."),
    Option("amqp_heartbeat", integer(0), 580, "Heartbeat interval in seconds (0: no heartbeats)."),
    Option("amqp_confirm_timeout", number(positive=True), 10,
           "Seconds to wait for the broker to confirm a published status."),
    Option("amqp_reconnect_max", number(positive=True), 30,
           "Longest wait in seconds between attempts to reach the broker."),
    Option("amqp_publish_retry", BOOL, False,
           "Retry publishing when the broker is unreachable (kombu's retry_policy)."),
    Option("amqp_publish_retry_max_retries", integer(0), 3, "retry_policy max_retries."),
    Option("amqp_publish_retry_interval_start", number(minimum=0), None, "retry_policy interval_start (seconds)."),
    Option("amqp_publish_retry_interval_step", number(minimum=0), None, "retry_policy interval_step (seconds)."),
    Option("amqp_publish_retry_interval_max", number(minimum=0), None, "retry_policy interval_max (seconds)."),
    Option("amqp_publish_", STRING, None,
           "Any other amqp_publish_<name> is passed to kombu's publish() as <name> "
           "(e.g. amqp_publish_priority, amqp_publish_expiration).", prefix=True),
    Option("amqp_connect_ssl_ca_certs", STRING, None, "CA certificates for TLS to the broker."),
    Option("amqp_connect_ssl_keyfile", STRING, None, "Client key for TLS to the broker."),
    Option("amqp_connect_ssl_certfile", STRING, None, "Client certificate for TLS to the broker."),
    Option("amqp_connect_ssl_cert_reqs",
           choice("cert_required", "cert_optional", "cert_none", ignore_case=True), None,
           "cert_required, cert_optional or cert_none (an ssl module constant)."),
]
