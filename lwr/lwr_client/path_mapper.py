"""Galaxy-side path rewriting: where a local dataset will live on the LWR server."""
import os

from lwr.lwr_client import path_type
from lwr.lwr_client.action_mapper import FileActionMapper
from lwr.lwr_client.staging import COMMAND_VERSION_FILENAME
from lwr.lwr_client.util import PathHelper, in_directory

__all__ = ["PathMapper"]


class PathMapper:
    """Maps Galaxy's local paths to server paths using the job config from setup.

    Non-staging actions give their ``path_rewrite()`` (None for ``none``: keep the path).
    """

    def __init__(self, client, remote_job_config, local_working_directory, action_mapper=None):
        self.local_working_directory = local_working_directory
        if action_mapper is None:
            action_mapper = FileActionMapper(client)
        self.action_mapper = action_mapper
        self.input_directory = remote_job_config["inputs_directory"]
        self.output_directory = remote_job_config["outputs_directory"]
        self.working_directory = remote_job_config["working_directory"]
        self.unstructured_files_directory = remote_job_config.get("unstructured_files_directory")
        self.config_directory = remote_job_config.get("configs_directory")
        separator = (remote_job_config.get("system_properties") or {}).get("separator") \
            or remote_job_config.get("path_separator") or os.sep
        self.path_helper = PathHelper(separator)

    def remote_output_path_rewrite(self, local_path):
        output_type = path_type.OUTPUT
        if self.local_working_directory and in_directory(str(local_path), self.local_working_directory):
            output_type = path_type.OUTPUT_WORKDIR
        return self._remote_path_rewrite(local_path, output_type)

    def remote_input_path_rewrite(self, local_path):
        return self._remote_path_rewrite(local_path, path_type.INPUT)

    def remote_version_path_rewrite(self, local_path):
        return self._remote_path_rewrite(local_path, path_type.OUTPUT, name=COMMAND_VERSION_FILENAME)

    def check_for_arbitrary_rewrite(self, local_path):
        """``(remote path or None, [actions to stage])`` for a file outside the known datasets."""
        path = str(local_path)
        action = self.action_mapper.action(path, path_type.UNSTRUCTURED)
        if not action.staging_needed:
            return action.path_rewrite(self.path_helper), []
        name = action.unstructured_map(self.path_helper)[path]
        remote_path = self.path_helper.remote_join(self.unstructured_files_directory,
                                                   self.path_helper.remote_name(name.replace("/", os.sep)))
        return remote_path, [action]

    def _remote_path_rewrite(self, dataset_path, dataset_path_type, name=None):
        path = str(dataset_path)
        action = self.action_mapper.action(path, dataset_path_type)
        if not action.staging_needed:
            return action.path_rewrite(self.path_helper)
        if name is None:
            name = os.path.basename(path)
        return self.path_helper.remote_join(self._remote_directory(dataset_path_type), name)

    def _remote_directory(self, dataset_path_type):
        if dataset_path_type == path_type.OUTPUT:
            return self.output_directory
        if dataset_path_type == path_type.OUTPUT_WORKDIR:
            return self.working_directory
        if dataset_path_type == path_type.INPUT:
            return self.input_directory
        raise ValueError("unknown dataset path type %r" % (dataset_path_type,))
