"""``rewrite_parameters``: Galaxy renders the command with the LWR server's paths directly.

Imports Galaxy; only :mod:`lwr.galaxy.runner` imports this module.
"""
import os

from galaxy.job_execution.compute_environment import ComputeEnvironment, dataset_path_to_extra_path

from lwr.lwr_client import PathMapper

__all__ = ["LwrComputeEnvironment"]


class LwrComputeEnvironment(ComputeEnvironment):
    """Where a Galaxy job's files live on the LWR server, computed from the setup response.

    Paths are mapped with :class:`lwr.lwr_client.PathMapper`, so a path whose
    file action does not stage it (``none``, ``rewrite``) keeps (or rewrites)
    its path instead of moving into the job directory.
    """

    def __init__(self, client, job_wrapper, remote_job_config):
        self.job_wrapper = job_wrapper
        self.local = job_wrapper.default_compute_environment()
        # job_wrapper.prepare() may expunge the job, so compute everything now.
        self.path_mapper = PathMapper(client, remote_job_config, self.local.working_directory())
        self._working_directory = remote_job_config["working_directory"]
        self._config_directory = remote_job_config.get("configs_directory") or self._working_directory
        system_properties = remote_job_config.get("system_properties") or {}
        self._sep = system_properties.get("separator") or remote_job_config.get("path_separator") or os.sep
        version_path = self.local.version_path()
        self._version_path = self.path_mapper.remote_version_path_rewrite(version_path) or version_path
        #: local path -> name in the job's ``unstructured`` directory, for ``ClientJobDescription``.
        self.arbitrary_files = {}
        self._unstructured = {}

    # -- datasets ------------------------------------------------------------------------------
    def output_names(self):
        return self.job_wrapper.job_io.get_output_basenames()

    def input_path_rewrite(self, dataset):
        local_path = self.local.input_path_rewrite(dataset) or dataset.get_file_name()
        return self.path_mapper.remote_input_path_rewrite(local_path)

    def output_path_rewrite(self, dataset):
        local_path = self.local.output_path_rewrite(dataset) or dataset.get_file_name()
        return self.path_mapper.remote_output_path_rewrite(local_path)

    def input_extra_files_rewrite(self, dataset):
        remote = self.input_path_rewrite(dataset)
        return dataset_path_to_extra_path(remote) if remote else None

    def output_extra_files_rewrite(self, dataset):
        remote = self.output_path_rewrite(dataset)
        return dataset_path_to_extra_path(remote) if remote else None

    def input_metadata_rewrite(self, dataset, metadata_value):
        # Metadata files (indexes, ...) are not staged by the LWR client: keep their paths.
        return None

    def unstructured_path_rewrite(self, path):
        path = str(path)
        if path in self._unstructured:
            return self._unstructured[path]
        remote_path, actions = self.path_mapper.check_for_arbitrary_rewrite(path)
        for action in actions:
            self.arbitrary_files.update(action.unstructured_map(self.path_mapper.path_helper))
        if remote_path:
            self._unstructured[path] = remote_path
        return remote_path

    # -- directories ---------------------------------------------------------------------------
    def working_directory(self):
        return self._working_directory

    def config_directory(self):
        return self._config_directory

    def env_config_directory(self):
        return self._config_directory

    def new_file_path(self):
        return self._working_directory

    def sep(self):
        return self._sep

    def version_path(self):
        return self._version_path

    def tool_directory(self):
        # The local directory on purpose: the LWR client finds the tool files the command
        # references under it, stages them and rewrites them into the job's tool_files.
        return self.local.tool_directory()

    def home_directory(self):
        return self._target_directory(self.job_wrapper.home_target)

    def tmp_directory(self):
        return self._target_directory(self.job_wrapper.tmp_target)

    def _target_directory(self, target):
        if target in (None, "job_tmp_if_explicit"):
            return None
        if target == "job_tmp":
            return "$_GALAXY_JOB_TMP_DIR"
        if target == "job_home":
            return "$_GALAXY_JOB_HOME_DIR"
        if target == "pwd":
            return self._working_directory
        # shared_home: the LWR server has no notion of it.
        return None

    def galaxy_url(self):
        return self.job_wrapper.get_destination_configuration("galaxy_infrastructure_url")

    def get_file_sources_dict(self):
        return self.job_wrapper.job_io.file_sources_dict
