"""The layout of a job directory on the server, computed on the client (no checks, no I/O)."""

__all__ = ["RemoteJobDirectory", "TYPE_DIRECTORIES"]

#: file ``type`` -> sub directory of the job directory ("" = the job directory itself).
TYPE_DIRECTORIES = {
    "input": "inputs",
    "unstructured": "unstructured",
    "config": "configs",
    "tool": "tool_files",
    "workdir": "working",
    "output": "outputs",
    "output_workdir": "working",
    "metadata": "metadata",
    "output_metadata": "metadata",
    "jobdir": "",
    "output_jobdir": "",
}
#: Types whose names may contain sub directories (the others are flattened to a basename).
NESTED_TYPES = ("input", "unstructured", "tool", "output", "output_workdir", "metadata", "output_metadata",
                "jobdir", "output_jobdir")


class RemoteJobDirectory:
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

    def _sub_dir(self, name):
        return self._join(self._path, name)

    def working_directory(self):
        return self._sub_dir("working")

    def inputs_directory(self):
        return self._sub_dir("inputs")

    def outputs_directory(self):
        return self._sub_dir("outputs")

    def configs_directory(self):
        return self._sub_dir("configs")

    def tool_files_directory(self):
        return self._sub_dir("tool_files")

    def unstructured_files_directory(self):
        return self._sub_dir("unstructured")

    def metadata_directory(self):
        return self._sub_dir("metadata")

    def calculate_path(self, remote_name: str, input_type: str) -> str:
        """Where a file named ``remote_name`` (POSIX relative) of ``input_type`` lands."""
        try:
            directory = self._sub_dir(TYPE_DIRECTORIES[input_type])
        except KeyError:
            raise ValueError("unknown file type %r" % (input_type,))
        if input_type in NESTED_TYPES:
            name = self.remote_sep.join(part for part in remote_name.split("/") if part)
        else:
            name = remote_name.replace("\\", "/").rsplit("/", 1)[-1]
        return self._join(directory, name)
