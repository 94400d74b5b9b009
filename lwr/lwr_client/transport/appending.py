"""Pushing to a Galaxy job-files path that *appends* (``tool_stdout``, ``tool_stderr``).

Galaxy's job files API replaces every file it receives except these two, which it appends
to when they exist. A POST whose answer is lost (connection dropped, timeout, a proxy's
5xx) may still have been stored, and an ordinary retry would then put the tool's output
into Galaxy twice. So before retrying, the file is read back: when it has grown by exactly
this file's size since before the first attempt, the push already landed and is not repeated.
"""
import copy
import logging
import os
import tempfile

from lwr.lwr_client.exceptions import TransportError
from lwr.lwr_client.transport.base import mask_url
from lwr.lwr_client.transport.retry import RetryPolicy

__all__ = ["APPENDING_NAMES", "appends", "post_file_once_only"]

log = logging.getLogger(__name__)

BLOCK = 1024 * 1024

#: Base names Galaxy's job files API appends to instead of replacing.
APPENDING_NAMES = ("tool_stdout", "tool_stderr")


def appends(remote_path) -> bool:
    return os.path.basename(str(remote_path or "").replace("\\", "/").rstrip("/")) in APPENDING_NAMES


def _single_attempt(transport):
    single = copy.copy(transport)
    single.retry = RetryPolicy(attempts=1)
    return single


def _read_back(single, url, scratch):
    """Fetch the remote file into ``scratch``: its size, 0 when the server answered with an
    error (Galaxy answers 500, not 404, for a file that does not exist yet), None when no
    answer came at all."""
    try:
        single.get_file(url, scratch)
        return os.path.getsize(scratch)
    except TransportError as exc:
        if exc.status is not None:
            return 0
        log.warning("reading back %s failed: %s", mask_url(url), exc)
        return None


def _ends_with(remote_copy, path, size):
    """Whether the file ``remote_copy`` ends with the ``size`` bytes of ``path``."""
    with open(remote_copy, "rb") as remote, open(path, "rb") as local:
        remote.seek(os.path.getsize(remote_copy) - size)
        while True:
            block = local.read(BLOCK)
            if not block:
                return True
            if remote.read(len(block)) != block:
                return False


def _landed(single, url, path, size, before, scratch):
    now = _read_back(single, url, scratch)
    return now is not None and now == before + size and _ends_with(scratch, path, size)


def post_file_once_only(transport, url: str, path: str):
    """POST ``path`` to ``url`` (multipart ``file``) so that at most one copy is appended."""
    size = os.path.getsize(path)
    if size == 0:
        return transport.post_file(url, path)  # appending nothing twice changes nothing
    policy = transport.retry or RetryPolicy.from_environ()
    single = _single_attempt(transport)
    handle, scratch = tempfile.mkstemp(prefix="lwr-readback-")
    os.close(handle)
    attempts = []

    def once():
        # before is None: the read-back got no answer, so a later one could not tell; resend.
        if attempts and before is not None and _landed(single, url, path, size, before, scratch):
            log.info("%s already holds this push (its answer was lost); not sending it again",
                     mask_url(url))
            return b'{"message": "ok"}'
        attempts.append(1)
        return single.post_file(url, path)

    try:
        before = _read_back(single, url, scratch)
        return policy.call(once, "POST", url)
    finally:
        os.unlink(scratch)
