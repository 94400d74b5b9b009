"""A Galaxy-compatible object store that LWR serves over ``/objects/...`` (spec §1.3).

LWR 0.2.0 loaded Galaxy's own object-store classes for this; we implement the same
behaviour for the file-system stores Galaxy configures in ``object_store_conf.xml``
(or ``.yml``): ``disk``, ``hierarchical`` and ``distributed``. Galaxy's
``object_store type="lwr"`` (and :class:`lwr.lwr_client.ObjectStoreClientManager`)
talks to it.

Every request names a dataset by ``object_id``; like 0.2.0 we wrap it in a stub whose
``object_store_id`` is unknown, so the nested stores find an object by looking in each
backend.
"""
import re

__all__ = ["ObjectNotFound", "InvalidObjectRequest", "Dataset", "build_object_store_from_config",
           "check_object_id"]

_OBJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")


class ObjectNotFound(Exception):
    """The object (or the file it should have) does not exist: HTTP 404."""


class InvalidObjectRequest(ValueError):
    """A request the store refuses (bad id, path outside the store, unknown base_dir): HTTP 400."""


def check_object_id(object_id) -> str:
    """A Galaxy dataset id (digits, or a uuid-like name); anything else could reach outside the store."""
    text = "" if object_id is None else str(object_id)
    if not _OBJECT_ID_RE.match(text):
        raise InvalidObjectRequest(
            "object_id %r must be 1-128 ASCII letters, digits, '_' or '-', starting with a letter "
            "or digit" % text[:200])
    return text


class Dataset:
    """What the store needs of a Galaxy dataset: its id (as given) and which backend holds it."""

    def __init__(self, object_id):
        self.id = check_object_id(object_id)
        self.object_store_id = None


def build_object_store_from_config(config_file, file_path=None, job_working_directory=None,
                                   new_file_path=None, umask=None, allowed_source_roots=()):
    """The store described by ``config_file`` (Galaxy XML or YAML object store configuration)."""
    # here: only a server with an object store loads the stores and their config parsers (YAML,
    # XML); and lwr.objectstore.nested imports this package's Dataset and errors
    from lwr.objectstore.config import load_config
    from lwr.objectstore.nested import build_store

    config = load_config(config_file)
    defaults = {"file_path": file_path, "job_working_directory": job_working_directory,
                "new_file_path": new_file_path, "umask": umask}
    return build_store(config, defaults, allowed_source_roots)
