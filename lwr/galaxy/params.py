"""Plugin-level (``runner_param_specs``) and destination-level parameters of the LWR runner.

Standard library only: Galaxy's ``ParamsWithSpecs`` takes the specs as plain dicts.
"""
from typing import Any, Callable, Dict, Optional

from lwr.lwr_client.destination import url_to_destination_params

__all__ = ["RUNNER_PARAM_SPECS", "AMQP_PARAMS", "client_manager_kwargs", "destination_client_params",
           "dependency_resolution", "rewrite_parameters", "as_bool", "DEPENDENCY_RESOLUTIONS"]

DEPENDENCY_RESOLUTIONS = ("none", "local", "remote")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "none", "")


def as_bool(value: Any) -> Optional[bool]:
    """``True``/``False`` from a config string (``None`` stays ``None``).

    >>> [as_bool(v) for v in ("True", "no", None, 1)]
    [True, False, None, True]
    """
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected a boolean (true/false), got %r" % (value,))


def _optional_float(value: Any) -> Optional[float]:
    if value is None or str(value).strip().lower() in ("", "none"):
        return None
    return float(value)


def _spec(mapper: Callable, default=None, valid: Optional[Callable] = None) -> Dict[str, Any]:
    spec = {"map": mapper, "default": default}
    if valid is not None:
        spec["valid"] = valid
    return spec


#: AMQP options of the message-queue client manager, passed through unchanged (spec §6.1, §7).
AMQP_PARAMS = {
    # Queue names: exchange lwr (LWR 0.2.0 and this LWR's default) or pulsar, or an explicit key prefix.
    "amqp_exchange": _spec(str),
    "amqp_key_prefix": _spec(str),
    "amqp_consumer_timeout": _spec(_optional_float),
    "amqp_publish_retry": _spec(as_bool),
    "amqp_publish_retry_max_retries": _spec(int),
    "amqp_publish_retry_interval_start": _spec(int),
    "amqp_publish_retry_interval_step": _spec(int),
    "amqp_publish_retry_interval_max": _spec(int),
    "amqp_publish_priority": _spec(int),
    "amqp_publish_expiration": _spec(int),
    "amqp_publish_delivery_mode": _spec(int),
    "amqp_connect_ssl_ca_certs": _spec(str),
    "amqp_connect_ssl_keyfile": _spec(str),
    "amqp_connect_ssl_certfile": _spec(str),
    "amqp_connect_ssl_cert_reqs": _spec(str),
}

#: Every parameter the plugin accepts; Galaxy refuses any other at startup.
RUNNER_PARAM_SPECS = dict(
    # HTTP transport: urllib (default) or curl.
    transport=_spec(str, None, lambda value: value in (None, "urllib", "curl")),
    # Upload inputs through the LWR file cache.
    cache=_spec(as_bool),
    transfer_threads=_spec(int, None, lambda value: value is None or int(value) >= 1),
    # An AMQP URL: use the message queue instead of HTTP (status updates are pushed, not polled).
    url=_spec(str),
    # The LWR job manager whose queues the MQ client talks to.
    manager=_spec(str, "_default_"),
    # Galaxy's own URL, for the job files API used by remote_transfer actions.
    galaxy_url=_spec(str),
    # Seconds between two status polls of one job (HTTP only).
    status_poll_interval=_spec(float, 0.0, lambda value: float(value) >= 0),
    **AMQP_PARAMS,
)


def client_manager_kwargs(runner_params) -> Dict[str, Any]:
    """Keyword arguments for ``build_client_manager`` from the plugin parameters."""
    kwargs = {}
    for key in ("transport", "cache", "transfer_threads"):
        if runner_params.get(key) is not None:
            kwargs[key] = runner_params.get(key)
    url = runner_params.get("url")
    if url:
        kwargs["url"] = url
        kwargs["manager"] = runner_params.get("manager") or "_default_"
        for key in AMQP_PARAMS:
            if runner_params.get(key) is not None:
                kwargs[key] = runner_params.get(key)
    return kwargs


def destination_client_params(params: Dict[str, Any]) -> Dict[str, Any]:
    """Destination parameters as the client library expects them.

    ``url`` may be the legacy ``lwr://http://...`` form and may carry the token
    (``http://TOKEN@host:8913/``); an explicit ``private_token`` wins.

    >>> sorted(destination_client_params({"url": "lwr://http://s3cret@lwr:8913"}).items())
    [('private_token', 's3cret'), ('url', 'http://lwr:8913/')]
    >>> destination_client_params({"url": "http://a@lwr/", "private_token": "b"})["private_token"]
    'b'
    """
    result = {key: value for key, value in (params or {}).items() if value is not None}
    url = result.get("url")
    if url:
        parsed = url_to_destination_params(str(url))
        result["url"] = parsed["url"]
        if not result.get("private_token") and parsed.get("private_token"):
            result["private_token"] = parsed["private_token"]
    return result


def dependency_resolution(params: Dict[str, Any]) -> str:
    """``none``, ``local`` (default: Galaxy resolves, commands travel in the command line) or ``remote``."""
    value = str(params.get("dependency_resolution") or "local").strip().lower()
    if value not in DEPENDENCY_RESOLUTIONS:
        raise ValueError("unknown dependency_resolution %r; expected one of %s"
                         % (value, ", ".join(DEPENDENCY_RESOLUTIONS)))
    return value


def rewrite_parameters(params: Dict[str, Any]) -> bool:
    """Whether Galaxy computes the remote paths itself while building the command."""
    return bool(as_bool(params.get("rewrite_parameters", False)))
