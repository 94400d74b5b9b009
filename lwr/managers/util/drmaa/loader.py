"""Import the ``drmaa`` package lazily and explain every way loading it fails."""
import importlib
import os
import sys
from types import ModuleType

__all__ = ["DrmaaUnavailable", "load_drmaa", "GRID_ENGINE_LIBRARY", "STATIC_TLS_FIX"]

GRID_ENGINE_LIBRARY = "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0"
STATIC_TLS_FIX = "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=2048"


class DrmaaUnavailable(RuntimeError):
    """DRMAA cannot be used in this process; the message says what to set or install."""


def load_drmaa() -> ModuleType:
    """Return the imported ``drmaa`` module or raise :class:`DrmaaUnavailable`."""
    if "drmaa" in sys.modules:
        return sys.modules["drmaa"]
    library = os.environ.get("DRMAA_LIBRARY_PATH")
    if not library:
        raise DrmaaUnavailable(
            "DRMAA_LIBRARY_PATH is not set; set it (e.g. in local_env.sh) to the DRM's libdrmaa, "
            "for Grid Engine %s" % GRID_ENGINE_LIBRARY)
    if not os.path.exists(library):
        raise DrmaaUnavailable("DRMAA_LIBRARY_PATH=%s does not exist" % library)
    try:
        module = importlib.import_module("drmaa")
    except ImportError as exc:
        if getattr(exc, "name", None) == "drmaa":
            raise DrmaaUnavailable("the python package 'drmaa' is not installed (pip install drmaa)") from exc
        raise DrmaaUnavailable("importing drmaa failed: %s" % exc) from exc
    except OSError as exc:
        if "static TLS" in str(exc):
            raise DrmaaUnavailable(
                "%s: the DRMAA library links libjemalloc, which needs more static TLS than glibc "
                "reserves; start the server with %s (or LD_PRELOAD=<that libjemalloc>) in its "
                "environment, e.g. in local_env.sh" % (exc, STATIC_TLS_FIX)) from exc
        raise DrmaaUnavailable("loading %s failed: %s" % (library, exc)) from exc
    except RuntimeError as exc:  # drmaa's own "Could not find drmaa library"
        raise DrmaaUnavailable("loading drmaa failed: %s" % exc) from exc
    return module


def session_hint(message: str) -> str:
    """Extra advice for an error from ``Session.initialize``."""
    if "SGE_ROOT" in message:
        return message + " (Grid Engine needs SGE_ROOT, e.g. /var/lib/gridengine, and SGE_CELL=default)"
    return message
