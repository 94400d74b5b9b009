"""One log line per request, and the token kept out of every log.

The access log masks the value of each query parameter that authenticates
(:func:`lwr.web.query.mask_query`, decoded as the token check decodes it).
:func:`install_secret_masking` extends that to every other log record of the process -
messages, arguments, tracebacks - so that a failing route logging its URL or environ
cannot write the token either.
"""
import logging
import threading

from lwr.web.observed import RequestRecord, observe
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
        return observe(self.app, environ, start_response, _AccessRecord(environ))


class _AccessRecord(RequestRecord):
    """What the access log line says about one request, written once it is over."""

    def report(self):
        environ = self.environ
        query = mask_query(environ.get("QUERY_STRING", ""))
        declared = environ.get("CONTENT_LENGTH")
        bytes_in = declared if declared and declared.isdigit() else self.bytes_in
        log.info("%s %s %s%s %s in=%s out=%d %.3fs", environ.get("REMOTE_ADDR", "-"),
                 environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), "?" + query if query else "",
                 self.status, bytes_in, self.bytes_out, self.seconds)
