"""Counts every request by route name, method and status, and times it until its answer is sent.

The route name is the one of :data:`lwr.lwr_client.route_table.ROUTES` that the framework
matched (``environ["lwr.route"]``); a request no route matched is counted as ``none``.
Uploads (``upload_file``) and downloads (``download_output``) that succeed are also counted
as files staged in and out, by their ``type``.
"""
from lwr.metrics import OTHER
from lwr.util import asbool
from lwr.web.framework import ROUTE_KEY  # where the framework leaves the name of the route it matched
from lwr.web.observed import RequestRecord, observe

__all__ = ["MetricsMiddleware", "METHODS"]

#: Methods counted under their own name; any other is counted as ``other``.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))
#: Routes that move job files: route name -> (direction, default file type).
STAGING_ROUTES = {"upload_file": ("in", None), "download_output": ("out", "output")}


class MetricsMiddleware:
    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        return observe(self.app, environ, start_response, _Record(self.metrics, environ), error_status="500")


class _Record(RequestRecord):
    def __init__(self, metrics, environ):
        super().__init__(environ, status="500")  # an application that never called start_response failed
        self.metrics = metrics
        metrics.http_in_progress.inc()

    def report(self):
        metrics, environ = self.metrics, self.environ
        seconds = self.seconds
        metrics.http_in_progress.dec()
        route = environ.get(ROUTE_KEY) or "none"
        method = environ.get("REQUEST_METHOD")
        method = method if method in METHODS else OTHER
        counter, histogram = metrics.http_children(route, method, self.status)
        counter.inc()
        histogram.observe(seconds)
        staging = STAGING_ROUTES.get(route)
        if staging is not None and self.status.startswith("2"):
            direction, default_type = staging
            if direction == "in":
                size = _int(environ.get("CONTENT_LENGTH"))
                if size is None:  # chunked: what the application read
                    size = self.bytes_in
            else:
                size = self.declared_length if self.declared_length is not None else self.bytes_out
            # a resumable upload's parts carry its bytes; the file counts once, when committed
            files = 1 if _query(environ, "upload_id") is None or _true(_query(environ, "commit")) else 0
            metrics.staged(direction, _query(environ, "type") or default_type, size, seconds, files)


def _query(environ, name):
    cached = environ.get("lwr.query")  # the framework's decoding of the query string, when it parsed one
    return cached[1].get(name) if cached else None


def _true(text) -> bool:
    try:
        return asbool(text, False)
    except ValueError:
        return False


def _int(text):
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None
