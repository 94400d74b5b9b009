"""The optional pycurl transport (``transport=curl`` or ``LWR_CURL_TRANSPORT=1``).

Job file uploads and downloads are resumed and verified as with the ``urllib`` transport: the
control flow is :class:`~lwr.lwr_client.transport.resumable.ResumableTransfers`'; this module
supplies its one-request primitive (:meth:`PycurlTransport._exchange`) through libcurl's
read, header and write callbacks.
"""
import email.message
import io
import os

from lwr.lwr_client.transport.base import (
    BLOCK_SIZE,
    AtomicDownload,
    MultipartFile,
    Transport,
    connection_error,
    http_error,
)
from lwr.lwr_client.transport.resumable import HANDLED_STATUSES, Answer, ResumableTransfers
from lwr.lwr_client.transport.retry import RetryPolicy
from lwr.lwr_client.transport.standard import ssl_verify_default, transfer_verify_default

# Imported on first use: libcurl and its TLS libraries add ~7 MiB to every process that
# merely imports the client (the LWR server among them).
pycurl = None
_pycurl_import_failed = False

__all__ = ["PycurlTransport", "pycurl_available", "PYCURL_UNAVAILABLE_MESSAGE"]

PYCURL_UNAVAILABLE_MESSAGE = "the curl transport needs the pycurl package (pip install pycurl)"

# curl error codes worth a retry: couldn't connect, partial file, timeout, got nothing, send/recv error.
_TRANSIENT_CURL_ERRORS = {6, 7, 18, 28, 52, 55, 56}
_CURL_SSL_ERRORS = {35, 51, 58, 59, 60, 77, 83, 90, 91}
DEFAULT_TIMEOUT = 600


class _ChunkReader:
    """Adapts a generator of byte blocks to libcurl's ``READFUNCTION(size)``."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.block = b""
        self.offset = 0

    def read(self, size):
        if self.offset >= len(self.block):
            self.block = next(self.chunks, b"")
            self.offset = 0
        out = self.block[self.offset:self.offset + size]
        self.offset += len(out)
        return out

    def close(self):
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class _Response:
    """One libcurl answer, from ``HEADERFUNCTION`` and ``WRITEFUNCTION``: the status and headers
    of the last (final) status line; the body goes to ``receive(answer)``'s writer when the
    answer is a 2xx and a ``receive`` was given, else into ``buffer``.

    An exception in a callback would only be printed by pycurl: it is kept in ``failure`` and
    the transfer aborted (the caller raises it)."""

    def __init__(self, receive=None):
        self.receive = receive
        self.status = 0
        self.headers = email.message.Message()
        self.answer = None
        self.write = None
        self.buffer = io.BytesIO()
        self.failure = None

    def guard(self, callback, abort=0):
        def guarded(*args):
            try:
                return callback(*args)
            except BaseException as error:  # noqa: B036 - re-raised by the caller after perform
                self.failure = error
                return abort
        return guarded

    def header(self, line):
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text.startswith("HTTP/"):
            parts = text.split(None, 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self.headers = email.message.Message()
        elif ":" in text:
            name, value = text.split(":", 1)
            self.headers[name.strip()] = value.strip()
        elif not text and 200 <= self.status < 300:
            self._start()

    def body(self, block):
        if self.write is None and 200 <= self.status < 300:
            self._start()
        (self.write or self.buffer.write)(block)

    def _start(self):
        if self.answer is None:
            self.answer = Answer(self.status, self.headers, b"")
            if self.receive is not None:
                self.write = self.receive(self.answer)


def _watch(curl, progress, direction, size=None, skip=0):
    """Report libcurl's transfer counts to ``progress``; returns it (None: nothing to do).

    For an upload ``size`` is the file's size and ``skip`` the body bytes before the file
    (a multipart head), so the counts are the file's own.
    """
    if progress is None:
        return None
    last = [-1]

    def xferinfo(download_total, download_now, upload_total, upload_now):
        if direction == "upload":
            done, total = min(max(upload_now - skip, 0), size), size
        else:
            done, total = download_now, download_total or None
        if done != last[0] and done != total:  # the last call comes once the answer is in
            last[0] = done
            progress(done, total)
        return 0

    if direction == "upload":
        progress(0, size)
    curl.setopt(pycurl.NOPROGRESS, 0)
    curl.setopt(pycurl.XFERINFOFUNCTION, xferinfo)
    return progress


def pycurl_available() -> bool:
    """Import pycurl (once) and tell whether it is usable."""
    global pycurl, _pycurl_import_failed
    if pycurl is None and not _pycurl_import_failed:
        try:
            import pycurl as module
        except ImportError:  # optional dependency
            _pycurl_import_failed = True
        else:
            pycurl = module
    return pycurl is not None


class PycurlTransport(ResumableTransfers, Transport):
    """Same contract as :class:`~lwr.lwr_client.transport.standard.UrllibTransport`, through libcurl;
    job file transfers go through :class:`ResumableTransfers` (resumed and verified)."""

    def __init__(self, timeout: int = DEFAULT_TIMEOUT, retry: RetryPolicy = None, ssl_verify=None,
                 progress=None, verify=None):
        if not pycurl_available():
            raise ImportError(PYCURL_UNAVAILABLE_MESSAGE)
        self.timeout = timeout
        self.progress = progress
        self.verify = transfer_verify_default() if verify is None else bool(verify)
        self.retry = retry or RetryPolicy.from_environ()
        self.ssl_verify = ssl_verify_default() if ssl_verify is None else ssl_verify

    def get_file(self, url: str, path: str) -> str:
        """GET ``url`` into ``path``, resumed and verified when the server offers it (as ``urllib``)."""
        return self.download_resumable(url, path)

    def post_file(self, url: str, path: str) -> bytes:
        """POST ``path`` as the multipart field ``file``, streamed with an explicit Content-Length."""

        def once():
            multipart = MultipartFile(path)
            reader = _ChunkReader(multipart.chunks())
            curl = self._curl(url, "POST")
            self._body(curl, "POST", reader.read, multipart.length, ["Content-Type: %s" % multipart.content_type])
            size = multipart.length - len(multipart.head) - len(multipart.tail)
            watch = _watch(curl, self._progress(path, "upload"), "upload", size, len(multipart.head))
            try:
                answer = self._perform(curl, url, "POST", None)
            finally:
                reader.close()
            if watch is not None:
                watch(size, size)
            return answer

        return self.retry.call(once, "POST", url)

    # -- one attempt ---------------------------------------------------------------------------
    def _curl(self, url, method):
        curl = pycurl.Curl()
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(min(self.timeout, 30) * 1000))
        curl.setopt(pycurl.TIMEOUT_MS, int(self.timeout * 1000))
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.BUFFERSIZE, 512 * 1024)
        # No "Expect: 100-continue" round trip before each upload.
        curl.setopt(pycurl.HTTPHEADER, ["Expect:"])
        if not self.ssl_verify:
            curl.setopt(pycurl.SSL_VERIFYPEER, 0)
            curl.setopt(pycurl.SSL_VERIFYHOST, 0)
        if method == "GET":
            curl.setopt(pycurl.HTTPGET, 1)
        elif method != "POST":
            curl.setopt(pycurl.CUSTOMREQUEST, method)
        return curl

    @staticmethod
    def _body(curl, method, read, size, header_lines):
        """Send ``size`` bytes taken from ``read(n)``: a POST with a read callback streams them with
        that Content-Length (not chunked); another ``method`` keeps its name."""
        curl.setopt(pycurl.POST, 1)
        if method != "POST":
            curl.setopt(pycurl.CUSTOMREQUEST, method)
        curl.setopt(pycurl.READFUNCTION, read)
        curl.setopt(pycurl.POSTFIELDSIZE_LARGE, size)
        curl.setopt(pycurl.UPLOAD_BUFFERSIZE, BLOCK_SIZE)
        curl.setopt(pycurl.HTTPHEADER, ["Expect:"] + header_lines)

    def _execute_once(self, url, method, data, input_path, output_path,
                      content_type="application/octet-stream"):
        curl = self._curl(url, method)
        handle = None
        watch = None
        try:
            if input_path is not None:
                handle = open(input_path, "rb")
                size = os.fstat(handle.fileno()).st_size
                watch = _watch(curl, self._progress(input_path, "upload"), "upload", size)
            elif output_path is not None:
                watch = _watch(curl, self._progress(output_path, "download"), "download")
            elif data is not None or method in ("POST", "PUT"):
                body = data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")
                handle, size = io.BytesIO(body), len(body)
            if handle is not None:
                self._body(curl, method, handle.read, size, ["Content-Type: %s" % content_type])
            answer = self._perform(curl, url, method, output_path)
            if watch is not None:
                done = os.path.getsize(output_path) if input_path is None else size
                watch(done, done)
            return answer
        finally:
            if handle is not None:
                handle.close()

    def _exchange(self, url, method, body=None, headers=None, receive=None):
        """One request for :class:`ResumableTransfers` (the contract is in its ``_exchange``)."""
        curl = self._curl(url, method)
        response = _Response(receive)
        curl.setopt(pycurl.HEADERFUNCTION, response.guard(response.header))
        curl.setopt(pycurl.WRITEFUNCTION, response.guard(response.body))
        fields = dict(headers or {})
        length = fields.pop("Content-Length", None)
        lines = ["%s: %s" % item for item in fields.items()]
        reader = None
        if body is None:
            curl.setopt(pycurl.HTTPHEADER, ["Expect:"] + lines)
        else:
            reader = _ChunkReader(iter((body,)) if isinstance(body, (bytes, bytearray)) else iter(body))
            self._body(curl, method, response.guard(reader.read, pycurl.READFUNC_ABORT),
                       int(length) if length is not None else len(body), lines)
        try:
            status = self._run(curl, url, method, response)
        finally:
            if reader is not None:
                reader.close()
        answer = response.answer or Answer(status, response.headers, b"")
        if status in HANDLED_STATUSES or (receive is None and status < 400):
            answer.body = response.buffer.getvalue()
            return answer
        if status >= 400:
            raise http_error(method, url, status, "", response.buffer.getvalue())
        return answer

    @staticmethod
    def _run(curl, url, method, response=None):
        """``curl.perform()``; the answer's status. A curl error becomes a ``TransportError``
        (a callback's own exception, kept in ``response.failure``, comes out as it was)."""
        try:
            curl.perform()
            return curl.getinfo(pycurl.RESPONSE_CODE)
        except pycurl.error as error:
            if response is not None and response.failure is not None:
                raise response.failure
            code, text = error.args[0], error.args[1] if len(error.args) > 1 else ""
            transient = code in _TRANSIENT_CURL_ERRORS and code not in _CURL_SSL_ERRORS
            raise connection_error(method, url, "curl error %s: %s" % (code, text), transient)
        finally:
            curl.close()

    def _perform(self, curl, url, method, output_path):
        download = AtomicDownload(output_path) if output_path is not None else None
        buffer = io.BytesIO() if download is None else None
        curl.setopt(pycurl.WRITEFUNCTION, (download or buffer).write)
        try:
            status = self._run(curl, url, method)
        except BaseException:
            if download is not None:
                download.discard()
            raise
        if status >= 400:
            body = download.read_error_body() if download is not None else buffer.getvalue()
            raise http_error(method, url, status, "", body)
        if download is not None:
            download.commit()
            return output_path
        return buffer.getvalue()
