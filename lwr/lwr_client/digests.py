"""SHA-256 of transferred files, shared by the client and the server (``docs/transfers.rst``).

``Repr-Digest`` (RFC 9530) values carry the digest base64-encoded; both ends hash while the
bytes stream, on a helper thread when the file is large (``hashlib`` releases the GIL while it
hashes, so hashing overlaps the socket and disk work instead of adding to it).
"""
import base64
import binascii
import hashlib
import queue
import re
import threading

__all__ = ["repr_digest", "parse_repr_digest", "digest_wanted", "NO_DIGEST_WANTED", "StreamHash",
           "THREAD_THRESHOLD", "QUEUE_DEPTH"]

_REPR_DIGEST = re.compile(r"(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):")

#: Transfers at least this long (or of unknown length) hash on a helper thread.
THREAD_THRESHOLD = 8 * 1024 * 1024
#: Blocks queued for the hashing thread at most (memory: this many blocks).
QUEUE_DEPTH = 4


def repr_digest(hexdigest: str) -> str:
    """The ``Repr-Digest`` header value for a SHA-256 given in hex.

    >>> repr_digest(hashlib.sha256(b"").hexdigest())
    'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
    """
    return "sha-256=:%s:" % base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def parse_repr_digest(text):
    """The SHA-256 (hex) in a ``Repr-Digest`` header value; None when it has none or a malformed one.

    >>> parse_repr_digest("sha-512=:AAAA:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")[:8]
    'e3b0c442'
    >>> parse_repr_digest("sha-256=:short:") is None
    True
    """
    match = _REPR_DIGEST.search(text or "")
    if not match:
        return None
    try:
        raw = base64.b64decode(match.group(1), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


_WANT_SHA256 = re.compile(r"(?:^|,)\s*sha-256\s*=\s*(\d+)\s*(?:,|$)")

#: What a client that does not verify sends: ``Want-Repr-Digest`` with sha-256 "not acceptable".
NO_DIGEST_WANTED = "sha-256=0"


def digest_wanted(want_repr_digest) -> bool:
    """Whether a download's ``Want-Repr-Digest`` request header (RFC 9530; None when absent)
    leaves the SHA-256 wanted: only an explicit preference of 0 ("not acceptable") refuses it.

    >>> digest_wanted(None), digest_wanted("sha-256=0"), digest_wanted("sha-512=3, sha-256=0")
    (True, False, False)
    >>> digest_wanted("sha-256=5"), digest_wanted("sha-512=0")
    (True, True)
    """
    match = _WANT_SHA256.search(want_repr_digest or "")
    return not (match and int(match.group(1)) == 0)


class StreamHash:
    """A SHA-256 fed block by block, on a helper thread when ``threaded``. Blocks handed to
    :meth:`update` must not change until the thread is done with them: at most
    ``QUEUE_DEPTH`` wait in the queue and one is being hashed, so a caller may rotate
    through ``QUEUE_DEPTH + 2`` buffers.
    Always call :meth:`finish` (it stops the thread), even when the transfer failed."""

    def __init__(self, hasher=None, threaded: bool = False):
        self.hasher = hasher if hasher is not None else hashlib.sha256()
        self.queue = None
        self.error = None
        if threaded:
            self.queue = queue.Queue(QUEUE_DEPTH)
            self.thread = threading.Thread(target=self._run, daemon=True, name="sha256")
            self.thread.start()

    def _run(self):
        while True:
            block = self.queue.get()
            if block is None:
                return
            self.hasher.update(block)

    def update(self, block) -> None:
        if self.queue is None:
            self.hasher.update(block)
        else:
            self.queue.put(block)

    def finish(self):
        """The hash object, with every block given so far (the thread is stopped)."""
        if self.queue is not None:
            self.queue.put(None)
            self.thread.join()
            self.queue = None
        return self.hasher
