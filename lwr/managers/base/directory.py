"""A job's directory on disk: ``<staging_directory>/<job_id>/`` (spec §2)."""
import errno
import logging
import os
import shutil
import tempfile

from lwr import paths
from lwr.managers.base.reaper import discard_tree
from lwr.managers.job_state import JobState, store
from lwr.managers.job_state.facts import fact_names
from lwr.lwr_client.job_directory import NESTED_TYPES as _CLIENT_NESTED_TYPES
from lwr.lwr_client.job_directory import TYPE_DIRECTORIES, JobDirectoryLayout
from lwr.lwr_client.path_type import OUTPUT_PATH_TYPES

__all__ = ["JobDirectory", "JobExists", "UnknownFileType", "TYPE_DIRECTORIES", "NESTED_TYPES", "JOB_STDOUT",
           "JOB_STDERR", "TOOL_STDOUT", "TOOL_STDERR"]

# The layout is shared with the client, which computes it for jobs_directory setups.
NESTED_TYPES = set(_CLIENT_NESTED_TYPES)
CREATED_SUBDIRS = ("inputs", "working", "outputs", "configs", "tool_files", "metadata")

#: Files LWR keeps at the top of a job directory; clients may not overwrite them: every job
#: fact (lwr.managers.job_state.facts) and the files the managers make for the job.
RESERVED_NAMES = fact_names() | {
    "command.sh", "stdout", "stderr", "process_start", "jt.json", "job.condor.submit", "job_condor.log",
    "home", "tmp",
}

#: The job script's own streams (every manager writes them here) and the tool's streams
#: (written by the command Galaxy builds; relative to the job directory).
JOB_STDOUT = os.path.join("metadata", "job_stdout")
JOB_STDERR = os.path.join("metadata", "job_stderr")
TOOL_STDOUT = os.path.join("metadata", "tool_stdout")
TOOL_STDERR = os.path.join("metadata", "tool_stderr")


_SHRINK_JOIN = b"\n..\n"

log = logging.getLogger(__name__)


class JobExists(Exception):
    """Setting up a job whose directory is already there."""


class UnknownFileType(ValueError):
    """An upload or download ``type`` LWR does not know."""


class JobDirectory(JobDirectoryLayout):
    """Paths and metadata of one job.  Construction validates ``job_id``."""

    def __init__(self, staging_directory: str, job_id: str, lock_manager=None, reaper=None):
        self.job_id = paths.check_job_id(job_id)
        self.staging_directory = os.path.abspath(staging_directory)
        self.path = os.path.join(self.staging_directory, self.job_id)
        self._lock_manager = lock_manager
        self._reaper = reaper

    # -- layout -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create the job directory with its sub directories, all at once.

        It is built under a hidden temporary name and renamed into place, so a
        server killed half-way never leaves a job directory missing ``working/``.
        """
        os.makedirs(self.staging_directory, exist_ok=True)
        if os.path.lexists(self.path):
            raise JobExists("job %s already exists" % self.job_id)
        tmp = tempfile.mkdtemp(prefix=".setup-%s-" % self.job_id, dir=self.staging_directory)
        try:
            os.chmod(tmp, 0o755)
            for name in CREATED_SUBDIRS:
                os.mkdir(os.path.join(tmp, name))
            try:
                os.rename(tmp, self.path)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise JobExists("job %s already exists" % self.job_id)
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def delete(self) -> None:
        """Remove the job directory: its name is free at once, the files go in the background."""
        discard_tree(self.path, self.job_id, self._reaper)

    def sub_directory(self, name: str) -> str:
        return os.path.join(self.path, name) if name else self.path

    def home_directory(self) -> str:
        """``$HOME`` of Galaxy tools (``_GALAXY_JOB_HOME_DIR``), made by the job script."""
        return self.sub_directory("home")

    def job_file(self, name: str) -> str:
        """A file LWR itself keeps in the job directory (not a client-supplied name)."""
        return os.path.join(self.path, name)

    # -- client file names --------------------------------------------------------------------
    def calculate_path(self, name: str, input_type: str, create_parents: bool = True) -> str:
        """Where a file named ``name`` of ``input_type`` lives; refuses any name leaving the job."""
        if input_type not in TYPE_DIRECTORIES:
            raise UnknownFileType("unknown file type %r; expected one of %s"
                                  % (input_type, ", ".join(sorted(TYPE_DIRECTORIES))))
        name = paths.check_relative_name(name)
        if input_type not in NESTED_TYPES:
            name = name.rsplit("/", 1)[-1]
        directory = self.sub_directory(TYPE_DIRECTORIES[input_type])
        path = paths.safe_join(directory, name)
        if input_type in ("jobdir", "output_jobdir") and name.split("/")[0] in RESERVED_NAMES:
            raise paths.InvalidPath("file name %r is reserved for LWR's own job state" % name)
        if create_parents:
            parent = os.path.dirname(path)
            paths.resolve_inside(parent, self.path)
            os.makedirs(parent, exist_ok=True)
        paths.resolve_inside(path, self.path)
        return path

    def output_path(self, name: str, output_type: str = "output") -> str:
        """Path of a result file to download (``type`` defaults to ``output``).

        Any type that is not an explicit working/metadata/job-dir type means the
        outputs directory, as in 0.2.0 (legacy ``direct``).
        """
        directory_type = output_type if output_type in OUTPUT_PATH_TYPES else "output"
        return self.calculate_path(name, directory_type, create_parents=False)

    # -- job state (lwr.managers.job_state owns every fact and who may write it) ----------------
    def state(self, writer: str, manager: str = "") -> JobState:
        """The job's facts as layer ``writer`` (``proxy``, ``manager``) may read and write them."""
        return JobState(self.path, self.job_id, writer, manager)

    def _metadata_path(self, name: str) -> str:
        return os.path.join(self.path, name)

    # Raw JSON files at the top of the job directory, for tests that lay out a job by hand;
    # LWR's own code goes through state().
    def store_metadata(self, name: str, value) -> None:
        store.write_value(self._metadata_path(name), value)

    def load_metadata(self, name: str, default=None):
        return store.read_value(self._metadata_path(name), default)

    def has_metadata(self, name: str) -> bool:
        return store.exists(self._metadata_path(name))

    def remove_metadata(self, name: str) -> None:
        store.remove(self._metadata_path(name))

    def read_text(self, name: str, default: str = "") -> str:
        """A raw text file of the job directory (stdout, stderr), decoded leniently."""
        try:
            with self._open_inside(name) as handle:
                return handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return default

    def read_stream(self, name: str, limit: int, default=None):
        """A job stream (``name`` relative to the job directory) decoded leniently, at most
        ``limit`` bytes of it: a longer file keeps its head and tail joined by ``\n..\n``.
        ``default`` when the file does not exist."""
        try:
            handle = self._open_inside(name)
        except (FileNotFoundError, NotADirectoryError):
            return default
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= limit:
                data = handle.read(limit)
            else:
                tail_size = (limit - len(_SHRINK_JOIN)) // 2
                head = handle.read(limit - len(_SHRINK_JOIN) - tail_size)
                handle.seek(size - tail_size)
                data = head + _SHRINK_JOIN + handle.read(tail_size)
        return data.decode("utf-8", errors="replace")

    def _open_inside(self, name: str):
        """Open a file of the job for reading; one that is (or is reached through) a link
        leading out of the job directory counts as missing: a job's streams go into status
        responses, and a job must not make the server read another user's files into them."""
        handle = open(self._metadata_path(name), "rb")
        if not paths.opened_inside(handle, self.path):
            handle.close()
            log.warning("job %s: %s leads out of the job directory; not read", self.job_id, name)
            raise FileNotFoundError(name)
        return handle

    # -- listings -----------------------------------------------------------------------------
    def working_directory_contents(self):
        return _directory_files(self.working_directory(), self.path)

    def outputs_directory_contents(self):
        return _directory_files(self.outputs_directory(), self.path)

    def metadata_directory_contents(self):
        return _directory_files(self.metadata_directory(), self.path)

    def tool_files_contents(self):
        """Every staged tool file, links included: all of them must pass authorization."""
        return _directory_files(self.tool_files_directory(), None)

    def job_directory_contents(self):
        """Names at the top of the job directory (files and directories, not recursive), but no
        link leading out of it."""
        real_root = os.path.realpath(self.path)
        try:
            names = [name for name in os.listdir(self.path) if not name.startswith(".")]
        except FileNotFoundError:
            return []
        return sorted(name for name in names if _stays_inside(os.path.join(self.path, name), real_root))

    def lock(self, name: str = ".state"):
        if self._lock_manager is None:
            raise RuntimeError("JobDirectory built without a lock manager")
        return self._lock_manager.get_lock(self._metadata_path(name))


def _directory_files(directory: str, root):
    """Relative paths (local separators) of the files below ``directory`` that stay inside ``root``.

    Nothing is listed when ``directory`` is a symlink or resolves outside ``root`` (a job may
    replace its ``outputs`` by a link to ``/etc``); symlinked sub directories are not entered,
    and a symlinked file is listed only when it resolves inside ``root``.  ``os.fwalk`` opens
    each directory relative to its parent and checks it is the one it examined, so swapping
    a directory for a link while the listing runs does not lead it outside either.  With
    ``root`` None every file and file link below ``directory`` is listed.
    """
    contents = []
    real_root = os.path.realpath(root) if root is not None else None
    if real_root is not None and not paths.is_in_directory(os.path.realpath(directory), real_root):
        return contents
    for current, _dirs, files, _fd in os.fwalk(directory, follow_symlinks=False):
        for name in files:
            path = os.path.join(current, name)
            if real_root is None or _stays_inside(path, real_root):
                contents.append(os.path.relpath(path, directory))
    return sorted(contents)


def _stays_inside(path: str, real_root: str) -> bool:
    return not os.path.islink(path) or paths.is_in_directory(os.path.realpath(path), real_root)
