"""The one place job facts touch the disk: atomic writes, reads that never follow a link.

Standard library only, with the project's one write-then-rename helper (``lwr.lwr_client.util``,
itself standard library only).
"""
import contextlib
import errno
import json
import os

from lwr.lwr_client.util import ReplacingFile

__all__ = ["write_value", "read_value", "exists", "remove", "mtime"]


def write_value(path: str, value) -> None:
    """Write ``value`` as JSON to ``path`` atomically (:class:`~lwr.lwr_client.util.ReplacingFile`:
    a temporary ``.<name>.<8 random>.part`` beside it, renamed over ``path``), so a reader (or a
    restart) sees the old value or the new one, never half of one.  ``OSError`` (a full disk)
    reaches the caller."""
    with ReplacingFile(path, mode=0o644) as handle:
        os.fchmod(handle.fileno(), 0o644)  # whatever the umask: readable as before by the job's user
        handle.write(json.dumps(value).encode("utf-8"))


def read_value(path: str, default=None):
    """The JSON value in ``path``; ``default`` when missing, unreadable JSON or a symlink
    (the job script, running as the job's user, could plant one to make LWR read elsewhere)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return default
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return default
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        return default


def exists(path: str) -> bool:
    try:
        return not os.path.islink(path) and os.path.lexists(path)
    except OSError:
        return False


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def mtime(path: str):
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return None
