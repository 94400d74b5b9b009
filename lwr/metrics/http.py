"""Counts every request by route name, method and status, and times it until its answer is sent.

The route name is the one of :data:`lwr.lwr_client.route_table.ROUTES` that the framework
matched (``environ["lwr.route"]``); a request no route matched is counted as ``none``.
Uploads (``upload_file``) and downloads (``download_output``) that succeed are also counted
as files staged in and out, by their ``type``.
"""
import time

from lwr.metrics import OTHER
from lwr.util import asbool
from lwr.web.framework import ROUTE_KEY  # where the framework leaves the name of the route it matched

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
        record = _Record(self.metrics, environ)
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = record.input = _CountingInput(environ["wsgi.input"])

        def recording_start_response(status, headers, exc_info=None):
            record.status = status.split(" ", 1)[0]
            record.declared_length = _content_length(headers)
            write = start_response(status, headers, exc_info)

            def counting_write(data):
                record.bytes_out += len(data)
                return write(data)

            return counting_write

        try:
            result = self.app(environ, recording_start_response)
        except BaseException:
            record.status = "500"
            record.finish()
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(result, wrapper):
            return _finish_on_close(result, record)  # returned as is: the server still sends the file itself
        return _CountedBody(result, record)


class _Record:
    __slots__ = ("metrics", "environ", "started", "status", "declared_length", "bytes_out", "done", "input")

    def __init__(self, metrics, environ):
        self.metrics = metrics
        self.environ = environ
        self.started = time.monotonic()
        self.status = "500"  # an application that never called start_response failed
        self.declared_length = None
        self.bytes_out = 0
        self.done = False
        self.input = None
        metrics.http_in_progress.inc()

    def finish(self):
        if self.done:
            return
        self.done = True
        metrics, environ = self.metrics, self.environ
        seconds = time.monotonic() - self.started
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
                    size = self.input.bytes_read if self.input is not None else 0
            else:
                size = self.declared_length if self.declared_length is not None else self.bytes_out
            # a resumable upload's parts carry its bytes; the file counts once, when committed
            files = 1 if _query(environ, "upload_id") is None or _true(_query(environ, "commit")) else 0
            metrics.staged(direction, _query(environ, "type") or default_type, size, seconds, files)


class _CountingInput:
    """``wsgi.input`` of a body without Content-Length (chunked): counts what the application reads."""

    def __init__(self, stream):
        self._stream = stream
        self.bytes_read = 0

    def read(self, *args):
        data = self._stream.read(*args)
        self.bytes_read += len(data)
        return data

    def readline(self, *args):
        data = self._stream.readline(*args)
        self.bytes_read += len(data)
        return data

    def __iter__(self):
        for line in self._stream:
            self.bytes_read += len(line)
            yield line

    def __getattr__(self, name):  # e.g. ``finished`` of LWR's own body readers
        return getattr(self._stream, name)


class _CountedBody:
    def __init__(self, result, record):
        self._result = result
        self._record = record

    def __iter__(self):
        record = self._record
        for chunk in self._result:
            record.bytes_out += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._record.finish()


def _finish_on_close(wrapper, record):
    close = wrapper.close

    def counted_close():
        try:
            close()
        finally:
            record.finish()

    wrapper.close = counted_close
    return wrapper


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


def _content_length(headers):
    for name, value in headers:
        if name.lower() == "content-length":
            return _int(value)
    return None
