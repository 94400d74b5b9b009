"""Streaming request bodies to disk and files back to clients, never whole files in memory."""
import os

from webob import Response

from lwr import paths
from lwr.lwr_client.util import ReplacingFile
from lwr.util import CHUNK_SIZE, copy_stream
from lwr.web.framework import HttpError

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


def write_body_to_path(environ, path) -> int:
    """Stream the request body into a temporary file beside ``path``; rename it in place when complete."""
    stream, length = request_body(environ)
    if os.path.isdir(path):
        raise HttpError(409, "%r is a directory" % os.path.basename(path))
    with ReplacingFile(path, prefix=".upload-") as handle:
        try:
            return copy_stream(stream, handle, length)
        except EOFError as exc:
            raise BodyIncomplete("upload of %r incomplete: %s" % (os.path.basename(path), exc))


class _FileIterable:
    """Iterates a file in ``CHUNK_SIZE`` pieces and closes it (fallback without wsgi.file_wrapper)."""

    def __init__(self, handle):
        self.handle = handle

    def __iter__(self):
        while True:
            chunk = self.handle.read(CHUNK_SIZE)
            if not chunk:  # b"" (0.2.0 compared with "" and never stopped on Python 3)
                return
            yield chunk

    def close(self):
        self.handle.close()


def file_response(environ, path, missing_message, root=None):
    """A streaming response for ``path`` with an explicit Content-Length; 404 if it is not a file.

    With ``root``, the file actually opened must lie inside it: checked on the open file
    itself, so a symlink swapped in after the caller checked the path is still refused.
    """
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise HttpError(404, missing_message)
    if not os.path.isfile(path) or (root is not None and not paths.opened_inside(handle, root)):
        handle.close()
        raise HttpError(404, missing_message)
    size = os.fstat(handle.fileno()).st_size
    wrapper = environ.get("wsgi.file_wrapper")
    body = wrapper(handle, CHUNK_SIZE) if wrapper else _FileIterable(handle)
    response = Response(content_type="application/octet-stream", charset=None)
    response.app_iter = body
    response.content_length = size
    return response
