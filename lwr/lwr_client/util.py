"""Small helpers of the client (and the server): remote path arithmetic, directory listings,
files written under a temporary name and renamed into place."""
import hashlib
import json
import os
import posixpath
import secrets
import shutil
import threading
from base64 import b64decode, b64encode

__all__ = [
    "PathHelper",
    "directory_files",
    "unique_path_prefix",
    "copy_to_path",
    "atomic_copy",
    "ReplacingFile",
    "TransferEventManager",
    "to_base64_json",
    "from_base64_json",
    "in_directory",
    "asbool",
]

COPY_BLOCK = 1024 * 1024


class PathHelper:
    """Converts between local paths and paths on a server whose separator is ``separator``.

    >>> helper = PathHelper("\\\\")
    >>> helper.remote_name("moo/cow") == "moo\\\\cow"
    True
    >>> helper.local_name("moo\\\\cow") == os.path.join("moo", "cow")
    True
    >>> PathHelper("/").remote_join("/a/b/", "c")
    '/a/b/c'
    >>> PathHelper("/").from_posix_with_new_base("/galaxy/data/bar/moo.txt", "/galaxy/data", "/work")
    '/work/bar/moo.txt'
    """

    def __init__(self, separator: str, local_path_module=os.path):
        self.separator = separator
        self.local_path = local_path_module

    def remote_name(self, local_name: str) -> str:
        return self._convert(local_name, self.local_path.sep, self.separator)

    def local_name(self, remote_name: str) -> str:
        return self._convert(remote_name, self.separator, self.local_path.sep)

    def remote_join(self, *parts: str) -> str:
        sep = self.separator
        out = parts[0]
        for part in parts[1:]:
            out = out.rstrip(sep) + sep + part.lstrip(sep) if out else part
        return out

    def from_posix_with_new_base(self, posix_path: str, old_base: str, new_base: str) -> str:
        """Move ``posix_path`` from under ``old_base`` to under ``new_base`` (in remote separators)."""
        relative = posixpath.relpath(posix_path, old_base)
        if relative == "." or relative.startswith(".."):
            raise ValueError("%r is not under %r" % (posix_path, old_base))
        return self.remote_join(new_base, relative.replace("/", self.separator))

    @staticmethod
    def _convert(name, from_sep, to_sep):
        return name if from_sep == to_sep else to_sep.join(name.split(from_sep))


def in_directory(path: str, directory: str) -> bool:
    """``path`` is ``directory`` or inside it, comparing whole path components."""
    path = os.path.abspath(path)
    directory = os.path.abspath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def directory_files(directory: str) -> list:
    """Relative paths (local separators) of every file below ``directory``, sorted.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(d, "a"))
    >>> for name in ("x", os.path.join("a", "y")):
    ...     open(os.path.join(d, name), "w").close()
    >>> directory_files(d) == [os.path.join("a", "y"), "x"]
    True
    """
    found = []
    for root, _dirs, files in os.walk(directory):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def unique_path_prefix(path: str) -> str:
    """A stable directory name unique to ``path`` (md5 of it), to keep staged names apart."""
    return hashlib.md5(path.encode("utf-8")).hexdigest()




class ReplacingFile:
    """A new file written under a temporary name beside ``path`` that replaces ``path`` only
    when complete, so no reader ever sees half a file and a writer killed mid-way leaves the
    old contents (or nothing) under ``path``.

    The temporary is ``<prefix><8 random characters><suffix>`` (``prefix`` defaults to
    ``.<name>.``), created exclusively with permissions ``mode`` (less the umask). The server
    recognises a stopped server's temporaries by these names (``lwr.managers.base.leftovers``).
    ``fsync``: flush the data to disk before the rename (state that must survive a crash).

    Use :meth:`commit` or :meth:`discard`, or ``with ReplacingFile(path) as handle:`` (committed
    on a clean exit, discarded on an exception).
    """

    def __init__(self, path: str, prefix: str = None, suffix: str = ".part", mode: int = 0o600,
                 fsync: bool = False, make_parents: bool = False):
        self.path = os.path.abspath(path)
        self.fsync = fsync
        directory, name = os.path.split(self.path)
        if make_parents:
            os.makedirs(directory, exist_ok=True)
        prefix = ".%s." % name[:100] if prefix is None else prefix
        while True:
            random_part = secrets.token_hex(4)  # one read of the random source, not eight
            self.tmp_path = os.path.join(directory, prefix + random_part + suffix)
            try:
                fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
                break
            except FileExistsError:
                continue
        self.handle = os.fdopen(fd, "wb")

    def write(self, data) -> int:
        return self.handle.write(data)

    def commit(self) -> None:
        """Close the temporary and rename it onto ``path``."""
        try:
            if self.fsync:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close and remove the temporary; ``path`` is left as it was."""
        try:
            self.handle.close()
        finally:
            try:
                os.unlink(self.tmp_path)
            except OSError:
                pass

    def __enter__(self):
        return self.handle

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


def atomic_copy(source: str, destination: str) -> None:
    """Copy ``source`` to ``destination`` through a temporary beside it; create parent directories."""
    with open(source, "rb") as src, ReplacingFile(destination, make_parents=True) as dst:
        shutil.copyfileobj(src, dst, COPY_BLOCK)


copy_to_path = atomic_copy


def asbool(value, default=False) -> bool:
    """An ini boolean ("true", "False", "1", "no", ...); ``None`` gives ``default``.

    >>> asbool("False"), asbool("yes"), asbool(None, True)
    (False, True, True)
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "y", "t"):
        return True
    if text in ("false", "no", "off", "0", "n", "f", "", "none"):
        return False
    raise ValueError("not a boolean: %r" % (value,))


def to_base64_json(data) -> str:
    """
    >>> from_base64_json(to_base64_json({"a": [1, "é"]}))
    {'a': [1, 'é']}
    """
    return b64encode(json.dumps(data).encode("utf-8")).decode("ascii")


def from_base64_json(data: str):
    return json.loads(b64decode(data).decode("utf-8"))


class TransferEvent:
    def __init__(self):
        self.event = threading.Event()
        self.error = None


class TransferEventManager:
    """One :class:`TransferEvent` per path, so concurrent uploads of the same file wait for one transfer."""

    def __init__(self):
        self._events = {}
        self._lock = threading.Lock()

    def acquire_event(self, path: str, force_clear: bool = False) -> TransferEvent:
        with self._lock:
            event = self._events.get(path)
            if event is None or force_clear:
                event = TransferEvent()
                self._events[path] = event
            return event
