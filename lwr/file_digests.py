"""Recorded SHA-256 digests of a job's files, so a download answers ``Repr-Digest`` without
reading the file first (``docs/transfers.rst``).

A digest is recorded with the file it belongs to, in the extended attribute
``user.lwr.sha256`` (one system call); on a file system without user extended attributes, in a
record under ``<job directory>/.digests/``. Either way it holds the file's identity (inode,
size, modification time) and counts only while that is unchanged.

Digests are recorded when an upload is stored (computed while it streamed in), when a job run
by a local manager ends (:func:`record_small_files`: its small outputs, hashed by the thread
that waited for the job while the files are still in the page cache, so the download that
follows starts sending at once), and at a file's first download otherwise.
"""
import errno
import hashlib
import json
import logging
import os
import stat
import threading

__all__ = ["DIGEST_DIRECTORY", "DIGEST_XATTR", "record_digest", "cached_digest", "record_small_files",
           "SMALL_FILE_BYTES"]

log = logging.getLogger(__name__)

DIGEST_DIRECTORY = ".digests"
#: The extended attribute holding a file's recorded digest (``.digests/`` where there are none).
DIGEST_XATTR = "user.lwr.sha256"
#: Files up to this size are hashed when a local job ends (:func:`record_small_files`).
SMALL_FILE_BYTES = 8 * 1024 * 1024
_SMALL_FILES_AT_MOST = 64
# where an xattr cannot be set (none here, not this file's owner, no room): the record file instead
_NO_XATTR = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES, errno.ENOSYS, errno.E2BIG, errno.ENOSPC}
_READ_SIZE = 4 * 1024 * 1024


def _digest_record(job_directory_path, path):
    key = hashlib.sha256(os.path.relpath(path, job_directory_path).encode("utf-8", "surrogateescape")).hexdigest()
    return os.path.join(job_directory_path, DIGEST_DIRECTORY, key[:40])


def _identity(info):
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def record_digest(job_directory_path: str, path: str, hexdigest: str, info=None) -> None:
    """Remember ``path``'s SHA-256 for the file as it is now (inode, size, mtime): in an
    extended attribute of the file (one system call), else in a record under ``.digests/``."""
    info = info or os.stat(path)
    value = json.dumps({"identity": _identity(info), "sha256": hexdigest})
    try:
        os.setxattr(path, DIGEST_XATTR, value.encode("ascii"), follow_symlinks=False)
        return
    except (AttributeError, OSError) as exc:  # no xattrs here (platform, file system, mount)
        if not isinstance(exc, AttributeError) and exc.errno not in _NO_XATTR:
            raise
    record = _digest_record(job_directory_path, path)
    os.makedirs(os.path.dirname(record), exist_ok=True)
    tmp = "%s.%d.tmp" % (record, threading.get_ident())
    with open(tmp, "w") as handle:
        handle.write(value)
    os.replace(tmp, record)


def _recorded_digest(job_directory_path, path, handle):
    """The recorded ``{"identity": ..., "sha256": ...}`` of the open file, or None."""
    try:
        return json.loads(os.getxattr(handle.fileno(), DIGEST_XATTR))
    except (AttributeError, OSError, ValueError):
        pass
    try:
        with open(_digest_record(job_directory_path, path)) as stored:
            return json.load(stored)
    except (OSError, ValueError):
        return None


def cached_digest(job_directory_path: str, path: str, handle):
    """The SHA-256 of the open file ``handle`` (at ``path``): the recorded one if the file is
    unchanged since, else computed now (one read of the file) and recorded."""
    info = os.fstat(handle.fileno())
    data = _recorded_digest(job_directory_path, path, handle)
    if isinstance(data, dict) and data.get("identity") == _identity(info) and isinstance(data.get("sha256"), str):
        return data["sha256"]
    hasher = hashlib.sha256()
    position = 0
    while True:
        block = os.pread(handle.fileno(), _READ_SIZE, position)
        if not block:
            break
        hasher.update(block)
        position += len(block)
    digest = hasher.hexdigest()
    try:
        record_digest(job_directory_path, path, digest, info)
    except OSError as exc:
        log.warning("could not record the digest of %s: %s", path, exc)
    return digest


def record_small_files(job_directory_path: str, directories) -> int:
    """Hash and record the regular files of at most :data:`SMALL_FILE_BYTES` directly inside
    each of ``directories`` (not below them, never through a symbolic link; at most 64 files)
    that have no valid record yet. Returns how many were recorded; problems are logged, never
    raised (a download computes what is missing)."""
    recorded = 0
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if recorded >= _SMALL_FILES_AT_MOST:
                return recorded
            try:
                if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_size > SMALL_FILE_BYTES:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as handle:
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        cached_digest(job_directory_path, entry.path, handle)
                        recorded += 1
            except OSError as exc:
                log.debug("could not record the digest of %s: %s", entry.path, exc)
    return recorded
