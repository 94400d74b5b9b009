"""``hierarchical`` and ``distributed`` stores: several disk backends behind one interface.

A request carries no backend id (0.2.0 sent ``object_store_id = None``), so an existing
object is found by asking each backend in turn. New objects go to the first backend
(``hierarchical``, ordered by ``order``) or to a backend drawn by ``weight`` among
those below ``maxpctfull`` (``distributed``).
"""
import random
import tempfile

from lwr.objectstore import ObjectNotFound
from lwr.objectstore.disk import DiskObjectStore

__all__ = ["build_store", "HierarchicalObjectStore", "DistributedObjectStore"]


class _NestedObjectStore:
    store_type = None

    def __init__(self, backends, max_percent_full=None):
        if not backends:
            raise ValueError("a %s object store needs at least one backend" % self.store_type)
        self.backends = backends
        self.max_percent_full = max_percent_full

    def _holder(self, obj, kwds):
        for backend in self.backends:
            if backend.holds(obj, **kwds):
                return backend
        return None

    def _holder_or_missing(self, obj, kwds):
        backend = self._holder(obj, kwds)
        if backend is None:
            detail = ", ".join("%s=%s" % item for item in sorted(kwds.items()) if item[1] not in (None, False, ""))
            raise ObjectNotFound("object %s%s does not exist in any backend"
                                 % (obj.id, " (%s)" % detail if detail else ""))
        return backend

    def holds(self, obj, **kwds):
        return self._holder(obj, kwds) is not None

    def exists(self, obj, **kwds):
        return self.holds(obj, **kwds)

    def file_ready(self, obj, **kwds):
        backend = self._holder(obj, kwds)
        return backend is not None and backend.file_ready(obj, **kwds)

    def create(self, obj, **kwds):
        if self._holder(obj, kwds) is None:
            self._new_object_backend().create(obj, **kwds)

    def empty(self, obj, **kwds):
        return self._holder_or_missing(obj, kwds).empty(obj, **kwds)

    def size(self, obj, **kwds):
        backend = self._holder(obj, kwds)
        return 0 if backend is None else backend.size(obj, **kwds)

    def delete(self, obj, **kwds):
        backend = self._holder(obj, kwds)
        return False if backend is None else backend.delete(obj, **kwds)

    def open_data(self, obj, **kwds):
        return self._holder_or_missing(obj, kwds).open_data(obj, **kwds)

    def get_filename(self, obj, **kwds):
        return self._holder_or_missing(obj, kwds).get_filename(obj, **kwds)

    def update_from_file(self, obj, file_name=None, create=False, **kwds):
        if create:
            self.create(obj, **kwds)
        return self._holder_or_missing(obj, kwds).update_from_file(obj, file_name=file_name, **kwds)

    def get_store_usage_percent(self):
        """The fullest backend's figure: the one that runs out first."""
        return max(backend.get_store_usage_percent() for backend in self.backends)

    def _new_object_backend(self):
        raise NotImplementedError


class HierarchicalObjectStore(_NestedObjectStore):
    store_type = "hierarchical"

    def _new_object_backend(self):
        return self.backends[0]


class DistributedObjectStore(_NestedObjectStore):
    store_type = "distributed"

    def __init__(self, backends, max_percent_full=None, chooser=random.Random()):
        super().__init__(backends, max_percent_full)
        self.chooser = chooser

    def _new_object_backend(self):
        candidates = []
        for backend in self.backends:
            limit = backend.max_percent_full if backend.max_percent_full is not None else self.max_percent_full
            if backend.weight > 0 and (limit is None or backend.get_store_usage_percent() < limit):
                candidates.append(backend)
        if not candidates:
            raise OSError(28, "every backend of the distributed object store is full (maxpctfull)")
        return self.chooser.choices(candidates, weights=[b.weight for b in candidates])[0]


def build_store(config, defaults, allowed_source_roots=(), top=True):
    """A store for one level of the configuration read by :mod:`lwr.objectstore.config`."""
    kind = config["type"]
    if kind == "disk":
        extra_dirs = {"job_work": defaults.get("job_working_directory"),
                      "temp": defaults.get("new_file_path") or tempfile.gettempdir()}
        extra_dirs.update({k: v for k, v in config["extra_dirs"].items() if v})
        files_dir = config["files_dir"] or (defaults.get("file_path") if top else None)
        return DiskObjectStore(files_dir, extra_dirs, umask=defaults.get("umask"), store_id=config["id"],
                               weight=config["weight"], max_percent_full=config["max_percent_full"],
                               allowed_source_roots=allowed_source_roots)
    backends = [build_store(backend, defaults, allowed_source_roots, top=False) for backend in config["backends"]]
    if kind == "hierarchical":
        orders = [backend["order"] for backend in config["backends"]]
        ranked = sorted(zip(range(len(backends)), backends), key=lambda pair: (
            orders[pair[0]] if orders[pair[0]] is not None else pair[0], pair[0]))
        return HierarchicalObjectStore([backend for _, backend in ranked], config["max_percent_full"])
    return DistributedObjectStore(backends, config["max_percent_full"])
