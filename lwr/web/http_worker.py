"""One request in a worker thread: the WSGI environ, the application call, the response.

The front door (:mod:`lwr.web.http_loop`) has read and checked the head; this module reads
the body (streamed, chunked or not, ``100 Continue`` on first read), runs the application
and writes its answer through a :class:`~lwr.web.http_io.SocketStream`, which drops
clients slower than the minimum rate. The connection then goes back to the front door:
kept alive, or drained and closed when the application left part of the body unread.
"""
import email.utils
import logging
import posixpath
import socket
import ssl
import sys
import time
from urllib.parse import unquote, urlsplit

from lwr.web.http_download import send_file
from lwr.web.http_io import BodyReader, ChunkedReader, ContinueReader, FileWrapper, SocketStream
from lwr.web.observed import content_length

__all__ = ["Exchange"]

log = logging.getLogger("lwr.web.httpserver")

_SMALL = 64 * 1024


_DATE = [0, ""]  # (second, its HTTP date): formatted once a second, not once a response


def _http_date() -> str:
    now = int(time.time())
    if _DATE[0] != now:
        _DATE[1] = email.utils.formatdate(now, usegmt=True)
        _DATE[0] = now
    return _DATE[1]


class Exchange:
    """Serve one parsed request on ``connection``; :meth:`run` hands the connection back."""

    def __init__(self, server, connection, head, body_prefix: bytes):
        self.server = server
        self.connection = connection
        self.head = head
        self.stream = SocketStream(connection.sock, body_prefix, server.socket_timeout, server.min_rate)
        self.status_headers = None
        self.headers_sent = False
        self.keep_alive = head.keep_alive
        self.pending_head = b""
        self.raw = self.body = None
        self.handed_off = False  # the front door finishes sending a download

    def run(self):
        front_door = self.server.front_door
        try:
            self._serve()
        except OSError:  # the client went away, or was too slow: nothing more to say to it
            log.debug("connection from %s dropped", self.connection.address, exc_info=True)
            self._close()
            return
        except Exception:  # the application failed after its answer had started
            log.exception("unhandled error serving %s %s", self.head.method, self.head.target.split("?")[0])
            self._close()
            return
        if self.handed_off:
            return
        body = self.body
        if isinstance(body, BodyReader) and 0 < body.remaining <= len(self.stream.buffer):
            body.read(body.remaining)  # the unread rest is buffered already: drop it, keep the connection
        if body is not None and not body.finished:
            if isinstance(self.raw, ContinueReader) and not self.raw.sent:
                self._close()  # the client waits for 100 Continue and sends nothing: just close
            else:
                # Unread body bytes would be read as the next request: drop them in the front
                # door (no worker waits on the client), then close.
                left = body.remaining - len(self.stream.buffer) if isinstance(body, BodyReader) else None
                front_door.linger(self.connection, left)
        elif self.keep_alive:
            front_door.resume(self.connection, self.stream.take_buffer())
        else:
            self._close()

    def _close(self):
        try:
            self.connection.sock.close()
        except OSError:
            pass

    def _abort(self):
        """Shut this request's connection down from another thread (``lwr.abort_connection``):
        a read blocked on it returns at once (end of stream), whatever is still to be sent fails.
        A newer request of the same resumable upload calls it (:mod:`lwr.web.resumable`)."""
        try:
            socket.socket.shutdown(self.connection.sock, socket.SHUT_RDWR)  # the plain socket's, TLS too
        except OSError:
            pass

    def _environ(self):
        head, server = self.head, self.server
        target = head.target
        if not target.startswith("/"):
            target = urlsplit(target).path or "/" if target != "*" else "*"
            target += ("?" + head.target.split("?", 1)[1]) if "?" in head.target else ""
        path, _, query = target.partition("?")
        query = query.partition("#")[0]
        # Paste's decoding, which the routes were written against: UTF-8 unquoting, normpath.
        path_info = unquote(path)
        ends_with_slash = path_info.endswith("/")
        path_info = posixpath.normpath(path_info)
        if ends_with_slash and path_info != "/":
            path_info += "/"
        self.raw = ContinueReader(self.stream) if head.expect_continue else self.stream
        if head.chunked:
            self.body = ChunkedReader(self.raw)
        else:
            self.body = BodyReader(self.raw, head.content_length or 0)
        tls = isinstance(self.connection.sock, ssl.SSLSocket)
        environ = {
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https" if tls else "http",
            "wsgi.input": self.body, "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": head.chunked,
            "REQUEST_METHOD": head.method, "SCRIPT_NAME": "", "PATH_INFO": path_info,
            "QUERY_STRING": query, "CONTENT_TYPE": head.header("content-type"),
            "CONTENT_LENGTH": "" if head.chunked else str(head.content_length or 0),
            "SERVER_NAME": server.host, "SERVER_PORT": str(server.port),
            "SERVER_PROTOCOL": head.version, "REMOTE_ADDR": self.connection.address,
            "lwr.abort_connection": self._abort,
        }
        if tls:
            environ["HTTPS"] = "on"
        for name, _value in head.headers:
            key = "HTTP_" + name.replace("-", "_").upper()
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH") and key not in environ:
                environ[key] = head.header(name)
        return environ

    def _serve(self):
        environ = self._environ()
        try:
            result = self.server.application(environ, self._start_response)
            try:
                if isinstance(result, FileWrapper):
                    self._send_file(result)
                else:
                    for chunk in result:
                        self._write(chunk)
                    self._write(b"")
            finally:
                if hasattr(result, "close") and not self.handed_off:
                    result.close()
        except OSError:
            raise  # the connection failed (reset, timeout, too slow): nothing can be sent
        except Exception:
            if self.headers_sent:
                raise
            self._internal_error(environ)

    def _internal_error(self, environ):
        log.exception("unhandled error serving %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        self.keep_alive = False
        body = b'{"error": "internal server error"}'
        self.status_headers = ("500 Internal Server Error",
                               [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        self._write(body)

    def _start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status_headers is not None:
            raise AssertionError("start_response called a second time without exc_info")
        self.status_headers = (status, headers)
        return self._write

    def _head_bytes(self) -> bytes:
        status, headers = self.status_headers
        lines = ["HTTP/1.1 " + status, "Date: " + _http_date()]
        framed = False
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                framed = True
            elif lower == "connection":
                if value.lower() == "close":
                    self.keep_alive = False
                continue
            lines.append("%s: %s" % (name, value))
        if not framed:  # no length and no chunked responses: the end of the body is the close
            self.keep_alive = False
        if not self.keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, chunk):
        """Body bytes; the head goes out with the first of them (one packet for small answers)."""
        if not self.headers_sent:
            if self.status_headers is None:
                raise AssertionError("application wrote before calling start_response")
            self.headers_sent = True
            self.pending_head = self._head_bytes()
        if self.pending_head:
            head, self.pending_head = self.pending_head, b""
            if len(chunk) < _SMALL:
                self.stream.sendall(head + bytes(chunk))
                return
            self.stream.sendall(head)
        if chunk:
            self.stream.sendall(chunk)

    def _send_file(self, wrapper):
        self._write(b"")  # status line and headers
        length = self._declared_length()
        try:
            wrapper.filelike.fileno()
            wrapper.filelike.tell()
        except (OSError, AttributeError, ValueError):
            length = None
        if length is None:  # not a regular file of known size: plain iteration
            for chunk in wrapper:
                self.stream.sendall(chunk)
            return
        rest = send_file(self, wrapper, length, self.server.use_sendfile)
        if rest is not None:
            # The client stopped keeping up: the front door sends the rest as it reads.
            self.handed_off = True
            log.debug("%s reads slowly: the front door sends the last %d bytes", self.connection.address,
                      rest.remaining + len(rest.pending))
            keep_alive = (self.keep_alive and (self.body is None or self.body.finished)
                          and not self.stream.buffer)  # no pipelined request read ahead
            self.server.front_door.send_download(self.connection, rest, keep_alive)

    def _declared_length(self):
        return content_length(self.status_headers[1])
