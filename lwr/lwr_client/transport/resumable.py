"""Resumable, verified file transfers, whatever the HTTP library (``docs/transfers.rst``).

Uploads: the file goes to ``POST /jobs/{id}/files`` under an ``upload_id`` chosen here; a lost
connection is followed by ``GET /jobs/{id}/files/offset`` and the rest of the file sent with
``Content-Range: bytes N-LAST/TOTAL``; then a commit carrying this side's SHA-256, which the
server compares with its own before it renames the file into place.

Downloads: into a temporary file beside the target; a lost connection is followed by
``Range: bytes=N-`` with ``If-Range`` (the ``ETag`` of the first answer), so only the missing
bytes come again (a changed file comes whole). The SHA-256 computed while writing is compared
with the server's ``Repr-Digest``.

Both sides hash while the bytes stream; a resumed transfer goes on hashing where it stopped.
A file smaller than ``THREAD_THRESHOLD`` is hashed before it is sent instead, and its
``Repr-Digest`` rides on the upload itself, which the server then commits at once: one
request per small file. A digest mismatch is retried from zero ``verify_attempts`` times in
all, then fails with :class:`DigestMismatch` naming the file and both digests. A server that
answers no digest (Pulsar, LWR 0.2.0) is not verified, and a server that keeps no partials (it
writes a one-shot upload whole) is simply sent the whole file again.

A transport built with ``verify=False`` (or a destination's ``verify_transfers = false``)
hashes nothing and compares nothing: files from ``THREAD_THRESHOLD`` on still resume, smaller
ones go in one plain request (sent whole again after a cut).

The control flow lives here once; a transport supplies one primitive, :meth:`ResumableTransfers._exchange`
(one request with a streamed body and a streamed answer): ``urllib`` in
:mod:`~lwr.lwr_client.transport.standard`, libcurl in :mod:`~lwr.lwr_client.transport.curl`.
"""
import json
import logging
import os
import re
import uuid

from lwr.lwr_client.digests import (
    NO_DIGEST_WANTED,
    QUEUE_DEPTH,
    THREAD_THRESHOLD,
    StreamHash,
    parse_repr_digest,
    repr_digest,
)
from lwr.lwr_client.exceptions import DigestMismatch, TransportError
from lwr.lwr_client.transport.base import BLOCK_SIZE, AtomicDownload, connection_error, http_error, mask_url

__all__ = ["ResumableTransfers", "Answer", "HANDLED_STATUSES", "pooled_blocks", "DigestMismatch", "repr_digest",
           "parse_repr_digest"]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")
#: Answers this module reads itself: a transport's ``_exchange`` returns them rather than raising.
HANDLED_STATUSES = (409, 416, 422)


class Answer:
    """One answer of :meth:`ResumableTransfers._exchange`: ``status``, ``headers`` (read with a
    case-insensitive ``get``) and ``body`` (bytes; empty when the body went to ``receive``)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}


class _Hashing:
    """SHA-256 of a file read in order from 0; bytes read again after a resume are not hashed twice."""

    def __init__(self, size):
        self.stream = StreamHash(threaded=size >= THREAD_THRESHOLD)
        self.hashed = 0

    def update(self, position, block):
        end = position + len(block)
        if end > self.hashed:
            self.stream.update(memoryview(block)[self.hashed - position:])
            self.hashed = end

    def hexdigest(self):
        return self.stream.finish().hexdigest()


class _Known:
    """Stands for :class:`_Hashing` when the digest is known before sending (or not wanted)."""

    def __init__(self, hexdigest=None):
        self.stream = StreamHash()
        self.digest = hexdigest
        self.hashed = float("inf")

    def update(self, position, block):
        pass

    def hexdigest(self):
        return self.digest


class _NoHash:
    """Stands for a :class:`StreamHash` when nothing is verified."""

    def update(self, block):
        pass

    def finish(self):
        return self


_NO_HASH = _NoHash()


def _file_digest(path):
    hasher = StreamHash()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_SIZE), b""):
            hasher.update(block)
    return hasher.finish().hexdigest()


class ResumableTransfers:
    """Mixed into :class:`~lwr.lwr_client.transport.standard.UrllibTransport` and
    :class:`~lwr.lwr_client.transport.curl.PycurlTransport`: needs ``retry``, ``_progress`` and
    :meth:`_exchange`."""

    #: Whole transfers tried before a digest mismatch fails.
    verify_attempts = 2
    #: Compute and compare SHA-256 digests (the transport's ``verify`` option).
    verify = True

    # -- what a transport implements --------------------------------------------------------------
    def _exchange(self, url, method, body=None, headers=None, receive=None):  # pragma: no cover
        """One request, not retried; an :class:`Answer`.

        ``body``: None, bytes, or an iterable of byte blocks whose total is ``headers["Content-Length"]``
        (taken one after the other, as the request is sent: the upload's hashing and progress
        happen as they are taken). ``receive(answer)``, when given, is called once the status
        and headers of a 2xx answer are in; it returns ``write(block)``, which gets the body in
        order (a block may be a view of a buffer reused after :func:`pooled_blocks`' rotation, and
        ``answer.body`` stays empty). What ``receive`` or ``write`` raise ends the request and
        comes out of this call. Answers in :data:`HANDLED_STATUSES` are returned with their body;
        other 4xx/5xx raise :func:`~lwr.lwr_client.transport.base.http_error`; a lost or failed
        connection raises :func:`~lwr.lwr_client.transport.base.connection_error` (transient
        unless it is a TLS failure).
        """
        raise NotImplementedError

    # -- uploads -------------------------------------------------------------------------------
    def upload_resumable(self, urls, path: str) -> bytes:
        """Upload ``path``; ``urls(upload_id, commit)`` gives the upload URL and
        ``urls(upload_id, None)`` the offset URL (``urls(None, False)``: a one-shot upload's).
        Returns the body of the final answer."""
        size = os.path.getsize(path)
        if not self.verify and size < THREAD_THRESHOLD:
            # Nothing to verify and little to send again: one request, as a 2014 client sends
            # it (a retry sends the whole small file again instead of resuming it).
            url = urls(None, False)
            progress = self._progress(path, "upload")
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            def once():
                return self._exchange(url, "POST", self._blocks(path, 0, size, _Known(), progress), headers)

            answer = self.retry.call(once, "POST", url)
            if answer.status != 200:
                raise http_error("POST", url, answer.status, "", answer.body)
            if progress is not None:
                progress(size, size)
            return answer.body
        for attempt in range(self.verify_attempts):
            upload_id = uuid.uuid4().hex
            answer, local, remote = self._upload_once(urls, path, upload_id)
            if remote is None or local == remote:
                return answer.body
            log.warning("upload of %s: sha-256 mismatch (sent %s, server received %s)%s",
                        path, local, remote, "; sending it again" if attempt + 1 < self.verify_attempts else "")
        raise DigestMismatch("upload of %s failed verification %d times: sha-256 sent %s, server received %s"
                             % (path, self.verify_attempts, local, remote), path=path, local=local, remote=remote)

    def _upload_once(self, urls, path, upload_id):
        """``(final answer, local digest, server digest or None)`` of one upload from zero."""
        total = os.path.getsize(path)
        if not self.verify:
            hashing = _Known()
        elif total < THREAD_THRESHOLD:  # hashed first: the digest rides on the upload, one request
            hashing = _Known(_file_digest(path))
        else:
            hashing = _Hashing(total)
        progress = self._progress(path, "upload")
        state = {"offset": 0, "resumes": 0}
        upload_url = urls(upload_id, False)

        def attempt():
            offset = state["offset"]
            if state.get("lost"):
                offset = state["offset"] = self._server_offset(urls(upload_id, None), total)
                state["resumes"] += 1
                log.info("resuming upload of %s at byte %d of %d (resume %d)", path, offset, total,
                         state["resumes"])
            state["lost"] = True
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(total - offset)}
            if isinstance(hashing, _Known) and hashing.digest:
                headers["Repr-Digest"] = repr_digest(hashing.digest)
            if offset:
                headers["Content-Range"] = "bytes %d-%d/%d" % (offset, total - 1, total)
            answer = self._exchange(upload_url, "POST", self._blocks(path, offset, total, hashing, progress), headers)
            state["lost"] = False
            if answer.status == 409:  # the server holds another amount: go on from there
                state["offset"] = int(answer.json().get("offset", 0))
                state["lost"] = False
                raise TransportError("upload of %s: server holds %d bytes, not %d"
                                     % (path, state["offset"], offset), transient=True)
            return answer

        try:
            answer = self.retry.call(attempt, "POST", upload_url)
        except BaseException:
            hashing.stream.finish()
            raise
        data = answer.json()
        if "complete" not in data and answer.status != 422:  # a server without resumable uploads stored it whole
            return answer, self._finish_hash(path, hashing), data.get("sha256") if self.verify else None
        local = self._finish_hash(path, hashing)
        if answer.status != 422:
            if data.get("complete") is True:  # the server committed it at once: no commit request
                if progress is not None:
                    progress(total, total)
                return answer, local, data.get("sha256") if local else None
            commit_url = urls(upload_id, True)
            headers = {"Content-Length": "0", "Content-Range": "bytes */%d" % total}
            if local:
                headers["Repr-Digest"] = repr_digest(local)
            answer = self.retry.call(lambda: self._exchange(commit_url, "POST", b"", headers), "POST", commit_url)
        if answer.status == 422:
            remote = answer.json().get("error", "")
            match = re.search(r"server received ([0-9a-f]{64})", remote)
            return answer, local, match.group(1) if match else "unknown"
        if answer.status != 200:
            raise http_error("POST", upload_url, answer.status, "", answer.body)
        if progress is not None:
            progress(total, total)
        return answer, local, answer.json().get("sha256") if local else None

    def _server_offset(self, offset_url, total):
        try:
            answer = self._exchange(offset_url, "GET")
        except TransportError as exc:
            if exc.status == 404:  # a server without the offset route: start again
                return 0
            raise
        offset = answer.json().get("offset", 0)
        return offset if isinstance(offset, int) and 0 <= offset <= total else 0

    @staticmethod
    def _finish_hash(path, hashing):
        """Hash whatever of the file was not sent (an upload resumed past bytes never read here)."""
        if isinstance(hashing, _Known):
            return hashing.hexdigest()
        with open(path, "rb") as handle:
            handle.seek(hashing.hashed)
            while True:
                position = handle.tell()
                block = handle.read(BLOCK_SIZE)
                if not block:
                    break
                hashing.update(position, block)
        return hashing.hexdigest()

    @staticmethod
    def _blocks(path, offset, total, hashing, progress):
        with open(path, "rb") as handle:
            handle.seek(offset)
            position = offset
            if progress is not None:
                progress(offset, total)
            while position < total:
                block = handle.read(min(BLOCK_SIZE, total - position))
                if not block:
                    break
                hashing.update(position, block)
                yield block
                position += len(block)
                if progress is not None and position < total:
                    progress(position, total)

    # -- downloads -----------------------------------------------------------------------------
    def download_resumable(self, url: str, path: str) -> str:
        """GET ``url`` into ``path`` (renamed into place only when complete and verified)."""
        for attempt in range(self.verify_attempts):
            local, remote = self._download_once(url, path)
            if remote is None:
                if self.verify:
                    log.debug("downloaded %s from %s: sha-256 %s (not verified: the server sent no digest)",
                              path, mask_url(url), local)
                return path
            if local == remote:
                return path
            log.warning("download of %s: sha-256 mismatch (received %s, server sent %s)%s",
                        path, local, remote, "; fetching it again" if attempt + 1 < self.verify_attempts else "")
        raise DigestMismatch("download of %s failed verification %d times: sha-256 received %s, server sent %s"
                             % (path, self.verify_attempts, local, remote), path=path, local=local, remote=remote)

    def _download_once(self, url, path):
        download = AtomicDownload(path)
        progress = self._progress(path, "download")
        state = {"received": 0, "hasher": StreamHash(), "etag": None, "total": None, "digest": None}

        def receive(answer):
            if answer.status == 206:
                match = _CONTENT_RANGE.match(answer.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != state["received"]:
                    raise TransportError("GET %s: unexpected Content-Range %r"
                                         % (mask_url(url), answer.headers.get("Content-Range")), transient=False)
            else:  # the whole file (first attempt, or the server ignored the range)
                state["hasher"].finish()
                if download.handle.tell():  # (never truncate an empty file: ext4 then flushes it at close)
                    download.handle.seek(0)
                    download.handle.truncate()
                length = answer.headers.get("Content-Length")
                state["total"] = int(length) if length and length.isdigit() else None
                big = state["total"] is None or state["total"] >= THREAD_THRESHOLD
                state.update(received=0, hasher=StreamHash(threaded=big) if self.verify else _NO_HASH)
                state["etag"] = answer.headers.get("ETag")
                if state["etag"] and state["etag"].startswith("W/"):
                    state["etag"] = None  # only a strong validator may resume
            if self.verify:
                state["digest"] = parse_repr_digest(answer.headers.get("Repr-Digest"))
            if progress is not None:
                progress(state["received"], state["total"])
            # blocks a hashing thread may still hold must not be refilled: rotate through a pool
            write.buffers = QUEUE_DEPTH + 2 if getattr(state["hasher"], "queue", None) is not None else 1
            return write

        def write(block):
            download.write(block)
            state["hasher"].update(block)
            state["received"] += len(block)
            if progress is not None and state["received"] != state["total"]:
                progress(state["received"], state["total"])

        def attempt():
            headers = {} if self.verify else {"Want-Repr-Digest": NO_DIGEST_WANTED}
            if state["received"] and state["etag"]:
                headers.update({"Range": "bytes=%d-" % state["received"], "If-Range": state["etag"]})
                log.info("resuming download of %s at byte %d of %s", path, state["received"], state["total"])
            try:
                answer = self._exchange(url, "GET", headers=headers, receive=receive)
            finally:
                download.handle.flush()
            if answer.status == 416:
                raise TransportError("GET %s: range refused (the file changed?)" % mask_url(url), status=416,
                                     transient=False)
            if answer.status in HANDLED_STATUSES:
                raise http_error("GET", url, answer.status, "", answer.body)
            if state["total"] is not None and state["received"] != state["total"]:
                raise connection_error("GET", url, "download ended after %d of %d bytes"
                                       % (state["received"], state["total"]))

        try:
            self.retry.call(attempt, "GET", url)
            local = state["hasher"].finish().hexdigest() if self.verify else None
            if state["digest"] is not None and local != state["digest"]:
                download.discard()
                return local, state["digest"]
            download.commit()
            if progress is not None:
                progress(state["received"], state["received"])
            return local, state["digest"]
        except BaseException:
            state["hasher"].finish()
            download.discard()
            raise


def pooled_blocks(response, buffers=QUEUE_DEPTH + 2, size=BLOCK_SIZE):
    """``response.readinto`` blocks as views of buffers reused in turn, for a transport's
    ``write(block)`` (whose ``buffers`` attribute, when set, says how many it needs): a hashing
    thread reads a block after the writer has moved on, so blocks rotate through a pool larger
    than what the thread can hold (its queue plus the block it is hashing); a buffer is refilled
    only after the thread has finished with it. Without a thread one buffer does."""
    pool = []
    turn = 0
    while True:
        if len(pool) < buffers:  # allocated as needed: a small file needs one or two
            pool.append(bytearray(size))
        buffer = pool[turn % len(pool)]
        turn += 1
        count = response.readinto(buffer)
        if not count:
            return
        yield memoryview(buffer)[:count]
