"""Every route of the LWR server, declared once (spec §1.3).

The server binds a handler of the same name to each route (``lwr.web.wsgi``), the client
builds its URLs from the same rows (``lwr.lwr_client.interface``), and the tests walk the
table. Standard library only: Galaxy vendors the client package without the server.
"""
import re
from typing import NamedTuple, Optional

__all__ = ["Route", "ROUTES", "ROUTES_BY_NAME", "MANAGER_PREFIX", "path_parameters", "fill_path"]


class Route(NamedTuple):
    """One route: the client command and server handler ``name``, the HTTP ``method`` (None:
    any method is served; the client sends GET), the ``path`` template with ``{parameter}``
    segments, what the answer is (``json``, ``file``, ``text`` of the route's own format,
    ``html`` or the text ``OK``), and how the token is given (``auth``): ``token`` in the query
    (every route), ``cookie`` (also the status page's session cookie, see
    :mod:`lwr.web.status_auth`) or ``login`` (also a form field)."""

    name: str
    method: Optional[str]
    path: str
    response: str = "OK"
    auth: str = "token"


#: Every route is also served under this prefix for a named manager (``_default_`` otherwise).
MANAGER_PREFIX = "/managers/{manager_name}"

ROUTES = (
    Route("setup", "POST", "/jobs", "json"),
    Route("clean", "DELETE", "/jobs/{job_id}"),
    Route("submit", "POST", "/jobs/{job_id}/submit"),
    Route("status", None, "/jobs/{job_id}/status", "json"),
    Route("cancel", "PUT", "/jobs/{job_id}/cancel"),
    Route("upload_file", "POST", "/jobs/{job_id}/files", "json"),
    Route("path", "GET", "/jobs/{job_id}/files/path", "json"),
    Route("upload_offset", "GET", "/jobs/{job_id}/files/offset", "json"),
    Route("download_output", "GET", "/jobs/{job_id}/files", "file"),
    Route("healthz", "GET", "/healthz", "json"),
    Route("metrics", "GET", "/metrics", "text"),  # Prometheus text format (docs/metrics.rst)
    # the experimental file cache (spec §8)
    Route("file_available", "GET", "/cache/status", "json"),
    Route("cache_required", "PUT", "/cache", "json"),
    Route("cache_insert", "POST", "/cache", "json"),
    # the optional object store
    Route("object_store_exists", None, "/objects/{object_id}/exists", "json"),
    Route("object_store_file_ready", None, "/objects/{object_id}/file_ready", "json"),
    Route("object_store_create", "POST", "/objects/{object_id}", "json"),
    Route("object_store_empty", None, "/objects/{object_id}/empty", "json"),
    Route("object_store_size", None, "/objects/{object_id}/size", "json"),
    Route("object_store_delete", "DELETE", "/objects/{object_id}", "json"),
    Route("object_store_get_data", "GET", "/objects/{object_id}", "file"),
    Route("object_store_get_filename", None, "/objects/{object_id}/filename", "json"),
    Route("object_store_update_from_file", "PUT", "/objects/{object_id}", "json"),
    Route("object_store_get_store_usage_percent", None, "/object_store_usage_percent", "json"),
    # the status page for people (docs/status_page.rst): the token once, in a form, then a cookie
    Route("status_page", "GET", "/status", "html", "cookie"),
    Route("status_login", "POST", "/status", "html", "login"),
    Route("status_logout", "POST", "/status/logout", "html", "cookie"),
    Route("status_json", "GET", "/status.json", "json", "cookie"),
    Route("status_script", "GET", "/status.js", "file", "cookie"),
)

ROUTES_BY_NAME = {route.name: route for route in ROUTES}

_PARAMETER = re.compile(r"\{(\w+)\}")


def path_parameters(template: str) -> list:
    """The ``{parameter}`` names of a path template, in order."""
    return _PARAMETER.findall(template)


def fill_path(template: str, values: dict) -> str:
    """``template`` with each ``{parameter}`` that has a value replaced by it (others kept)."""
    return _PARAMETER.sub(lambda match: values.get(match.group(1), match.group(0)), template)
