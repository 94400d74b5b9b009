"""Resumable, verified uploads into a job directory (``docs/transfers.rst``).

A client that names its upload with ``upload_id`` writes into a *partial*: a file under
``<job directory>/.partial-uploads/`` named by a digest of (type, name, upload_id), never the
final name. Each request appends the bytes of its ``Content-Range`` at the partial's current
size; a cut connection keeps what arrived, and ``GET .../files/offset`` tells the client
where to go on. Once all bytes are there the client *commits* with its SHA-256
(``Repr-Digest``): the server compares it with its own and renames the partial onto the final
name only when they agree.

The server's SHA-256 is computed while the bytes stream in: the hash state of each partial is
kept in memory between requests, so a resumed upload goes on hashing where it stopped. Only
after a server restart (the state is lost) is the held prefix read once more to rebuild it.
"""
import hashlib
import logging
import os
import re
import threading
import time

from lwr.lwr_client.digests import THREAD_THRESHOLD, StreamHash, parse_repr_digest, repr_digest
from lwr.util import CHUNK_SIZE, copy_stream
from lwr.web.framework import HttpError

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "PARTIAL_DIRECTORY",
    "check_upload_id",
    "parse_content_range",
    "repr_digest",
    "parse_repr_digest",
    "partial_path",
    "partial_offset",
    "settled_offset",
    "append_to_partial",
    "commit_partial",
    "stream_with_digest",
    "sweep_partials",
]

log = logging.getLogger(__name__)

#: Partials untouched for this long (seconds) are removed (``partial_upload_idle_timeout``).
DEFAULT_IDLE_TIMEOUT = 24 * 3600.0
PARTIAL_DIRECTORY = ".partial-uploads"

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-(\d+)|\*)/(\d+)$")

# path of a partial -> (bytes hashed, hash object): the hash state between two requests.
_STATES = {}
_LOCK = threading.Lock()
# path of a partial -> its _Writer: one request writes a partial at a time.
_WRITERS = {}
#: How long a newer request lets the current writer of the same partial finish on its own (it
#: may be storing what the network had buffered before a cut) before taking the partial over.
TAKEOVER_GRACE_SECONDS = 1.0
#: How long a request waits for the writer it took the partial from to let go (when that
#: writer cannot be stopped, e.g. under a server runner with no ``lwr.abort_connection``).
WRITER_WAIT_SECONDS = 30.0


class _Writer:
    """The lock of one partial and how to stop the request holding it (``abort``: shuts its
    connection down, so a worker blocked reading a dead or half-open connection gives up now
    rather than after ``socket_timeout``)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.abort = None


def check_upload_id(upload_id: str) -> str:
    """``upload_id`` if it is 1-128 letters, digits, ``-`` or ``_``; 400 otherwise."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise HttpError(400, "invalid upload_id %r: use 1-128 letters, digits, '-' or '_'" % (upload_id,))
    return upload_id


def parse_content_range(text):
    """``(first, last, total)`` of ``Content-Range: bytes first-last/total``; ``(None, None, total)``
    for ``bytes */total``; None when ``text`` is empty. 400 for anything else."""
    if not text:
        return None
    match = _CONTENT_RANGE.match(text.strip())
    if not match:
        raise HttpError(400, "invalid Content-Range %r; expected 'bytes FIRST-LAST/TOTAL'" % text[:100])
    first, last, total = match.groups()
    total = int(total)
    if first is None:
        return None, None, total
    first, last = int(first), int(last)
    if last < first or last >= total:
        raise HttpError(400, "invalid Content-Range %r: the range lies outside the total" % text[:100])
    return first, last, total


def partial_path(job_directory_path: str, type: str, name: str, upload_id: str) -> str:
    """Where the partial of this upload lives (a name derived from all three, never the final one)."""
    key = hashlib.sha256(("%s\0%s\0%s" % (type, name, upload_id)).encode("utf-8")).hexdigest()[:40]
    return os.path.join(job_directory_path, PARTIAL_DIRECTORY, key)


def partial_offset(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _state(path, offset):
    """The hash of the first ``offset`` bytes of ``path``: kept from the last request, or
    rebuilt by reading them (after a restart)."""
    with _LOCK:
        held = _STATES.get(path)
    if held is not None and held[0] == offset:
        return held[1].copy()
    hasher = hashlib.sha256()
    if offset == 0:
        return hasher
    with open(path, "rb") as handle:
        remaining = offset
        while remaining:
            block = handle.read(min(CHUNK_SIZE, remaining))
            if not block:
                break
            hasher.update(block)
            remaining -= len(block)
    return hasher


def _remember(path, offset, hasher):
    with _LOCK:
        _STATES[path] = (offset, hasher.copy())


def _forget(path):
    with _LOCK:
        _STATES.pop(path, None)
        _WRITERS.pop(path, None)


def _take_over(path, abort=None) -> _Writer:
    """The partial's writer lock, acquired. A client sends one request of an upload at a time,
    so a request still holding it belongs to a connection the client has given up (cut, reset,
    timed out): after :data:`TAKEOVER_GRACE_SECONDS` it is stopped. 409 with the offset if it
    still holds the partial :data:`WRITER_WAIT_SECONDS` later."""
    with _LOCK:
        writer = _WRITERS.setdefault(path, _Writer())
    if not writer.lock.acquire(timeout=TAKEOVER_GRACE_SECONDS):
        with _LOCK:  # under _LOCK: the holder cannot let go meanwhile, and its abort is its own
            stop = writer.abort
            if stop is not None:
                log.info("partial %s: a newer request takes over from a writer still holding it",
                         os.path.basename(path))
                stop()
        if not writer.lock.acquire(timeout=WRITER_WAIT_SECONDS):
            raise OffsetMismatch(partial_offset(path))
    with _LOCK:
        writer.abort = abort
    return writer


def _let_go(writer):
    with _LOCK:
        writer.abort = None
    writer.lock.release()


def settled_offset(path: str) -> int:
    """:func:`partial_offset` once no earlier request is writing the partial (one still
    writing is given :data:`TAKEOVER_GRACE_SECONDS`, then stopped): the offset a resuming
    client asks for counts every byte the server will keep. (A writer that cannot be stopped
    and holds on past :data:`WRITER_WAIT_SECONDS`: the size now.)"""
    try:
        writer = _take_over(path)
    except OffsetMismatch as exc:
        return exc.offset
    try:
        return partial_offset(path)
    finally:
        _let_go(writer)


def append_to_partial(path: str, stream, length, first: int, total: int, abort=None):
    """Append ``length`` body bytes at ``first`` (which must be the partial's size; 409 with the
    size otherwise). Returns ``(new offset, hexdigest when complete or None)``.

    A body that ends early keeps what arrived (that is the point) and answers 408 (a client
    retries that: it asks for the offset and sends the rest). One writer per partial at a
    time: a newer request takes the partial over (:func:`_take_over`), calling the current
    writer's ``abort`` (it shuts that request's connection down).
    """
    writer = _take_over(path, abort)
    try:
        return _append(path, stream, length, first, total)
    finally:
        _let_go(writer)


def _append(path, stream, length, first, total):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    current = partial_offset(path)
    if first != current:
        raise OffsetMismatch(current)
    if length is not None and first + length > total:
        raise HttpError(400, "the body runs past the announced total of %d bytes" % total)
    hashing = StreamHash(_state(path, first), threaded=length is None or length >= THREAD_THRESHOLD)
    offset = first
    cut = None
    try:
        with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+b") as handle:
            handle.seek(first)
            if os.fstat(handle.fileno()).st_size > first:
                # Only when there is something to cut: ext4 takes a truncation (even of nothing)
                # followed by writes for a file being replaced, and writes it out at close.
                handle.truncate()
            try:
                while length is None or offset - first < length:
                    want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - (offset - first))
                    block = stream.read(want)
                    if not block:
                        if length is not None:
                            cut = "request body ended after %d of %d bytes" % (offset - first, length)
                        break
                    if offset + len(block) > total:
                        raise HttpError(400, "the body runs past the announced total of %d bytes" % total)
                    handle.write(block)
                    hashing.update(block)
                    offset += len(block)
            except (EOFError, ConnectionError, TimeoutError) as exc:  # EOFError: LWR's server, body cut
                cut = "connection lost after %d bytes: %s" % (offset - first, exc)
    finally:
        hasher = hashing.finish()
        _remember(path, offset, hasher)
    os.utime(path)
    if cut:
        raise HttpError(408, "upload interrupted (%s); %d of %d bytes held, resume from there"
                        % (cut, offset, total))
    return offset, (hasher.hexdigest() if offset == total else None)


class OffsetMismatch(HttpError):
    """The client's range does not start where the partial ends (409, with the offset)."""

    def __init__(self, offset):
        super().__init__(409, "this upload holds %d bytes; send the rest from there" % offset)
        self.offset = offset


def commit_partial(path: str, final_path: str, client_digest, total):
    """Rename the complete partial onto ``final_path`` if its SHA-256 is ``client_digest``
    (when given); returns the server's hexdigest. 422 naming both digests otherwise (the
    partial is removed: the client starts again)."""
    writer = _take_over(path)
    try:
        return _commit(path, final_path, client_digest, total)
    finally:
        _let_go(writer)


def _commit(path, final_path, client_digest, total):
    if not os.path.exists(path):
        raise HttpError(404, "no upload in progress under that upload_id")
    size = partial_offset(path)
    if total is not None and size != total:
        raise OffsetMismatch(size)
    digest = _state(path, size).hexdigest()
    if client_digest is not None and client_digest != digest:
        _forget(path)
        os.unlink(path)
        raise HttpError(422, "sha-256 mismatch: the client sent %s, the server received %s"
                        % (client_digest, digest))
    if os.path.isdir(final_path):
        raise HttpError(409, "%r is a directory" % os.path.basename(final_path))
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    os.replace(path, final_path)
    _forget(path)
    return digest


def stream_with_digest(stream, handle, length):
    """Copy ``length`` bytes (None: to the end) from ``stream`` to ``handle``; returns
    ``(count, sha-256 hex)``. Raises ``EOFError`` when the body ends early."""
    hashing = StreamHash(threaded=length is None or length >= THREAD_THRESHOLD)
    try:
        copied = copy_stream(stream, handle, length, observe=hashing.update)
    finally:
        hasher = hashing.finish()
    return copied, hasher.hexdigest()


def sweep_partials(job_directory_path: str, idle_timeout: float, now=None) -> int:
    """Remove the partials of this job untouched for ``idle_timeout`` seconds; returns how many."""
    directory = os.path.join(job_directory_path, PARTIAL_DIRECTORY)
    now = time.time() if now is None else now
    removed = 0
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        path = os.path.join(directory, name)
        try:
            if now - os.stat(path).st_mtime > idle_timeout:
                os.unlink(path)
                _forget(path)
                removed += 1
                log.info("removed partial upload %s, idle for more than %ds", path, idle_timeout)
        except FileNotFoundError:
            pass
    return removed
