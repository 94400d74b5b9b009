"""The optional pycurl transport (``transport=curl`` or ``LWR_CURL_TRANSPORT=1``)."""
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
from lwr.lwr_client.transport.retry import RetryPolicy
from lwr.lwr_client.transport.standard import ssl_verify_default

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
        self.chunks.close()


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


class PycurlTransport(Transport):
    """Same contract as :class:`~lwr.lwr_client.transport.standard.UrllibTransport`, through libcurl."""

    def __init__(self, timeout: int = DEFAULT_TIMEOUT, retry: RetryPolicy = None, ssl_verify=None,
                 progress=None):
        if not pycurl_available():
            raise ImportError(PYCURL_UNAVAILABLE_MESSAGE)
        self.timeout = timeout
        self.progress = progress
        self.retry = retry or RetryPolicy.from_environ()
        self.ssl_verify = ssl_verify_default() if ssl_verify is None else ssl_verify


    def post_file(self, url: str, path: str) -> bytes:
        """POST ``path`` as the multipart field ``file``, streamed with an explicit Content-Length."""

        def once():
            multipart = MultipartFile(path)
            reader = _ChunkReader(multipart.chunks())
            curl = self._curl(url, "POST")
            curl.setopt(pycurl.POST, 1)
            curl.setopt(pycurl.READFUNCTION, reader.read)
            curl.setopt(pycurl.POSTFIELDSIZE_LARGE, multipart.length)
            curl.setopt(pycurl.UPLOAD_BUFFERSIZE, BLOCK_SIZE)
            curl.setopt(pycurl.HTTPHEADER, ["Expect:", "Content-Type: %s" % multipart.content_type])
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
                # POST with a read callback streams the body with a Content-Length of ``size``.
                curl.setopt(pycurl.POST, 1)
                if method != "POST":
                    curl.setopt(pycurl.CUSTOMREQUEST, method)
                curl.setopt(pycurl.READDATA, handle)
                curl.setopt(pycurl.POSTFIELDSIZE_LARGE, size)
                curl.setopt(pycurl.UPLOAD_BUFFERSIZE, BLOCK_SIZE)
                curl.setopt(pycurl.HTTPHEADER, ["Expect:", "Content-Type: %s" % content_type])
            answer = self._perform(curl, url, method, output_path)
            if watch is not None:
                done = os.path.getsize(output_path) if input_path is None else size
                watch(done, done)
            return answer
        finally:
            if handle is not None:
                handle.close()

    def _perform(self, curl, url, method, output_path):
        download = AtomicDownload(output_path) if output_path is not None else None
        buffer = io.BytesIO() if download is None else None
        curl.setopt(pycurl.WRITEFUNCTION, (download or buffer).write)
        try:
            try:
                curl.perform()
            except pycurl.error as error:
                code, text = error.args[0], error.args[1] if len(error.args) > 1 else ""
                transient = code in _TRANSIENT_CURL_ERRORS and code not in _CURL_SSL_ERRORS
                raise connection_error(method, url, "curl error %s: %s" % (code, text), transient)
            status = curl.getinfo(pycurl.RESPONSE_CODE)
        except BaseException:
            if download is not None:
                download.discard()
            raise
        finally:
            curl.close()
        if status >= 400:
            body = download.read_error_body() if download is not None else buffer.getvalue()
            raise http_error(method, url, status, "", body)
        if download is not None:
            download.commit()
            return output_path
        return buffer.getvalue()
