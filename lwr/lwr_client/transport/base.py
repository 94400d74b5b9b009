"""What both transports share: error messages, token masking, atomic downloads."""
import http.client
import json
import logging
import os
import re
import uuid

from lwr.lwr_client.exceptions import ServerRefusedToken, TransportError
from lwr.lwr_client.progress import callback_for
from lwr.lwr_client.util import ReplacingFile

__all__ = [
    "Transport",
    "BLOCK_SIZE",
    "mask_url",
    "http_error",
    "connection_error",
    "error_body",
    "is_transient_status",
    "AtomicDownload",
    "MultipartFile",
    "file_blocks",
]

log = logging.getLogger(__name__)

#: Read/write block for streaming bodies: big enough for loopback speed, small enough for memory.
BLOCK_SIZE = 1024 * 1024
#: Longest error body kept for a message.
MAX_ERROR_BODY = 64 * 1024

_TOKEN_PARAM = re.compile(r"((?:^|[?&])(?:private_key|private_token|job_key)=)[^&#]*")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
# 501 / 505 / 507 are server answers that will not change on retry.
_PERMANENT_5XX = (501, 505, 507)


def mask_url(url: str) -> str:
    """``url`` with any token (``private_key=``, ``private_token=`` or Galaxy's ``job_key=`` query
    value, or ``TOKEN@`` userinfo) replaced by ``***``.

    >>> mask_url("http://h:1/jobs?job_id=3&private_key=secret")
    'http://h:1/jobs?job_id=3&private_key=***'
    >>> mask_url("http://galaxy/api/jobs/1/files?job_key=k&path=/a")
    'http://galaxy/api/jobs/1/files?job_key=***&path=/a'
    >>> mask_url("https://secret@h/")
    'https://***@h/'
    """
    if not url:
        return url
    url = _TOKEN_PARAM.sub(r"\1***", url)
    return _USERINFO.sub(r"\1***@", url)


def is_transient_status(status: int) -> bool:
    """408, 429 and 5xx (except 501/505/507) may succeed when retried."""
    return status in (408, 429) or (500 <= status < 600 and status not in _PERMANENT_5XX)


def _server_message(body: bytes) -> str:
    text = (body or b"")[:MAX_ERROR_BODY].decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("error"):
        return str(parsed["error"])
    text = text.strip()
    return text[:500] if text else ""


def http_error(method: str, url: str, status: int, reason: str, body: bytes) -> TransportError:
    """The exception for an HTTP error response, naming the status and the server's message."""
    masked = mask_url(url)
    message = _server_message(body)
    if status == 401:
        return ServerRefusedToken(
            "the LWR server refused the token (HTTP 401) for %s %s%s"
            % (method, masked, ": %s" % message if message else ""),
            status=status, url=masked, method=method, server_message=message)
    text = "%s %s failed: HTTP %d %s" % (method, masked, status, reason or "")
    if message:
        text = "%s: %s" % (text.rstrip(), message)
    return TransportError(text.rstrip(), status=status, url=masked, method=method,
                          server_message=message, transient=is_transient_status(status))


def error_body(error, limit: int = MAX_ERROR_BODY) -> bytes:
    """The start of an ``urllib`` ``HTTPError``'s body (for the error message), the error closed."""
    try:
        return error.read(limit)
    except (OSError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def connection_error(method: str, url: str, cause, transient: bool = True) -> TransportError:
    masked = mask_url(url)
    error = TransportError("%s %s failed: %s" % (method, masked, cause), url=masked, method=method,
                           transient=transient)
    error.reason = str(cause)
    return error


class AtomicDownload(ReplacingFile):
    """A download into a temporary file beside ``path`` that becomes ``path`` only on
    :meth:`commit` (an interrupted or failed download leaves no partial file under the name)."""

    def __init__(self, path: str):
        super().__init__(path, make_parents=True)

    def read_error_body(self) -> bytes:
        """The (small) body written so far, for an error message; then discard the file."""
        try:
            self.handle.flush()
            with open(self.tmp_path, "rb") as handle:
                return handle.read(MAX_ERROR_BODY)
        finally:
            self.discard()


class MultipartFile:
    """A ``multipart/form-data`` body with one file field, streamed with a known length."""

    def __init__(self, path: str, field: str = "file"):
        self.path = path
        self.boundary = "lwr-%s" % uuid.uuid4().hex
        filename = os.path.basename(path).replace('"', "_").replace("\r", "_").replace("\n", "_")
        self.head = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n"
                     % (self.boundary, field, filename)).encode("utf-8")
        self.tail = ("\r\n--%s--\r\n" % self.boundary).encode("ascii")
        self.length = len(self.head) + os.path.getsize(path) + len(self.tail)

    @property
    def content_type(self) -> str:
        return "multipart/form-data; boundary=%s" % self.boundary

    def chunks(self, progress=None):
        """The body in blocks; ``progress(bytes_done, bytes_total)`` counts the file's bytes sent."""
        yield self.head
        yield from file_blocks(self.path, progress)
        yield self.tail


def file_blocks(path: str, progress=None):
    """``path`` in ``BLOCK_SIZE`` blocks; ``progress`` is told after each block was taken (sent)."""
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        done = 0
        if progress is not None:
            progress(0, total)
        while True:
            block = handle.read(BLOCK_SIZE)
            if not block:
                break
            yield block
            done += len(block)
            if progress is not None:
                progress(done, max(total, done))
        if progress is not None and done < total:  # the file shrank while being sent
            progress(done, done)


class Transport:
    """What both transports expose; subclasses implement ``_execute_once`` (one attempt).

    ``progress``: a progress factory (see :mod:`lwr.lwr_client.progress`) told about every
    file this transport uploads or downloads; None uses the process default, if any.
    """

    retry = None
    progress = None

    def _progress(self, path, direction):
        return callback_for(self.progress, path, direction)

    def execute(self, url, method=None, data=None, input_path=None, output_path=None,
                content_type="application/octet-stream"):
        """Body bytes of the response, or ``output_path`` once the body is stored there."""
        if method is None:
            method = "POST" if (data is not None or input_path is not None) else "GET"
        return self.retry.call(lambda: self._execute_once(url, method, data, input_path, output_path,
                                                          content_type),
                               method, url)

    def get_file(self, url: str, path: str) -> str:
        return self.execute(url, method="GET", output_path=path)

    def _execute_once(self, url, method, data, input_path, output_path, content_type):  # pragma: no cover
        raise NotImplementedError
