"""Keep the C allocator from spreading the server's memory over many arenas.

glibc's malloc gives each thread that allocates its own arena, up to eight per core.  The
server's threads (HTTP workers, job launchers, queue workers, monitors) all allocate, and
what they free stays scattered over those arenas: the resident size crept up by 1-2 KiB with
every job run, finished jobs kept or not (``bench/many_jobs.py``).  Two arenas keep it flat;
Python's global interpreter lock serialises most allocation anyway, so nothing is lost.
"""
import ctypes
import ctypes.util
import logging
import os

__all__ = ["limit_malloc_arenas", "DEFAULT_ARENAS"]

log = logging.getLogger(__name__)

DEFAULT_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(count: int = DEFAULT_ARENAS) -> bool:
    """Ask glibc for at most ``count`` arenas; True if it did.

    Must run before the threads it should affect first allocate.  Does nothing when the
    administrator set ``MALLOC_ARENA_MAX`` (glibc read it at start) or the C library is not
    glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):
        return False  # mallopt of another C library: other parameter numbers
    return mallopt(_M_ARENA_MAX, count) == 1
