"""Watching a WSGI request to its end: bytes in and out, status, and the moment it is over.

The access log and the metrics both need to know, for each request, its status, how many body
bytes came in (``Content-Length``, or what the application read of a chunked body), how many
went out, and when the server finished sending the answer - which for a ``wsgi.file_wrapper``
download is when the server closes it, possibly from its event loop. :func:`observe` wraps one
call of an application and tells a :class:`RequestRecord` subclass, whose :meth:`report` runs
exactly once.
"""
import time

__all__ = ["RequestRecord", "observe", "content_length"]


class RequestRecord:
    """One request seen by :func:`observe`; subclasses say what :meth:`report` does with it."""

    def __init__(self, environ, status="-"):
        self.environ = environ
        self.started = time.monotonic()
        self.status = status
        self.declared_length = None  # the answer's Content-Length, when it has one
        self.bytes_in = 0  # of a chunked request body, what the application read
        self.bytes_out = 0
        self.done = False

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.report()

    def report(self) -> None:
        raise NotImplementedError


def observe(app, environ, start_response, record: RequestRecord, error_status=None):
    """Call ``app`` for this request, counting into ``record``, which is finished once the
    answer has been sent (or abandoned); ``error_status`` is recorded when ``app`` raises."""
    if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input") is not None:
        environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], record)

    def recording_start_response(status, headers, exc_info=None):
        record.status = status.split(" ", 1)[0]
        record.declared_length = content_length(headers)
        write = start_response(status, headers, exc_info)

        def counting_write(data):
            record.bytes_out += len(data)
            return write(data)

        return counting_write

    try:
        result = app(environ, recording_start_response)
    except BaseException:
        if error_status is not None:
            record.status = error_status
        record.finish()
        raise
    wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(wrapper, type) and isinstance(result, wrapper):
        return _finish_on_close(result, record)  # returned as is: the server still sends the file itself
    return _CountedBody(result, record)


class _CountingInput:
    """``wsgi.input`` of a body without Content-Length (chunked): counts what the application reads."""

    def __init__(self, stream, record):
        self._stream = stream
        self._record = record

    def read(self, *args):
        data = self._stream.read(*args)
        self._record.bytes_in += len(data)
        return data

    def readline(self, *args):
        data = self._stream.readline(*args)
        self._record.bytes_in += len(data)
        return data

    def readlines(self, *args):
        lines = self._stream.readlines(*args)
        self._record.bytes_in += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self._stream:
            self._record.bytes_in += len(line)
            yield line

    def __getattr__(self, name):  # e.g. ``finished`` of LWR's own body readers
        return getattr(self._stream, name)


class _CountedBody:
    """The application's response iterable, counted; the record finishes when the server closes it."""

    def __init__(self, result, record):
        self._result = result
        self._record = record

    def __iter__(self):
        record = self._record
        for chunk in self._result:
            record.bytes_out += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._record.finish()


def _finish_on_close(wrapper, record):
    """The server closes a file wrapper once the download is over (or abandoned), possibly
    from its event loop after a worker handed the rest of the file over."""
    close = wrapper.close

    def finishing_close():
        try:
            close()
        finally:
            if record.declared_length is not None:
                record.bytes_out = record.declared_length
            record.finish()

    wrapper.close = finishing_close
    return wrapper


def content_length(headers):
    """The ``Content-Length`` among WSGI response ``headers`` as a number, or None."""
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
