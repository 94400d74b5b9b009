"""What a job stages: the job description (up) and the server's outputs listing (down)."""
import os

from lwr.lwr_client.staging.collection import OutputMatcher
from lwr.lwr_client.util import PathHelper

__all__ = ["ClientJobDescription", "ClientOutputs", "LwrOutputs", "COMMAND_VERSION_FILENAME",
           "CLIENT_INPUT_PATH_TYPES"]

COMMAND_VERSION_FILENAME = "COMMAND_VERSION"
CLIENT_INPUT_PATH_TYPES = ("input", "config", "tool", "workdir", "unstructured")


class ClientJobDescription:
    """Everything ``submit_job`` needs about one job.

    ``tool`` has ``id``, ``version`` and ``tool_dir``; ``env`` is a list of
    ``{"name", "value"[, "raw"]}``; ``arbitrary_files`` maps extra local files
    to names in the job's ``unstructured`` directory.
    """

    def __init__(self, tool, command_line, config_files, input_files, client_outputs, working_directory,
                 dependencies_description=None, env=(), arbitrary_files=None, rewrite_paths=True):
        self.tool = tool
        self.command_line = command_line
        self.config_files = list(config_files or [])
        self.input_files = list(input_files or [])
        self.client_outputs = client_outputs
        self.working_directory = working_directory
        self.dependencies_description = dependencies_description
        self.env = list(env or [])
        self.arbitrary_files = dict(arbitrary_files or {})
        self.rewrite_paths = rewrite_paths

    @property
    def output_files(self):
        return self.client_outputs.output_files

    @property
    def version_file(self):
        return self.client_outputs.version_file


class ClientOutputs:
    """Where Galaxy wants the job's outputs (all local paths).

    Current Pulsar clients add ``metadata_directory`` (collect ``metadata/`` there),
    ``job_directory``, ``dynamic_outputs`` (regexes of extra files to collect),
    ``dynamic_file_sources`` (galaxy.json files whose named files are collected) and
    ``dataset_collector_descriptions`` (Galaxy discovery patterns).
    """

    _OPTIONAL = ("metadata_directory", "job_directory", "dynamic_outputs", "dynamic_file_sources",
                 "dataset_collector_descriptions")

    def __init__(self, working_directory, output_files, work_dir_outputs=None, version_file=None,
                 metadata_directory=None, job_directory=None, dynamic_outputs=None,
                 dynamic_file_sources=None, dataset_collector_descriptions=None):
        self.working_directory = working_directory
        self.output_files = list(output_files or [])
        self.work_dir_outputs = [tuple(pair) for pair in (work_dir_outputs or [])]
        self.version_file = version_file
        self.metadata_directory = metadata_directory
        self.job_directory = job_directory
        self.dynamic_outputs = list(dynamic_outputs) if dynamic_outputs else None
        self.dynamic_file_sources = dynamic_file_sources
        self.dataset_collector_descriptions = list(dataset_collector_descriptions or [])
        self.matcher = OutputMatcher(self.dynamic_outputs, self.dataset_collector_descriptions)

    def dynamic_match(self, name: str) -> bool:
        """Whether an extra file the job left (``name`` relative to its directory) is wanted."""
        return self.matcher.matches(name)

    def to_dict(self) -> dict:
        config = {
            "working_directory": self.working_directory,
            "work_dir_outputs": [list(pair) for pair in self.work_dir_outputs],
            "output_files": list(self.output_files),
            "version_file": self.version_file,
        }
        for name in self._OPTIONAL:  # only when set: the 0.2.0 shape stays as it was
            if getattr(self, name):
                config[name] = getattr(self, name)
        return config

    @staticmethod
    def from_dict(config_dict) -> "ClientOutputs":
        return ClientOutputs(
            working_directory=config_dict.get("working_directory"),
            output_files=config_dict.get("output_files", []),
            work_dir_outputs=config_dict.get("work_dir_outputs", []),
            version_file=config_dict.get("version_file"),
            **{name: config_dict.get(name) for name in ClientOutputs._OPTIONAL},
        )

    def __eq__(self, other):
        return isinstance(other, ClientOutputs) and self.to_dict() == other.to_dict()


class LwrOutputs:
    """What the finished job left on the server (names in the server's separator)."""

    def __init__(self, working_directory_contents, output_directory_contents, remote_separator=os.sep,
                 metadata_directory_contents=None, job_directory_contents=None,
                 realized_dynamic_file_sources=None):
        self.working_directory_contents = list(working_directory_contents or [])
        self.output_directory_contents = list(output_directory_contents or [])
        self.metadata_directory_contents = list(metadata_directory_contents or [])
        self.job_directory_contents = list(job_directory_contents or [])
        self.realized_dynamic_file_sources = list(realized_dynamic_file_sources or [])
        self.path_helper = PathHelper(remote_separator)

    @staticmethod
    def from_status_response(complete_response: dict) -> "LwrOutputs":
        system_properties = complete_response.get("system_properties") or {}
        return LwrOutputs(complete_response.get("working_directory_contents") or [],
                          complete_response.get("outputs_directory_contents") or [],
                          system_properties.get("separator", os.sep),
                          complete_response.get("metadata_directory_contents"),
                          complete_response.get("job_directory_contents"),
                          complete_response.get("realized_dynamic_file_sources"))

    def has_output_file(self, output_file: str) -> bool:
        return os.path.basename(output_file) in self.output_directory_contents

    def output_extras(self, output_file: str) -> dict:
        """``{local path: server name}`` of the files in ``<output minus .dat>_files/`` on the server."""
        base = os.path.basename(output_file)
        if base.endswith(".dat"):
            base = base[:-len(".dat")]
        prefix = "%s_files%s" % (base, self.path_helper.separator)
        directory = os.path.dirname(output_file)
        return {os.path.join(directory, self.path_helper.local_name(name)): name
                for name in self.output_directory_contents if name.startswith(prefix)}
