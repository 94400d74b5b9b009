"""Request-body readers and the ``wsgi.file_wrapper`` used by LWR's server runner."""

__all__ = ["BodyReader", "ChunkedReader", "FileWrapper", "MalformedChunk"]


class MalformedChunk(ValueError):
    """A chunked request body that does not follow RFC 9112 §7.1."""


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


class ChunkedReader:
    """Decodes a ``Transfer-Encoding: chunked`` body; ``read()`` returns b"" at its end."""

    MAX_LINE = 4096

    def __init__(self, rfile):
        self.rfile = rfile
        self.chunk_left = 0
        self.finished = False

    def _next_chunk(self):
        line = self.rfile.readline(self.MAX_LINE)
        if not line:
            raise EOFError("client closed the connection inside a chunked body")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise MalformedChunk("bad chunk size line %r" % line[:40])
        if size < 0:
            raise MalformedChunk("negative chunk size")
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = self.rfile.readline(self.MAX_LINE)
                if trailer in (b"\r\n", b"\n", b""):
                    break
            self.finished = True
        self.chunk_left = size

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
            self.rfile.readline(self.MAX_LINE)  # CRLF after the chunk data
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
