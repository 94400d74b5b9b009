"""Parsing Galaxy destination parameters: the LWR URL (with embedded token) and ``submit_*`` params."""
import re

__all__ = ["url_to_destination_params", "submit_params"]

_TOKEN = re.compile(r"^(https?://)([^/@]*)@")
SUBMIT_PREFIX = "submit_"


def url_to_destination_params(url: str) -> dict:
    """``{"url": ..., "private_token": ...}`` from a Galaxy runner URL.

    >>> url_to_destination_params("http://localhost:8913/")
    {'url': 'http://localhost:8913/', 'private_token': None}
    >>> url_to_destination_params("http://localhost:8913")
    {'url': 'http://localhost:8913/', 'private_token': None}
    >>> url_to_destination_params("lwr://http://localhost:8913/")
    {'url': 'http://localhost:8913/', 'private_token': None}
    >>> url_to_destination_params("https://123x@lwr.example.org:8913/managers/m/")
    {'url': 'https://lwr.example.org:8913/managers/m/', 'private_token': '123x'}
    """
    if url.startswith("lwr://"):
        url = url[len("lwr://"):]
    if not url.endswith("/"):
        url += "/"
    private_token = None
    match = _TOKEN.match(url)
    if match:
        private_token = match.group(2) or None
        url = match.group(1) + url[match.end():]
    return {"url": url, "private_token": private_token}


def submit_params(destination_params: dict) -> dict:
    """The ``submit_<x>`` destination parameters as ``{x: value}``.

    >>> submit_params({"url": "http://x/", "submit_native_specification": "-q fast"})
    {'native_specification': '-q fast'}
    """
    return {key[len(SUBMIT_PREFIX):]: value for key, value in (destination_params or {}).items()
            if key.startswith(SUBMIT_PREFIX)}
