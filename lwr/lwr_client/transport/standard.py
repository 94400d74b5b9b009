"""The default transport: the standard library's ``urllib``, streaming both ways."""
import http.client
import os
import socket
import ssl
import urllib.error
import urllib.request

from lwr.lwr_client.digests import QUEUE_DEPTH
from lwr.lwr_client.transport.base import (
    BLOCK_SIZE,
    AtomicDownload,
    MultipartFile,
    Transport,
    connection_error,
    error_body,
    file_blocks,
    http_error,
)
from lwr.lwr_client.transport.resumable import HANDLED_STATUSES, Answer, ResumableTransfers, pooled_blocks
from lwr.lwr_client.transport.retry import RetryPolicy

__all__ = ["UrllibTransport", "Urllib2Transport"]

DEFAULT_TIMEOUT = 600.0


def ssl_verify_default(environ=os.environ) -> bool:
    return environ.get("LWR_SSL_VERIFY", "1").lower() not in ("0", "false", "no")


def transfer_verify_default(environ=os.environ) -> bool:
    """Whether job file transfers are checked with SHA-256 (``LWR_VERIFY_TRANSFERS``, default on)."""
    return environ.get("LWR_VERIFY_TRANSFERS", "1").lower() not in ("0", "false", "no")


class UrllibTransport(ResumableTransfers, Transport):
    """``execute(url, method, data, input_path, output_path)`` over ``urllib.request``.

    Uploads are sent in ``BLOCK_SIZE`` pieces with an explicit Content-Length
    (``urllib`` would otherwise send a file body chunked); downloads are read
    with ``readinto`` into a temporary file renamed on success. Job file uploads and
    downloads go through :class:`ResumableTransfers` (resumed and verified).
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, retry: RetryPolicy = None, ssl_verify=None,
                 progress=None, verify=None):
        self.timeout = timeout
        self.progress = progress
        self.verify = transfer_verify_default() if verify is None else bool(verify)
        self.retry = retry or RetryPolicy.from_environ()
        if ssl_verify is None:
            ssl_verify = ssl_verify_default()
        context = ssl.create_default_context() if ssl_verify else ssl._create_unverified_context()
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


    def get_file(self, url: str, path: str) -> str:
        """GET ``url`` into ``path``: resumed with ``Range`` and checked against ``Repr-Digest``
        when the server offers them (``remote_transfer`` pulls from Galaxy get neither)."""
        return self.download_resumable(url, path)

    def post_file(self, url: str, path: str) -> bytes:
        """POST ``path`` as the multipart field ``file`` (what Galaxy's job files API expects)."""
        return self.retry.call(lambda: self._post_multipart_once(url, path), "POST", url)

    # -- one attempt ---------------------------------------------------------------------------
    def _execute_once(self, url, method, data, input_path, output_path,
                      content_type="application/octet-stream"):
        headers = {}
        body = None
        if input_path is not None:
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(os.path.getsize(input_path))
            body = file_blocks(input_path, self._progress(input_path, "upload"))
        elif data is not None:
            body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            headers["Content-Type"] = content_type
            headers["Content-Length"] = str(len(body))
        return self._send(url, method, body, headers, output_path)

    def _post_multipart_once(self, url, path):
        multipart = MultipartFile(path)
        headers = {"Content-Type": multipart.content_type, "Content-Length": str(multipart.length)}
        return self._send(url, "POST", multipart.chunks(self._progress(path, "upload")), headers, None)

    def _send(self, url, method, body, headers, output_path):
        response = self._urlopen(url, method, body, headers)
        with response:
            try:
                if output_path is None:
                    return response.read()
                self._stream_to(response, output_path, method, url, self._progress(output_path, "download"))
                return output_path
            except (ConnectionError, socket.timeout, http.client.HTTPException) as error:
                raise connection_error(method, url, "response interrupted: %r" % (error,))

    def _exchange(self, url, method, body=None, headers=None, receive=None):
        """One request for :class:`ResumableTransfers` (the contract is in its ``_exchange``)."""
        response = self._urlopen(url, method, body, headers or {}, HANDLED_STATUSES)
        if isinstance(response, Answer):
            return response
        with response:
            answer = Answer(response.status, response.headers, b"")
            received = 0
            try:
                if receive is None:
                    answer.body = response.read()
                    return answer
                write = receive(answer)
                for block in pooled_blocks(response, getattr(write, "buffers", QUEUE_DEPTH + 2)):
                    write(block)
                    received += len(block)
            except (ConnectionError, socket.timeout, http.client.HTTPException) as error:
                raise connection_error(method, url, "response interrupted after %d bytes: %r" % (received, error))
        return answer

    def _urlopen(self, url, method, body, headers, handled=()):
        """The open response; an :class:`Answer` for an error status in ``handled``; else raises."""
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            return self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            body_start = error_body(error)
            if error.code in handled:
                return Answer(error.code, error.headers, body_start)
            raise http_error(method, url, error.code, error.reason, body_start)
        except urllib.error.URLError as error:
            reason = error.reason
            transient = not isinstance(reason, (ssl.SSLError, ssl.CertificateError))
            raise connection_error(method, url, reason, transient=transient)
        except (ConnectionError, socket.timeout, http.client.HTTPException) as error:
            raise connection_error(method, url, error or type(error).__name__)

    @staticmethod
    def _stream_to(response, output_path, method, url, progress=None):
        expected = response.headers.get("Content-Length")
        total = int(expected) if expected is not None and expected.isdigit() else None
        download = AtomicDownload(output_path)
        received = 0
        buffer = bytearray(BLOCK_SIZE)
        view = memoryview(buffer)
        try:
            if progress is not None:
                progress(0, total)
            while True:
                count = response.readinto(buffer)
                if not count:
                    break
                download.write(view[:count])
                received += count
                if progress is not None and received != total:
                    progress(received, total)
            if total is not None and received != total:
                raise connection_error(method, url, "download ended after %d of %s bytes"
                                       % (received, expected))
            download.commit()
            if progress is not None:
                progress(received, received)
        except BaseException:
            download.discard()
            raise


# Name used by LWR 0.2.0.
Urllib2Transport = UrllibTransport
