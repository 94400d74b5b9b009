"""A real local HTTP server standing in for Galaxy's job files API (``remote_transfer``).

``GET  <url>&path=P&file_type=T``  -> the bytes of P
``POST <url>&path=P&file_type=T``  multipart field ``file`` -> stored at P (parents created);
appended when P exists and is a ``tool_stdout`` / ``tool_stderr``, as Galaxy does

Only paths under ``root`` are served or written; ``job_key`` must match.
Every request is recorded (method, path, Content-Length, Transfer-Encoding)
so tests can assert on how the client talked to it.
"""
import os
import re
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

__all__ = ["FilesServer"]

BLOCK = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _reply(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, message):
        if self.command == "POST" and not getattr(self, "body_read", False):
            self._drain()  # as Galaxy does: the body is read before the answer, so no broken pipe
        self._reply(status, ('{"error": "%s"}' % message.replace('"', "'")).encode("utf-8"))

    def _drain(self):
        self.body_read = True
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(BLOCK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def _target(self):
        server = self.server.files_server
        self.body_read = False  # one handler serves every request of a kept-alive connection
        query = parse_qs(urlparse(self.path).query)
        server.requests.append({"method": self.command, "query": query,
                                "content_length": self.headers.get("Content-Length"),
                                "transfer_encoding": self.headers.get("Transfer-Encoding")})
        if server.job_key and query.get("job_key", [None])[0] != server.job_key:
            self._error(403, "bad job_key")
            return None
        path = query.get("path", [None])[0]
        if not path or not query.get("file_type"):
            self._error(400, "path and file_type are required")
            return None
        real = os.path.realpath(path)
        root = os.path.realpath(server.root)
        if not (real == root or real.startswith(root + os.sep)):
            self._error(403, "path outside the files root")
            return None
        if server.fail_next:
            server.fail_next -= 1
            self._error(503, "injected failure")
            return None
        return real

    def do_GET(self):
        path = self._target()
        if path is None:
            return
        if not os.path.isfile(path):
            self._error(404, "no such file %s" % path)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, self.wfile, BLOCK)

    def do_POST(self):
        path = self._target()
        if path is None:
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self._error(411, "Content-Length required")
            self.close_connection = True
            return
        match = re.search(r"boundary=\"?([^\";]+)\"?", self.headers.get("Content-Type", ""))
        if not match:
            self._error(400, "not multipart/form-data")
            return
        append = os.path.exists(path) and os.path.basename(path) in ("tool_stdout", "tool_stderr")
        self.body_read = True
        try:
            _store_multipart(self.rfile, int(length), match.group(1).encode("ascii"), path, append)
        except ValueError as exc:
            self._error(400, str(exc))
            return
        server = self.server.files_server
        if server.drop_answer_next:
            server.drop_answer_next -= 1
            self.close_connection = True  # stored, but the client never hears so
            return
        self._reply(200, b'{"message": "ok"}')


def _store_multipart(stream, length, boundary, path, append=False):
    """Spool the body to disk, then copy the single ``file`` part to ``path`` (never all in memory)."""
    with tempfile.TemporaryFile() as spool:
        remaining = length
        while remaining:
            chunk = stream.read(min(BLOCK, remaining))
            if not chunk:
                raise ValueError("body ended early")
            spool.write(chunk)
            remaining -= len(chunk)
        spool.seek(0)
        head = spool.read(min(length, 8192))
        delimiter = b"--" + boundary
        if not head.startswith(delimiter):
            raise ValueError("body does not start with the boundary")
        header_end = head.find(b"\r\n\r\n")
        if header_end < 0 or b'name="file"' not in head[:header_end]:
            raise ValueError("no multipart field named file")
        start = header_end + 4
        closing = b"\r\n" + delimiter + b"--"
        tail_size = min(length, len(closing) + 64)
        spool.seek(length - tail_size)
        tail = spool.read(tail_size)
        position = tail.rfind(closing)
        if position < 0:
            raise ValueError("no closing boundary")
        end = length - tail_size + position
        os.makedirs(os.path.dirname(path), exist_ok=True)
        spool.seek(start)
        to_copy = end - start
        with open(path, "ab" if append else "wb") as out:
            while to_copy > 0:
                chunk = spool.read(min(BLOCK, to_copy))
                out.write(chunk)
                to_copy -= len(chunk)


class FilesServer:
    """``with FilesServer(root) as server: server.url`` -> ``http://127.0.0.1:PORT/api/jobs/1/files?job_key=...``.

    ``port``: 0 picks a free one; an earlier server's port brings "Galaxy" back where it was.
    """

    def __init__(self, root, job_key="testkey", port=0):
        self.root = str(root)
        self.job_key = job_key
        self.requests = []
        self.fail_next = 0
        #: POSTs to store and then answer with a dropped connection (a lost answer)
        self.drop_answer_next = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files_server = self
        self.thread = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        base = "http://127.0.0.1:%d/api/jobs/1/files" % self.port
        return base + ("?job_key=%s" % self.job_key if self.job_key else "")

    def start(self) -> "FilesServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="files-server", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(5)
            self.thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
