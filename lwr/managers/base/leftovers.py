"""Temporary files a stopped server left in the staging directory, removed when the next one starts.

Every file the server writes goes first to a temporary name beside its destination and is
renamed into place when complete, so a server killed mid-write leaves the temporary behind
(a 1 GiB upload leaves 1 GiB).  They are recognised by the exact names their writers use:

=================================  =========================================================
``.upload-XXXXXXXX.part``          a request body being stored (``lwr.web.files``)
``.cache-XXXXXXXX.part``           a copy out of the file cache (``lwr.web.routes``)
``.NAME.XXXXXXXX.part``            a remote staging copy / download / message file, an atomic
                                   metadata write (``lwr.lwr_client.util.ReplacingFile``)
``.NAME.PID.THREAD.tmp``           an atomic metadata write of earlier versions
``NAME.cache-part``                a cache copy of LWR before 0.2.1
``.setup-JOB-XXXXXXXX/``           a job directory being set up (staging directory only)
``.lwr-clock-XXXXXXXX``            the start mark below
=================================  =========================================================

Once a job was submitted, the directories its tool writes in (``working``, ``outputs``,
``metadata``, ``home``, ``tmp``) are the tool's and are not searched.  A temporary is only
removed when it was last changed before this server started: the start
is marked by a file created in the staging directory itself, so the comparison uses the
file system's own clock (right on NFS too), and a file a live request of this server is
writing always has a later change time.  One server per staging directory is assumed (the
locks that guard jobs live in the server's memory).
"""
import logging
import os
import re
import stat
import tempfile
from typing import Callable, Dict

from lwr.managers.base import reaper
from lwr.managers.job_state import JobState

__all__ = ["mark_start", "sweep", "is_temporary_name"]

log = logging.getLogger(__name__)

CLOCK_PREFIX = ".lwr-clock-"
#: Where a launched job's tool writes: not searched once the job was submitted.
TOOL_DIRECTORIES = ("working", "outputs", "metadata", "home", "tmp")
_RANDOM = r"[a-z0-9_]{8}"  # tempfile.mkstemp's random part
_TEMPORARY_FILE = re.compile(r"^(?:\.(?:upload|cache)-%(r)s\.part|\..+\.%(r)s\.part|\..+\.\d+\.\d+\.tmp|.+\.cache-part"
                             r"|%(clock)s%(r)s)$" % {"r": _RANDOM, "clock": re.escape(CLOCK_PREFIX)}, re.DOTALL)


def is_temporary_name(name: str) -> bool:
    return bool(_TEMPORARY_FILE.match(name))


def mark_start(staging_directory: str) -> int:
    """The staging file system's time now (ns): everything changed before it is a leftover."""
    os.makedirs(staging_directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=CLOCK_PREFIX, dir=staging_directory)
    try:
        return os.fstat(fd).st_ctime_ns
    finally:
        os.close(fd)
        os.unlink(path)


def sweep(staging_directory: str, started_ns: int, stopping: Callable[[], bool] = lambda: False,
          directory_reaper=None) -> Dict[str, int]:
    """Remove the leftovers of earlier servers below ``staging_directory``; returns counts.

    Symlinks are never followed.  ``stopping`` is asked between job directories.  Trees an
    earlier server was deleting go to ``directory_reaper`` (else are deleted at once).
    """
    removed = {"files": 0, "bytes": 0}
    if directory_reaper is not None:
        directory_reaper.sweep(staging_directory, started_ns)
    else:
        reaper.sweep_now(staging_directory, started_ns)
    try:
        entries = list(os.scandir(staging_directory))
    except OSError as exc:
        log.warning("cannot list %s for leftovers: %s", staging_directory, exc)
        return removed
    for entry in entries:
        if stopping():
            break
        if entry.name.startswith(".") and not entry.name.startswith(CLOCK_PREFIX):
            continue  # .deleting-* / .setup-* are the deletion thread's (reaper.sweep above)
        if entry.is_dir(follow_symlinks=False):
            launched = JobState(entry.path, entry.name).launch_recorded()
            for root, dirs, files, root_fd in os.fwalk(entry.path, follow_symlinks=False):
                if launched and root == entry.path:
                    # The tool's own files: a name that looks like ours may be the tool's.
                    dirs[:] = [d for d in dirs if d not in TOOL_DIRECTORIES]
                for name in files:
                    if is_temporary_name(name):
                        _remove_if_stale(root_fd, root, name, started_ns, removed)
        elif is_temporary_name(entry.name):
            _remove_if_stale(None, staging_directory, entry.name, started_ns, removed)
    if removed["files"]:
        log.info("removed %d temporary files (%.1f MiB) left by an earlier server in %s",
                 removed["files"], removed["bytes"] / 2 ** 20, staging_directory)
    return removed


def _remove_if_stale(dir_fd, directory: str, name: str, started_ns: int, removed: Dict[str, int]) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False) if dir_fd is not None \
            else os.lstat(os.path.join(directory, name))
        if not stat.S_ISREG(info.st_mode) or info.st_ctime_ns >= started_ns:
            return
        if dir_fd is not None:
            os.unlink(name, dir_fd=dir_fd)
        else:
            os.unlink(os.path.join(directory, name))
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("could not remove the leftover %s: %s", os.path.join(directory, name), exc)
        return
    log.debug("removed leftover %s (%d bytes)", os.path.join(directory, name), info.st_size)
    removed["files"] += 1
    removed["bytes"] += info.st_size
