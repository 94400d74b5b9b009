"""``amqp_*`` options (ini strings or Galaxy's typed values) -> typed :class:`LwrExchange` arguments."""
import ssl

from lwr.lwr_client.util import asbool

__all__ = ["parse_amqp_options", "asbool", "DEFAULT_TIMEOUT", "DEFAULT_HEARTBEAT", "DEFAULT_CONFIRM_TIMEOUT",
           "DEFAULT_RECONNECT_MAX"]

DEFAULT_TIMEOUT = 0.2
#: Seconds; the broker drops a connection that misses two heartbeats.
DEFAULT_HEARTBEAT = 580
#: Seconds to wait for the broker to confirm a publish.
DEFAULT_CONFIRM_TIMEOUT = 10.0
DEFAULT_RECONNECT_MAX = 30.0


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


def _publish_value(name, value):
    if not isinstance(value, str):
        return value
    if name in ("priority", "delivery_mode"):
        return _number(value, int, "amqp_publish_%s" % name)
    if name in ("expiration",):
        return _number(value, float, "amqp_publish_%s" % name)
    return value
