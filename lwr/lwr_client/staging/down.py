"""Collecting a finished job's outputs and cleaning up (spec §6.6).

The :class:`ResultsCollector` decides *what* comes back; an output collector
decides *how*: :class:`ClientOutputCollector` fetches locally-staged files
(transfer / copy), the server's collector pushes remotely-staged ones.
"""
import logging
import os
import re

from lwr.lwr_client import path_type
from lwr.lwr_client.action_mapper import FileActionMapper
from lwr.lwr_client.staging import COMMAND_VERSION_FILENAME

__all__ = ["finish_job", "ResultsCollector", "ClientOutputCollector", "COPY_FROM_WORKING_DIRECTORY_PATTERN"]

log = logging.getLogger(__name__)

#: Working-directory files Galaxy reads after a job (metadata, primary datasets, job metrics).
COPY_FROM_WORKING_DIRECTORY_PATTERN = re.compile(
    r"(primary_.*|galaxy.json|metadata_.*|dataset_\d+\.dat|__instrument_.*|dataset_\d+_files.+)\Z")


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
    """Walks the expected outputs against what the server reports; failures are collected, not raised."""

    def __init__(self, output_collector, action_mapper, client_outputs, lwr_outputs):
        self.output_collector = output_collector
        self.action_mapper = action_mapper
        self.client_outputs = client_outputs
        self.lwr_outputs = lwr_outputs
        self.output_files = list(client_outputs.output_files)
        self.working_directory_contents = list(lwr_outputs.working_directory_contents or [])
        self.collected_working_directory_files = []
        self.exceptions = []

    def collect(self) -> list:
        self._collect_working_directory_outputs()
        self._collect_outputs()
        self._collect_version_file()
        self._collect_other_working_directory_files()
        return self.exceptions

    def _collect_working_directory_outputs(self):
        working_directory = self.client_outputs.working_directory
        for source, destination in self.client_outputs.work_dir_outputs:
            name = self.lwr_outputs.path_helper.remote_name(os.path.relpath(source, working_directory))
            if self._attempt_collect(path_type.OUTPUT_WORKDIR, destination, name):
                self.collected_working_directory_files.append(name)
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

    def _collect_other_working_directory_files(self):
        working_directory = self.client_outputs.working_directory
        for name in self.working_directory_contents:
            if name in self.collected_working_directory_files:
                continue
            if COPY_FROM_WORKING_DIRECTORY_PATTERN.match(name):
                local_path = os.path.join(working_directory, self.lwr_outputs.path_helper.local_name(name))
                if self._attempt_collect(path_type.OUTPUT_WORKDIR, local_path, name):
                    self.collected_working_directory_files.append(name)

    def _attempt_collect(self, output_type, path, name=None) -> bool:
        try:
            action = self.action_mapper.action(path, output_type)
            return bool(self.output_collector.collect_output(self, output_type, action, name))
        except Exception as exc:
            log.warning("collecting %s %s failed: %s", output_type, path, exc)
            self.exceptions.append(exc)
            return False
