"""Every check on a job id or file name that arrives from the network lives here.

Untrusted input is normalised first, then checked; a check either returns a
safe value or raises :class:`InvalidPath` whose message names the problem.
Routes, staging actions and managers all go through these functions so one
table-driven test covers them all.
"""
import os
import posixpath
import re

__all__ = [
    "InvalidPath",
    "check_job_id",
    "check_relative_name",
    "is_in_directory",
    "safe_join",
    "resolve_inside",
    "opened_inside",
]

MAX_JOB_ID_LENGTH = 128
MAX_NAME_LENGTH = 1024
#: Longest single path component most file systems take (NAME_MAX); longer ones fail with
#: ENAMETOOLONG deep in a write, so they are refused here, by what they encode to on disk.
MAX_COMPONENT_BYTES = 255
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class InvalidPath(ValueError):
    """A job id or file name that would be unsafe to use on disk."""


def check_job_id(job_id) -> str:
    """Return ``job_id`` if it is a safe single directory name, else raise."""
    if job_id is None or job_id == "":
        raise InvalidPath("job_id is empty")
    job_id = str(job_id)
    if len(job_id) > MAX_JOB_ID_LENGTH:
        raise InvalidPath("job_id is longer than %d characters" % MAX_JOB_ID_LENGTH)
    if not _JOB_ID_RE.match(job_id) or job_id in (".", ".."):
        raise InvalidPath(
            "job_id %r may only contain ASCII letters, digits, '_', '-' and '.' "
            "and must start with a letter or digit" % job_id
        )
    return job_id


def check_relative_name(name) -> str:
    """Validate a client-supplied relative POSIX path (``a/b/c``) and return it normalised.

    Refuses empty names, NUL bytes, absolute paths and any ``..`` component;
    drops ``.`` components and repeated slashes.
    """
    if name is None or name == "":
        raise InvalidPath("file name is empty")
    name = str(name)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidPath("file name is longer than %d characters" % MAX_NAME_LENGTH)
    if "\x00" in name:
        raise InvalidPath("file name contains a NUL byte")
    if name.startswith("/") or name.startswith("\\") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise InvalidPath("file name %r is absolute; a relative name is required" % name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidPath("file name %r reaches outside its directory ('..')" % name)
    if not parts:
        raise InvalidPath("file name %r names no file" % name)
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES:
            raise InvalidPath("file name component %r... is longer than %d bytes"
                              % (part[:32], MAX_COMPONENT_BYTES))
    return "/".join(parts)


def is_in_directory(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` or below it, compared by path components."""
    path = os.path.abspath(path)
    directory = os.path.abspath(directory)
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # different drives on Windows
        return False


def safe_join(directory: str, name: str) -> str:
    """Join a validated relative POSIX name onto ``directory`` (local separators)."""
    name = check_relative_name(name)
    path = os.path.join(directory, *name.split("/"))
    if not is_in_directory(path, directory):
        raise InvalidPath("file name %r reaches outside its directory" % name)
    return path


def resolve_inside(path: str, root: str) -> str:
    """Refuse ``path`` if, after following symlinks, it leaves ``root``.

    Catches a symlink planted in a job directory that points elsewhere.  The
    path itself need not exist; its existing ancestors are resolved.
    """
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    if not is_in_directory(real_path, real_root):
        raise InvalidPath("path %r resolves outside the job directory" % posixpath.basename(path))
    return path


def opened_inside(handle, root: str) -> bool:
    """True when the open file ``handle`` lies below ``root``.

    Checked on the open descriptor (its name in ``/proc/self/fd`` on Linux, else the
    resolved path), so a symlink swapped in after a path was checked is still caught.
    """
    try:
        opened = os.readlink("/proc/self/fd/%d" % handle.fileno())
    except OSError:
        opened = os.path.realpath(handle.name)
    return is_in_directory(opened, os.path.realpath(root))
