"""Streaming request bodies to disk and files back to clients, never whole files in memory.

Downloads honour ``Range`` (one range; ``206``/``416``), ``If-Range`` against a strong
``ETag`` built from the file's inode, size and modification time, and carry the whole
file's SHA-256 as ``Repr-Digest`` when the caller supplies it (``docs/transfers.rst``).
"""
import os
import re

from webob import Response

from lwr import paths
from lwr.lwr_client.util import ReplacingFile
from lwr.util import CHUNK_SIZE
from lwr.web.framework import HttpError
from lwr.web.resumable import repr_digest, stream_with_digest

__all__ = ["request_body", "write_body_to_path", "file_response", "BodyIncomplete"]


class BodyIncomplete(HttpError):
    def __init__(self, message):
        super().__init__(400, message)


def request_body(environ):
    """``(stream, length)`` of the request body; ``length`` None means read to the end (chunked).

    A chunked body under a server that cannot decode it (plain ``egg:Paste#http``
    hands the application zero bytes) is refused with 411 instead of being
    silently stored empty.
    """
    stream = environ["wsgi.input"]
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not environ.get("wsgi.input_terminated"):
            raise HttpError(411, "chunked request bodies need LWR's server runner "
                                 "(use = egg:lwr#server in server.ini); send a Content-Length")
        return stream, None
    text = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(text)
    except ValueError:
        raise HttpError(400, "invalid Content-Length %r" % text)
    if length < 0:
        raise HttpError(400, "invalid Content-Length %r" % text)
    return stream, length


def write_body_to_path(environ, path):
    """Stream the request body into a temporary file beside ``path``, hashing it on the way;
    rename it in place when complete. Returns ``(bytes written, sha-256 hex)``."""
    stream, length = request_body(environ)
    if os.path.isdir(path):
        raise HttpError(409, "%r is a directory" % os.path.basename(path))
    with ReplacingFile(path, prefix=".upload-") as handle:
        try:
            return stream_with_digest(stream, handle, length)
        except EOFError as exc:
            raise BodyIncomplete("upload of %r incomplete: %s" % (os.path.basename(path), exc))


class _FileIterable:
    """Iterates a file in ``CHUNK_SIZE`` pieces and closes it (fallback without wsgi.file_wrapper)."""

    def __init__(self, handle, length=None):
        self.handle = handle
        self.length = length  # None: to the end of the file

    def __iter__(self):
        remaining = self.length
        while remaining is None or remaining > 0:
            chunk = self.handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            if not chunk:  # b"" (0.2.0 compared with "" and never stopped on Python 3)
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk

    def close(self):
        self.handle.close()


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def etag(info) -> str:
    """A strong validator: changes whenever the file is replaced (inode), resized or rewritten."""
    return '"%x-%x-%x"' % (info.st_ino, info.st_size, info.st_mtime_ns)


def parse_range(text, size):
    """``(first, last)`` for a single ``Range: bytes=...`` header; None to send the whole file
    (no header, several ranges, or a unit other than bytes, which RFC 9110 lets a server ignore);
    416 for a range that starts past the end."""
    if not text:
        return None
    match = _RANGE.match(text.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0:
            raise _unsatisfiable(size)
        return max(0, size - count), size - 1
    first = int(first)
    last = size - 1 if last == "" else min(int(last), size - 1)
    if first >= size or last < first:
        raise _unsatisfiable(size)
    return first, last


class RangeNotSatisfiable(HttpError):
    def __init__(self, size):
        super().__init__(416, "the requested range lies outside the file's %d bytes" % size)
        self.size = size


def _unsatisfiable(size):
    return RangeNotSatisfiable(size)


def file_response(environ, path, missing_message, root=None, digest=None):
    """A streaming response for ``path`` with an explicit Content-Length; 404 if it is not a file.

    With ``root``, the file actually opened must lie inside it: checked on the open file
    itself, so a symlink swapped in after the caller checked the path is still refused.
    ``digest(handle)``, when given, returns the whole file's SHA-256 (hex) for ``Repr-Digest``.
    """
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise HttpError(404, missing_message)
    if not os.path.isfile(path) or (root is not None and not paths.opened_inside(handle, root)):
        handle.close()
        raise HttpError(404, missing_message)
    info = os.fstat(handle.fileno())
    size = info.st_size
    tag = etag(info)
    try:
        wanted = parse_range(environ.get("HTTP_RANGE"), size)
        if_range = environ.get("HTTP_IF_RANGE")
        if wanted is not None and if_range is not None and if_range.strip() != tag:
            wanted = None  # the client's copy is of another version: send all of this one
        headers = {"Accept-Ranges": "bytes", "ETag": tag}
        if digest is not None:
            headers["Repr-Digest"] = repr_digest(digest(handle))
    except RangeNotSatisfiable:
        handle.close()
        response = Response(status=416, content_type="text/plain", charset=None,
                            body=b"range not satisfiable")
        response.headers["Content-Range"] = "bytes */%d" % size
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["ETag"] = tag
        return response
    except BaseException:
        handle.close()
        raise
    response = Response(content_type="application/octet-stream", charset=None)
    for name, value in headers.items():
        response.headers[name] = value
    if wanted is not None:
        first, last = wanted
        handle.seek(first)
        size = last - first + 1
        response.status = 206
        response.headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, info.st_size)
        body = _FileIterable(handle, size) if last < info.st_size - 1 else None
    else:
        body = None
    if body is None:
        wrapper = environ.get("wsgi.file_wrapper")
        body = wrapper(handle, CHUNK_SIZE) if wrapper else _FileIterable(handle)
    response.app_iter = body
    response.content_length = size
    return response
