"""Collecting a finished job's outputs and cleaning up (spec §6.6).

The :class:`ResultsCollector` decides *what* comes back; an output collector
decides *how*: :class:`ClientOutputCollector` fetches locally-staged files
(transfer / copy), the server's collector pushes remotely-staged ones.
"""
import fnmatch
import logging
import os

from lwr.lwr_client import path_type
from lwr.lwr_client.action_mapper import FileActionMapper
from lwr.lwr_client.staging import COMMAND_VERSION_FILENAME
from lwr.lwr_client.staging.collection import LEGACY_DYNAMIC_COLLECTION_PATTERN, dynamic_file_source_references

__all__ = ["finish_job", "ResultsCollector", "ClientOutputCollector", "COPY_FROM_WORKING_DIRECTORY_PATTERN"]

log = logging.getLogger(__name__)

#: Working-directory files Galaxy reads after a job when the client names no patterns.
COPY_FROM_WORKING_DIRECTORY_PATTERN = LEGACY_DYNAMIC_COLLECTION_PATTERN


def finish_job(client, cleanup_job, job_completed_normally, client_outputs, lwr_outputs) -> list:
    """Collect outputs (if the job completed normally), clean up per policy; return the failures."""
    failures = []
    if job_completed_normally:
        collector = ResultsCollector(ClientOutputCollector(client), FileActionMapper(client), client_outputs,
                                     lwr_outputs)
        failures = collector.collect()
    if (not failures and cleanup_job != "never") or cleanup_job == "always":
        try:
            client.clean()
        except Exception:
            log.warning("failed to clean up LWR job %s", getattr(client, "job_id", "?"), exc_info=True)
    return failures


class ClientOutputCollector:
    """Brings back outputs whose actions the client performs (transfer, copy)."""

    def __init__(self, client):
        self.client = client

    def collect_output(self, results_collector, output_type, action, name):
        if not action.staging_action_local:
            return False
        self.client.fetch_output(path=action.path, name=name,
                                 working_directory=results_collector.client_outputs.working_directory,
                                 action_type=action.action_type, output_type=output_type)
        return True


class ResultsCollector:
    """Walks the expected outputs against what the server reports; failures are collected, not raised.

    Besides the declared outputs it collects the extra files the client asks for (see
    :mod:`lwr.lwr_client.staging.collection`) from the working directory, and from ``metadata/``
    and the job directory when the client names local directories for them.
    """

    def __init__(self, output_collector, action_mapper, client_outputs, lwr_outputs):
        self.output_collector = output_collector
        self.action_mapper = action_mapper
        self.client_outputs = client_outputs
        self.lwr_outputs = lwr_outputs
        self.output_files = list(client_outputs.output_files)
        self.working_directory_contents = list(lwr_outputs.working_directory_contents or [])
        self.collected = set()  # (output type, server name) already collected
        self.exceptions = []
        self.references = dynamic_file_source_references(lwr_outputs.realized_dynamic_file_sources)

    def collect(self) -> list:
        self._collect_working_directory_outputs()
        self._collect_outputs()
        self._collect_version_file()
        self._collect_directory_files(self.client_outputs.working_directory, self.working_directory_contents,
                                      path_type.OUTPUT_WORKDIR)
        self._collect_directory_files(self.client_outputs.metadata_directory,
                                      self.lwr_outputs.metadata_directory_contents, path_type.OUTPUT_METADATA)
        self._collect_directory_files(self.client_outputs.job_directory,
                                      self.lwr_outputs.job_directory_contents, path_type.OUTPUT_JOBDIR)
        return self.exceptions

    def _collect_working_directory_outputs(self):
        working_directory = self.client_outputs.working_directory
        helper = self.lwr_outputs.path_helper
        for source, destination in self.client_outputs.work_dir_outputs:
            name = os.path.relpath(source, working_directory).replace(os.sep, "/")
            below = [content for content in self.working_directory_contents
                     if content.replace(helper.separator, "/").startswith(name + "/")]
            if below:  # a directory output: every file under it
                for content in below:
                    relative = content.replace(helper.separator, "/")[len(name) + 1:]
                    self._attempt_collect(path_type.OUTPUT_WORKDIR,
                                          os.path.join(destination, *relative.split("/")), content)
            else:
                remote = helper.remote_name(name)
                if remote not in self.working_directory_contents:
                    globbed = fnmatch.filter(self.working_directory_contents, remote)
                    if globbed:
                        remote = globbed[0]
                self._attempt_collect(path_type.OUTPUT_WORKDIR, destination, remote)
            try:
                self.output_files.remove(destination)
            except ValueError:
                self.exceptions.append(ValueError("working directory output %s is not one of the job's "
                                                  "outputs %s" % (destination, self.output_files)))

    def _collect_outputs(self):
        for output_file in self.output_files:
            if self.lwr_outputs.has_output_file(output_file):
                self._attempt_collect(path_type.OUTPUT, output_file)
            for local_path, name in self.lwr_outputs.output_extras(output_file).items():
                self._attempt_collect(path_type.OUTPUT, local_path, name)

    def _collect_version_file(self):
        version_file = self.client_outputs.version_file
        if version_file and COMMAND_VERSION_FILENAME in self.lwr_outputs.output_directory_contents:
            self._attempt_collect(path_type.OUTPUT, version_file, COMMAND_VERSION_FILENAME)

    def _collect_directory_files(self, directory, contents, output_type):
        """Extra files wanted by pattern, or named by the job's galaxy.json, into ``directory``."""
        if not directory:
            return
        helper = self.lwr_outputs.path_helper
        for name in contents:
            if (output_type, name) in self.collected or not self._wanted(name.replace(helper.separator, "/")):
                continue
            self._attempt_collect(output_type, os.path.join(directory, helper.local_name(name)), name)

    def _wanted(self, name) -> bool:
        return (self.client_outputs.dynamic_match(name) or name in self.references["filename"]
                or any(name.startswith(prefix) for prefix in self.references["extra_files"]))

    def _attempt_collect(self, output_type, path, name=None) -> bool:
        try:
            action = self.action_mapper.action(path, output_type)
            collected = bool(self.output_collector.collect_output(self, output_type, action, name))
        except Exception as exc:
            if output_type == path_type.OUTPUT_WORKDIR and isinstance(exc, FileNotFoundError):
                # A from_work_dir file the tool did not write: Galaxy shows an empty dataset.
                log.warning("collecting %s %s: %s", output_type, path, exc)
                return False
            log.warning("collecting %s %s failed: %s", output_type, path, exc)
            self.exceptions.append(exc)
            return False
        if collected and name is not None:
            self.collected.add((output_type, name))
        return collected

