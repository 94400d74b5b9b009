"""One log line per request, and the token kept out of every log.

The access log masks the value of each query parameter that authenticates
(:func:`lwr.web.query.mask_query`, decoded as the token check decodes it).
:func:`install_secret_masking` extends that to every other log record of the process -
messages, arguments, tracebacks - so that a failing route logging its URL or environ
cannot write the token either.
"""
import logging
import threading
import time

from lwr.web.query import mask_query, mask_text

__all__ = ["AccessLogMiddleware", "mask_secrets", "install_secret_masking"]

log = logging.getLogger("lwr.access")

#: Kept for callers of the 0.2.0-era name.
mask_secrets = mask_query

_install_lock = threading.Lock()
_secrets = set()


def install_secret_masking(secrets=()):
    """Mask the token in every log record created from now on (idempotent; adds ``secrets``).

    A record factory rather than a handler filter: it also covers handlers configured
    later and records that propagate to the root logger. The record's message is formatted
    and masked once, here, and its traceback text is rendered and masked too.
    """
    with _install_lock:
        _secrets.update(secret for secret in secrets if secret)
        previous = logging.getLogRecordFactory()
        if getattr(previous, "lwr_masking", False):
            return
        formatter = logging.Formatter()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            known = tuple(_secrets)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: logging reports it at emit time
                return record
            record.msg, record.args = mask_text(message, known), None
            if record.exc_info and not record.exc_text:
                record.exc_text = mask_text(formatter.formatException(record.exc_info), known)
            if record.stack_info:
                record.stack_info = mask_text(record.stack_info, known)
            return record

        factory.lwr_masking = True
        logging.setLogRecordFactory(factory)


class AccessLogMiddleware:
    """Logs one line per request once its answer has been sent (or abandoned):

    ``ADDRESS METHOD PATH?QUERY STATUS in=REQUEST_BYTES out=RESPONSE_BYTES SECONDS``

    ``in`` is the request body's ``Content-Length``, or for a chunked body the bytes the
    application read; ``out`` counts the response body bytes handed to the server (for a
    ``wsgi.file_wrapper`` download, the length it declared). The duration runs until the
    server closes the response, so it includes streaming a download to the client.
    """

    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        if not log.isEnabledFor(logging.INFO):
            return self.app(environ, start_response)
        record = _RequestRecord(environ)
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], record)

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
            record.finish()
            raise
        if _is_file_wrapper(result, environ):
            return _log_on_close(result, record)
        return _LoggedBody(result, record)


class _RequestRecord:
    """What the access log line says about one request; :meth:`finish` writes it once."""

    __slots__ = ("environ", "started", "status", "declared_length", "bytes_in", "bytes_out", "done")

    def __init__(self, environ):
        self.environ = environ
        self.started = time.monotonic()
        self.status = "-"
        self.declared_length = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.done = False

    def finish(self):
        if self.done:
            return
        self.done = True
        environ = self.environ
        query = mask_query(environ.get("QUERY_STRING", ""))
        declared = environ.get("CONTENT_LENGTH")
        bytes_in = declared if declared and declared.isdigit() else self.bytes_in
        log.info("%s %s %s%s %s in=%s out=%d %.3fs", environ.get("REMOTE_ADDR", "-"),
                 environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), "?" + query if query else "",
                 self.status, bytes_in, self.bytes_out, time.monotonic() - self.started)


class _CountingInput:
    """``wsgi.input`` of a body without Content-Length (chunked): counts what the application reads."""

    def __init__(self, stream, record):
        self._stream = stream
        self._record = record

    def read(self, *args):
        data = self._stream.read(*args)
        self._record.bytes_in += len(data)
        return data

    def readline(self, *args):
        data = self._stream.readline(*args)
        self._record.bytes_in += len(data)
        return data

    def readlines(self, *args):
        lines = self._stream.readlines(*args)
        self._record.bytes_in += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self._stream:
            self._record.bytes_in += len(line)
            yield line

    def __getattr__(self, name):  # e.g. ``finished`` of LWR's own body readers
        return getattr(self._stream, name)


class _LoggedBody:
    """The application's response iterable, counted; logged when the server closes it."""

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


def _is_file_wrapper(result, environ) -> bool:
    # Returned as is, so the server still recognises it and sends the file itself.
    wrapper = environ.get("wsgi.file_wrapper")
    return isinstance(wrapper, type) and isinstance(result, wrapper)


def _log_on_close(wrapper, record):
    """The server closes a file wrapper once the download is over (or abandoned), possibly
    from its event loop after a worker handed the rest of the file over."""
    close = wrapper.close

    def logged_close():
        try:
            close()
        finally:
            if record.declared_length is not None:
                record.bytes_out = record.declared_length
            record.finish()

    wrapper.close = logged_close
    return wrapper


def _content_length(headers):
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
