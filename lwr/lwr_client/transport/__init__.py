"""HTTP transports: ``urllib`` (default) and ``curl`` (pycurl), chosen by name or environment."""
import os

from lwr.lwr_client.transport.base import mask_url
from lwr.lwr_client.transport.retry import RetryPolicy, default_retry, set_default_retry
from lwr.lwr_client.transport.curl import PycurlTransport, pycurl_available
from lwr.lwr_client.transport.standard import Urllib2Transport, UrllibTransport

__all__ = [
    "get_transport",
    "get_file",
    "post_file",
    "UrllibTransport",
    "Urllib2Transport",
    "PycurlTransport",
    "RetryPolicy",
    "set_default_retry",
    "default_retry",
    "mask_url",
    "pycurl_available",
]

_URLLIB_NAMES = ("urllib", "urllib2", "standard")
_CURL_NAMES = ("curl", "pycurl")


def transport_type(transport_type=None, environ=os.environ) -> str:
    """``urllib`` or ``curl``: the name given, else ``LWR_CURL_TRANSPORT`` (unset/"0" -> urllib).

    >>> transport_type(None, {})
    'urllib'
    >>> transport_type(None, {"LWR_CURL_TRANSPORT": "1"})
    'curl'
    >>> transport_type("urllib", {"LWR_CURL_TRANSPORT": "1"})
    'urllib'
    """
    if transport_type is None or transport_type == "":
        use_curl = environ.get("LWR_CURL_TRANSPORT", "0")
        return "urllib" if use_curl in ("", "0") else "curl"
    name = str(transport_type).lower()
    if name in _URLLIB_NAMES:
        return "urllib"
    if name in _CURL_NAMES:
        return "curl"
    raise ValueError("unknown LWR transport %r; expected 'urllib' or 'curl'" % (transport_type,))


def get_transport(transport_type_name=None, environ=os.environ, **kwds):
    """A transport instance; ``kwds`` (``timeout``, ``retry``, ``ssl_verify``, ``progress``: see
    :mod:`lwr.lwr_client.progress`) go to its constructor."""
    if transport_type(transport_type_name, environ) == "urllib":
        return UrllibTransport(**kwds)
    return PycurlTransport(**kwds)


def get_file(url: str, path: str) -> str:
    """GET ``url`` into ``path`` (temporary name renamed on success)."""
    return get_transport().get_file(url, path)


def post_file(url: str, path: str) -> bytes:
    """POST ``path`` to ``url`` as the multipart field ``file``."""
    return get_transport().post_file(url, path)
