"""``disk``: datasets as files under ``files_dir``, in Galaxy's hashed directory layout.

Dataset 1234 with no options lives at ``files_dir/001/dataset_1234.dat``; ``base_dir``
picks one of the ``extra_dirs`` (``job_work``, ``temp``) instead of ``files_dir``;
``extra_dir`` adds a sub-directory below the hash directory (or above it with
``extra_dir_at_root``); ``alt_name`` replaces the file name; ``dir_only`` names the
directory. Every path is checked to stay inside its base directory, symlinks included.
"""
import os
import shutil

from lwr import paths
from lwr.lwr_client.util import COPY_BLOCK, ReplacingFile
from lwr.objectstore import InvalidObjectRequest, ObjectNotFound

__all__ = ["DiskObjectStore", "directory_hash_id"]


def directory_hash_id(object_id):
    """Galaxy's hash directories: ids below 1000 -> ``["000"]``, 1234 -> ``["001"]``, 1234567 -> ``["001", "234"]``."""
    text = str(object_id)
    if len(text) < 4:
        return ["000"]
    padded = "0" * ((3 - len(text) % 3) % 3) + text
    padded = padded[:-3]
    return [padded[index:index + 3] for index in range(0, len(padded), 3)]


class DiskObjectStore:
    store_type = "disk"

    def __init__(self, files_dir, extra_dirs, umask=None, store_id=None, weight=1.0, max_percent_full=None,
                 allowed_source_roots=()):
        if not files_dir:
            raise ValueError("a disk object store needs files_dir (or object_store_file_path)")
        self.id = store_id
        self.files_dir = os.path.abspath(files_dir)
        self.extra_dirs = {kind: os.path.abspath(path) for kind, path in extra_dirs.items() if path}
        self.umask = umask
        self.weight = 1.0 if weight is None else float(weight)
        self.max_percent_full = max_percent_full
        self.allowed_source_roots = [os.path.abspath(root) for root in allowed_source_roots]
        for directory in [self.files_dir] + list(self.extra_dirs.values()):
            self._make_directory(directory)

    # -- paths --------------------------------------------------------------------------------
    def _base(self, base_dir):
        if base_dir in (None, ""):
            return self.files_dir
        if base_dir not in self.extra_dirs:
            known = ", ".join(sorted(self.extra_dirs)) or "none configured"
            raise InvalidObjectRequest("unknown base_dir %r (extra_dirs: %s)" % (base_dir, known))
        return self.extra_dirs[base_dir]

    def construct_path(self, obj, base_dir=None, dir_only=False, extra_dir=None, extra_dir_at_root=False,
                       alt_name=None):
        base = self._base(base_dir)
        parts = directory_hash_id(obj.id)
        if extra_dir not in (None, ""):
            extra = self._relative(extra_dir, "extra_dir")
            parts = [extra] + parts if extra_dir_at_root else parts + [extra]
        if not dir_only:
            parts.append(self._relative(alt_name, "alt_name") if alt_name else "dataset_%s.dat" % obj.id)
        path = os.path.join(base, *"/".join(parts).split("/"))
        try:
            paths.resolve_inside(path, base)
        except paths.InvalidPath:
            raise InvalidObjectRequest("the object's path resolves outside the object store")
        return path

    @staticmethod
    def _relative(name, label):
        try:
            return paths.check_relative_name(name)
        except paths.InvalidPath as exc:
            raise InvalidObjectRequest("%s: %s" % (label, exc))

    def _make_directory(self, directory):
        if os.path.isdir(directory):
            return
        os.makedirs(directory, exist_ok=True)
        if self.umask is not None:
            os.chmod(directory, 0o777 & ~self.umask)

    def _fix_file_mode(self, path):
        if self.umask is not None:
            os.chmod(path, 0o666 & ~self.umask)

    # -- the object store interface -------------------------------------------------------------
    def exists(self, obj, **kwds):
        path = self.construct_path(obj, **kwds)
        return os.path.isdir(path) if kwds.get("dir_only") else os.path.exists(path)

    def file_ready(self, obj, **kwds):
        return self.exists(obj, **kwds)

    def create(self, obj, **kwds):
        if self.exists(obj, **kwds):
            return
        path = self.construct_path(obj, **kwds)
        directory = path if kwds.get("dir_only") else os.path.dirname(path)
        self._make_directory(directory)
        if not kwds.get("dir_only"):
            with open(path, "ab"):
                pass
            self._fix_file_mode(path)

    def empty(self, obj, **kwds):
        return self.size(obj, **kwds) == 0 if self.exists(obj, **kwds) else self._missing(obj, kwds)

    def size(self, obj, **kwds):
        try:
            return os.path.getsize(self.construct_path(obj, **kwds))
        except OSError:
            return 0

    def delete(self, obj, **kwds):
        path = self.construct_path(obj, **kwds)
        try:
            if os.path.isfile(path) or os.path.islink(path):
                os.remove(path)
                return True
        except OSError:
            pass
        return False

    def open_data(self, obj, **kwds):
        """The object's file opened for reading (callers read the range they need)."""
        path = self.construct_path(obj, **kwds)
        if not os.path.isfile(path):
            self._missing(obj, kwds)
        return open(path, "rb")

    def get_filename(self, obj, **kwds):
        return self.construct_path(obj, **kwds)

    def update_from_file(self, obj, file_name=None, create=False, **kwds):
        if create:
            self.create(obj, **kwds)
        if not self.exists(obj, **kwds):
            self._missing(obj, kwds)
        if file_name in (None, ""):
            return
        source = self._source(file_name)
        target = self.construct_path(obj, **kwds)
        if os.path.realpath(source) == os.path.realpath(target):
            return
        copy = ReplacingFile(target, prefix=".update-", suffix="")
        with open(source, "rb") as original, copy as handle:
            shutil.copyfileobj(original, handle, COPY_BLOCK)
            self._fix_file_mode(copy.tmp_path)

    def _source(self, file_name):
        """``file_name`` is a path on this server; only files inside LWR's own directories may be read."""
        real = os.path.realpath(str(file_name))
        roots = self.allowed_source_roots + [self.files_dir] + list(self.extra_dirs.values())
        if not any(paths.is_in_directory(real, os.path.realpath(root)) for root in roots):
            raise InvalidObjectRequest(
                "file_name %r is outside the directories LWR may copy from (its staging directory "
                "and the object store's directories)" % file_name)
        if not os.path.isfile(real):
            raise ObjectNotFound("file_name %r is not a file on the LWR server" % file_name)
        return real

    def get_store_usage_percent(self):
        usage = shutil.disk_usage(self.files_dir)
        return 100.0 * (usage.total - usage.free) / usage.total if usage.total else 0.0

    def holds(self, obj, **kwds):
        """Whether this store has the object (used by the nested stores to find it)."""
        return self.exists(obj, **kwds)

    @staticmethod
    def _missing(obj, kwds):
        detail = ", ".join("%s=%s" % item for item in sorted(kwds.items()) if item[1] not in (None, False, ""))
        raise ObjectNotFound("object %s%s does not exist" % (obj.id, " (%s)" % detail if detail else ""))
