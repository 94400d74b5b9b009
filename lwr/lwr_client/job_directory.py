"""The layout of a job directory on the server, computed on the client (no checks, no I/O)."""

from lwr.lwr_client import path_type

__all__ = ["RemoteJobDirectory", "JobDirectoryLayout", "TYPE_DIRECTORIES", "NESTED_TYPES"]

#: file ``type`` -> sub directory of the job directory ("" = the job directory itself).
TYPE_DIRECTORIES = {
    path_type.INPUT: "inputs",
    path_type.UNSTRUCTURED: "unstructured",
    path_type.CONFIG: "configs",
    path_type.TOOL: "tool_files",
    path_type.WORKDIR: "working",
    path_type.OUTPUT: "outputs",
    path_type.OUTPUT_WORKDIR: "working",
    path_type.METADATA: "metadata",
    path_type.OUTPUT_METADATA: "metadata",
    path_type.JOBDIR: "",
    path_type.OUTPUT_JOBDIR: "",
}
#: Types whose names may contain sub directories (the others are flattened to a basename).
NESTED_TYPES = ("input", "unstructured", "tool", "output", "output_workdir", "metadata", "output_metadata",
                "jobdir", "output_jobdir")


class JobDirectoryLayout:
    """The named sub directories of a job directory, shared by the server's ``JobDirectory``
    and the client's :class:`RemoteJobDirectory`; a subclass says how to join
    (:meth:`sub_directory`)."""

    def sub_directory(self, name: str) -> str:
        raise NotImplementedError

    def working_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.WORKDIR])

    def inputs_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.INPUT])

    def outputs_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.OUTPUT])

    def configs_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.CONFIG])

    def tool_files_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.TOOL])

    def unstructured_files_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.UNSTRUCTURED])

    def metadata_directory(self) -> str:
        return self.sub_directory(TYPE_DIRECTORIES[path_type.METADATA])


class RemoteJobDirectory(JobDirectoryLayout):
    """``<remote_staging_directory><sep><remote_id>`` and its sub directories, in the server's separator.

    >>> d = RemoteJobDirectory("/staging", "12", "/")
    >>> d.path, d.working_directory()
    ('/staging/12', '/staging/12/working')
    >>> d.calculate_path("idx/a.fa", "unstructured")
    '/staging/12/unstructured/idx/a.fa'
    >>> d.calculate_path("x/c.txt", "config")
    '/staging/12/configs/c.txt'
    >>> RemoteJobDirectory("C:\\\\lwr", "3", "\\\\").calculate_path("a/b", "input")
    'C:\\\\lwr\\\\3\\\\inputs\\\\a\\\\b'
    """

    def __init__(self, remote_staging_directory: str, remote_id: str, remote_sep: str):
        self.remote_staging_directory = remote_staging_directory
        self.remote_id = str(remote_id)
        self.remote_sep = remote_sep
        self._path = self._join(remote_staging_directory, self.remote_id)

    @classmethod
    def from_job_directory(cls, job_directory: str, remote_sep: str) -> "RemoteJobDirectory":
        staging, _, job_id = job_directory.rstrip(remote_sep).rpartition(remote_sep)
        return cls(staging, job_id, remote_sep)

    @property
    def path(self) -> str:
        return self._path

    @property
    def separator(self) -> str:
        return self.remote_sep

    def _join(self, *parts):
        sep = self.remote_sep
        out = parts[0]
        for part in parts[1:]:
            if part:
                out = out.rstrip(sep) + sep + part
        return out

    def sub_directory(self, name: str) -> str:
        return self._join(self._path, name)

    def calculate_path(self, remote_name: str, input_type: str) -> str:
        """Where a file named ``remote_name`` (POSIX relative) of ``input_type`` lands."""
        try:
            directory = self.sub_directory(TYPE_DIRECTORIES[input_type])
        except KeyError:
            raise ValueError("unknown file type %r" % (input_type,))
        if input_type in NESTED_TYPES:
            name = self.remote_sep.join(part for part in remote_name.split("/") if part)
        else:
            name = remote_name.replace("\\", "/").rsplit("/", 1)[-1]
        return self._join(directory, name)
