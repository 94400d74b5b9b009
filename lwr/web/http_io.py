"""The socket side of one request in a worker: paced reads and writes, body decoders, file wrapper."""
import os
import re
import select
import socket
import time

__all__ = ["SocketStream", "SlowClient", "ContinueReader", "BodyReader", "ChunkedReader",
           "FileWrapper", "MalformedChunk"]


class SlowClient(ConnectionError):
    """The client moved fewer bytes than the server's minimum rate, or none for ``socket_timeout``."""


class MalformedChunk(ValueError):
    """A chunked request body that does not follow RFC 9112 §7.1."""


class SocketStream:
    """Buffered reads and writes on a connected socket, paced so no client holds a worker.

    Every socket call waits at most ``timeout`` seconds. The time spent *waiting on the
    client* (not the application's own work) is added up; each time it reaches ``timeout``
    the bytes moved in that stretch must average ``min_rate`` bytes/s or :class:`SlowClient`
    is raised and the connection is dropped.
    """

    def __init__(self, sock, buffered: bytes = b"", timeout: float = 60.0, min_rate: float = 1024.0):
        self.sock = sock
        self.buffer = bytearray(buffered)
        self.timeout = timeout
        self.min_rate = min_rate
        self.waited = 0.0
        self.moved = 0
        sock.settimeout(timeout)

    def _account(self, started: float, count: int) -> None:
        self.waited += time.monotonic() - started
        self.moved += count
        if self.waited >= self.timeout:
            if self.moved < self.min_rate * self.waited:
                raise SlowClient("client moved %d bytes in %.1fs, under the minimum rate of %g bytes/s"
                                 % (self.moved, self.waited, self.min_rate))
            self.waited, self.moved = 0.0, 0

    def _recv(self, size: int) -> bytes:
        started = time.monotonic()
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise SlowClient("client sent nothing for %gs" % self.timeout)
        self._account(started, len(data))
        return data

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, fewer only at end of stream (``-1``: to the end)."""
        if size is None or size < 0:
            parts = [bytes(self.buffer)]
            self.buffer.clear()
            while True:
                data = self._recv(1 << 20)
                if not data:
                    return b"".join(parts)
                parts.append(data)
        parts = []
        if self.buffer:
            parts.append(bytes(self.buffer[:size]))
            del self.buffer[:size]
        need = size - len(parts[0]) if parts else size
        while need > 0:
            data = self._recv(min(need, 1 << 20))
            if not data:
                break
            parts.append(data)
            need -= len(data)
        return b"".join(parts)

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0 or (0 <= limit <= len(self.buffer)):
                size = end + 1 if end >= 0 else limit
                if 0 <= limit < size:
                    size = limit
                line = bytes(self.buffer[:size])
                del self.buffer[:size]
                return line
            data = self._recv(65536)
            if not data:
                line = bytes(self.buffer)
                self.buffer.clear()
                return line
            self.buffer += data

    def take_buffer(self) -> bytes:
        """What was read beyond the current request (a pipelined next request)."""
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def sendall(self, data) -> None:
        view = memoryview(data)
        while view:
            started = time.monotonic()
            try:
                count = self.sock.send(view[:1 << 20])
            except socket.timeout:
                raise SlowClient("client read nothing for %gs" % self.timeout)
            self._account(started, count)
            view = view[count:]

    def try_send(self, data, wait: float):
        """One send that waits at most ``wait`` seconds: the count sent, or None when the
        client took nothing in that time (for TLS the record is then still in flight)."""
        self.sock.settimeout(min(wait, self.timeout))
        started = time.monotonic()
        try:
            count = self.sock.send(data)
        except socket.timeout:
            self._account(started, 0)
            return None
        finally:
            self.sock.settimeout(self.timeout)
        self._account(started, count)
        return count

    def try_sendfile(self, file_fd: int, offset: int, count: int, wait: float):
        """Like :meth:`try_send`, with the kernel's sendfile (plain sockets only)."""
        started = time.monotonic()
        while True:
            try:
                sent = os.sendfile(self.sock.fileno(), file_fd, offset, count)
            except BlockingIOError:  # a socket with a timeout is non-blocking underneath
                remaining = wait - (time.monotonic() - started)
                if remaining <= 0 or not select.select([], [self.sock], [], remaining)[1]:
                    self._account(started, 0)
                    return None
                continue
            if not sent:
                raise ConnectionError("file shorter than its announced length")
            self._account(started, sent)
            return sent


class ContinueReader:
    """Sends ``100 Continue`` on the first read of the body, so a refused request never gets it."""

    def __init__(self, stream: SocketStream):
        self.stream = stream
        self.sent = False

    def _continue(self):
        if not self.sent:
            self.sent = True
            self.stream.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def read(self, size=-1) -> bytes:
        self._continue()
        return self.stream.read(size)

    def readline(self, limit=-1) -> bytes:
        self._continue()
        return self.stream.readline(limit)


class BodyReader:
    """Reads exactly ``length`` bytes of a request body; ``finished`` once all were read."""

    def __init__(self, rfile, length: int):
        self.rfile = rfile
        self.remaining = length

    @property
    def finished(self) -> bool:
        return self.remaining <= 0

    def read(self, size=-1) -> bytes:
        if self.remaining <= 0:
            return b""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self.rfile.read(size)
        self.remaining -= len(data)
        if not data:
            self.remaining = 0
            raise EOFError("client closed the connection before sending the whole body")
        return data

    def readline(self, size=-1) -> bytes:
        if self.remaining <= 0:
            return b""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self.rfile.readline(size)
        self.remaining -= len(data)
        return data


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class ChunkedReader:
    """Decodes a ``Transfer-Encoding: chunked`` body; ``read()`` returns b"" at its end.

    Anything that is not RFC 9112 chunked coding raises :class:`MalformedChunk` naming
    the problem (the application answers 400 and the connection is closed).
    """

    MAX_LINE = 4096
    MAX_TRAILERS = 100

    def __init__(self, rfile):
        self.rfile = rfile
        self.chunk_left = 0
        self.finished = False

    def _line(self, what: str) -> bytes:
        line = self.rfile.readline(self.MAX_LINE + 1)
        if not line:
            raise EOFError("client closed the connection inside a chunked body")
        if not line.endswith(b"\n"):
            if len(line) > self.MAX_LINE:
                raise MalformedChunk("malformed chunked body: %s longer than %d bytes" % (what, self.MAX_LINE))
            raise EOFError("client closed the connection inside a chunked body")
        return line.rstrip(b"\r\n")

    def _next_chunk(self):
        size_text = self._line("chunk size line").split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise MalformedChunk("malformed chunked body: bad chunk size %r" % size_text[:20].decode("latin-1"))
        size = int(size_text, 16)
        if size == 0:
            for _ in range(self.MAX_TRAILERS):
                if not self._line("trailer line"):
                    self.finished = True
                    return
            raise MalformedChunk("malformed chunked body: more than %d trailer lines" % self.MAX_TRAILERS)
        self.chunk_left = size

    def _end_of_chunk(self):
        ending = self.rfile.read(1)
        if ending == b"\r":
            ending += self.rfile.read(1)
        if ending not in (b"\r\n", b"\n"):
            if not ending:
                raise EOFError("client closed the connection inside a chunked body")
            raise MalformedChunk("malformed chunked body: chunk data not followed by CRLF")

    def read(self, size=-1) -> bytes:
        if self.finished:
            return b""
        if size is None or size < 0:
            parts = []
            while True:
                part = self.read(1024 * 1024)
                if not part:
                    return b"".join(parts)
                parts.append(part)
        if self.chunk_left == 0:
            self._next_chunk()
            if self.finished:
                return b""
        data = self.rfile.read(min(size, self.chunk_left))
        if not data:
            raise EOFError("client closed the connection inside a chunked body")
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self._end_of_chunk()
        return data


class FileWrapper:
    """``wsgi.file_wrapper``: the server sends the file itself; iteration is the fallback."""

    def __init__(self, filelike, block_size: int = 1024 * 1024):
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self):
        while True:
            chunk = self.filelike.read(self.block_size)
            if not chunk:
                return
            yield chunk

    def close(self):
        self.filelike.close()
