"""One log line per request, with the ``private_key`` / ``private_token`` value masked."""
import logging
import re
import time

__all__ = ["AccessLogMiddleware", "mask_secrets"]

log = logging.getLogger("lwr.access")

_SECRET_RE = re.compile(r"((?:^|&)(?:private_key|private_token)=)[^&]*")


def mask_secrets(query_string: str) -> str:
    """
    >>> mask_secrets("job_id=1&private_key=s3cret&x=2")
    'job_id=1&private_key=********&x=2'
    """
    return _SECRET_RE.sub(r"\1********", query_string or "")


class AccessLogMiddleware:
    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            if log.isEnabledFor(logging.INFO):
                query = mask_secrets(environ.get("QUERY_STRING", ""))
                log.info("%s %s %s%s %s %.3fs", environ.get("REMOTE_ADDR", "-"),
                         environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                         "?" + query if query else "", seen.get("status", "-"),
                         time.monotonic() - started)
