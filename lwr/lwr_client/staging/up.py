"""Staging a job up to the server: setup, transfers, path rewriting, launch (spec §6.5)."""
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor

from lwr.lwr_client import path_type
from lwr.lwr_client.action_mapper import FileActionMapper, MessageAction
from lwr.lwr_client.exceptions import StagingError
from lwr.lwr_client.job_directory import RemoteJobDirectory
from lwr.lwr_client.staging import COMMAND_VERSION_FILENAME
from lwr.lwr_client.util import PathHelper, directory_files

__all__ = ["submit_job", "FileStager", "JobInputs", "TransferTracker"]

log = logging.getLogger(__name__)

# A file reference in free text ends at whitespace, a quote or a comma.
_REFERENCE_CHARS = "[^\\s\"',]"
_TRAILING_PUNCTUATION = ";:)]}"


def submit_job(client, client_job_description, job_config=None) -> str:
    """Stage the job's files, launch it and return its (possibly server-assigned) job id."""
    stager = FileStager(client, client_job_description, job_config)
    remote_staging = {}
    if stager.transfer_tracker.remote_staging_actions:
        remote_staging["setup"] = stager.transfer_tracker.remote_staging_actions
    remote_staging["action_mapper"] = stager.action_mapper.to_dict()
    remote_staging["client_outputs"] = client_job_description.client_outputs.to_dict()
    client.launch(command_line=stager.get_command_line(),
                  dependencies_description=client_job_description.dependencies_description,
                  env=client_job_description.env, remote_staging=remote_staging,
                  job_config=stager.job_config)
    return stager.job_id


class JobInputs:
    """The command line and config file texts, searched for and rewritten with staged paths.

    >>> inputs = JobInputs("python /t/a.py --x /t/sub/b.txt,/u/c", [])
    >>> sorted(inputs.find_referenced_subfiles("/t"))
    ['/t/a.py', '/t/sub/b.txt']
    >>> inputs.path_referenced("/u/c")
    True
    >>> inputs.rewrite_paths("/t/a.py", "/remote/tool_files/a.py")
    >>> inputs.command_line
    'python /remote/tool_files/a.py --x /t/sub/b.txt,/u/c'
    """

    def __init__(self, command_line: str, config_files):
        self.command_line = command_line
        self.config_files = {}
        for path in config_files:
            try:
                with open(path, "r", encoding="utf-8") as handle:
                    self.config_files[path] = handle.read()
            except OSError as exc:
                raise StagingError("cannot read config file %s: %s" % (path, exc))

    def _texts(self):
        yield self.command_line
        yield from self.config_files.values()

    def find_referenced_subfiles(self, directory) -> list:
        if not directory:
            return []
        pattern = "(%s%s%s+)" % (re.escape(directory.rstrip(os.sep)), re.escape(os.sep), _REFERENCE_CHARS)
        return self.find_pattern_references(re.compile(pattern))

    def find_pattern_references(self, pattern) -> list:
        found = []
        for text in self._texts():
            for match in re.finditer(pattern, text):
                if match.group(0) not in found:
                    found.append(match.group(0))
        return found

    def path_referenced(self, path: str) -> bool:
        return any(path in text for text in self._texts())

    def rewrite_paths(self, local_path: str, remote_path: str) -> None:
        self.command_line = self.command_line.replace(local_path, remote_path)
        for path, text in self.config_files.items():
            self.config_files[path] = text.replace(local_path, remote_path)


class TransferTracker:
    """Stages single files and remembers every ``local path -> server path`` rename.

    Local uploads run on ``client.transfer_threads`` threads; :meth:`wait`
    collects them (and their renames) before the paths are rewritten.
    """

    def __init__(self, client, path_helper, action_mapper, job_inputs, rewrite_paths, job_directory):
        self.client = client
        self.path_helper = path_helper
        self.action_mapper = action_mapper
        self.job_inputs = job_inputs
        self.rewrite_paths = rewrite_paths
        self.job_directory = job_directory
        self.file_renames = {}
        self.remote_staging_actions = []
        threads = getattr(client, "transfer_threads", 1) or 1
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lwr-upload") \
            if threads > 1 else None
        self._pending = []

    def handle_transfer(self, path, type, name=None, contents=None, action=None):
        if contents is not None:
            action = MessageAction(contents, client=self.client, path=path)
        elif action is None:
            action = self.action_mapper.action(path, type)
        force_rename = self.rewrite_paths or type == path_type.TOOL
        if not action.staging_needed:
            if self.rewrite_paths:
                rewrite = action.path_rewrite(self.path_helper)
                if rewrite:
                    self.register_rewrite(path, rewrite, type, force=True)
            return
        if contents is None and not os.path.exists(path):
            raise StagingError("%s file %s does not exist" % (type, path))
        if action.staging_action_local:
            if contents is None and self.executor is not None:
                future = self.executor.submit(self.client.put_file, path, type, name=name,
                                              action_type=action.action_type)
                self._pending.append((future, path, type, force_rename))
                return
            response = self.client.put_file(path, type, name=name, contents=contents,
                                            action_type=action.action_type)
            remote_path = response["path"]
        else:
            remote_name = name or os.path.basename(path)
            self.remote_staging_actions.append({"name": remote_name, "type": type, "action": action.to_dict()})
            remote_path = self.job_directory.calculate_path(remote_name, type)
        if force_rename:
            self.register_rewrite(path, remote_path, type, force=True)

    def wait(self) -> None:
        """Finish every parallel upload; raise the first failure once all have ended."""
        pending, self._pending = self._pending, []
        first_error = None
        for future, path, type, force_rename in pending:
            try:
                response = future.result()
            except Exception as exc:
                first_error = first_error or exc
                continue
            if force_rename:
                self.register_rewrite(path, response["path"], type, force=True)
        if first_error is not None:
            raise first_error

    def shutdown(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    def register_rewrite(self, local_path, remote_path, type, force=False) -> None:
        if not force:
            action = self.action_mapper.action(local_path, type)
            if not action.staging_needed:
                rewrite = action.path_rewrite(self.path_helper)
                if rewrite:
                    self.file_renames[local_path] = rewrite
                return
        self.file_renames[local_path] = remote_path

    def rewrite_input_paths(self) -> None:
        # Longest first, so /x/dataset_1.dat_files is not half-rewritten by /x/dataset_1.dat.
        for local_path in sorted(self.file_renames, key=len, reverse=True):
            self.job_inputs.rewrite_paths(local_path, self.file_renames[local_path])


class FileStager:
    """Runs the steps of spec §6.5 for one :class:`ClientJobDescription` at construction."""

    def __init__(self, client, client_job_description, job_config=None):
        description = client_job_description
        self.client = client
        self.tool = description.tool
        self.input_files = description.input_files
        self.config_files = description.config_files
        self.output_files = description.output_files
        self.working_directory = description.working_directory
        self.version_file = description.version_file
        self.rewrite_paths = description.rewrite_paths
        self.arbitrary_files = dict(description.arbitrary_files)
        self.job_inputs = JobInputs(description.command_line, self.config_files)
        self.action_mapper = FileActionMapper(client)
        self._setup(job_config)
        self.path_helper = PathHelper(self.remote_separator)
        self.transfer_tracker = TransferTracker(client, self.path_helper, self.action_mapper, self.job_inputs,
                                                self.rewrite_paths, self.job_directory)
        try:
            self._stage()
        finally:
            self.transfer_tracker.shutdown()

    def _setup(self, job_config):
        if job_config is None:
            job_config = self.client.setup(getattr(self.tool, "id", None), getattr(self.tool, "version", None))
        self.job_config = job_config
        new_id = job_config.get("job_id")
        if new_id is not None and str(new_id) != str(self.client.job_id):
            log.info("LWR assigned job id %s (asked for %s)", new_id, self.client.job_id)
            self.client.job_id = str(new_id)
        self.job_id = self.client.job_id
        self.remote_working_directory = job_config["working_directory"]
        self.remote_outputs_directory = job_config["outputs_directory"]
        self.remote_configs_directory = job_config.get("configs_directory") or self.remote_working_directory
        system_properties = job_config.get("system_properties") or {}
        self.remote_separator = system_properties.get("separator") or job_config.get("path_separator") or os.sep
        job_directory = job_config.get("job_directory")
        if not job_directory:
            job_directory = self.remote_working_directory.rstrip(self.remote_separator) \
                .rpartition(self.remote_separator)[0]
        self.job_directory = RemoteJobDirectory.from_job_directory(job_directory, self.remote_separator)

    def _stage(self):
        tracker = self.transfer_tracker
        for path in self._referenced_tool_files():
            tracker.handle_transfer(path, path_type.TOOL)
        unstructured_actions = self._referenced_unstructured_files() if self.rewrite_paths else {}
        self._upload_input_files()
        self._upload_working_directory_files()
        for path, name in self.arbitrary_files.items():
            tracker.handle_transfer(path, path_type.UNSTRUCTURED, name=name, action=unstructured_actions.get(path))
        tracker.wait()
        if self.rewrite_paths:
            self._register_output_renames()
        tracker.rewrite_input_paths()
        for config_file, contents in self.job_inputs.config_files.items():
            tracker.handle_transfer(config_file, path_type.CONFIG, contents=contents)

    def _referenced_tool_files(self):
        tool_dir = getattr(self.tool, "tool_dir", None)
        if not tool_dir:
            return []
        found = []
        for reference in self.job_inputs.find_referenced_subfiles(os.path.abspath(tool_dir)):
            while reference and not os.path.isfile(reference) and reference[-1] in _TRAILING_PUNCTUATION:
                reference = reference[:-1]
            if os.path.isfile(reference) and reference not in found:
                found.append(reference)
        return found

    def _referenced_unstructured_files(self) -> dict:
        """Add unstructured references (with their depth siblings) to ``arbitrary_files``."""
        actions = {}
        for mapper in self.action_mapper.unstructured_mappers():
            for reference in self.job_inputs.find_pattern_references(mapper.to_pattern()):
                action = self.action_mapper.action(reference, path_type.UNSTRUCTURED, mapper)
                for path, name in action.unstructured_map(self.path_helper).items():
                    if path not in self.arbitrary_files:
                        self.arbitrary_files[path] = name
                        actions[path] = self.action_mapper.action(path, path_type.UNSTRUCTURED, mapper)
        return actions

    def _stage_input(self, path) -> bool:
        return (not self.rewrite_paths) or self.job_inputs.path_referenced(path)

    def _upload_input_files(self):
        for input_file in self.input_files:
            if self._stage_input(input_file):
                if os.path.exists(input_file):
                    self.transfer_tracker.handle_transfer(input_file, path_type.INPUT)
                else:
                    log.debug("input %s is missing or empty; not staged", input_file)
            base = input_file[:-len(".dat")] if input_file.endswith(".dat") else input_file
            files_path = "%s_files" % base
            if os.path.isdir(files_path) and self._stage_input(files_path):
                files_name = os.path.basename(files_path)
                relatives = directory_files(files_path)
                for relative in relatives:
                    self.transfer_tracker.handle_transfer(
                        os.path.join(files_path, relative), path_type.INPUT,
                        name="%s/%s" % (files_name, relative.replace(os.sep, "/")))
                if relatives and self.rewrite_paths:
                    # Tools often pass the directory itself ($input.extra_files_path); its files'
                    # longer paths are still rewritten first.
                    self.transfer_tracker.register_rewrite(
                        files_path, self.job_directory.calculate_path(files_name, path_type.INPUT),
                        path_type.INPUT)

    def _upload_working_directory_files(self):
        if not self.working_directory or not os.path.isdir(self.working_directory):
            return
        for name in sorted(os.listdir(self.working_directory)):
            path = os.path.join(self.working_directory, name)
            if os.path.isfile(path):
                self.transfer_tracker.handle_transfer(path, path_type.WORKDIR)

    def _register_output_renames(self):
        tracker = self.transfer_tracker
        join = self.path_helper.remote_join
        for output in self.output_files:
            name = os.path.basename(output)
            tracker.register_rewrite(output, join(self.remote_outputs_directory, name), path_type.OUTPUT)
        if self.working_directory:
            for output in self.output_files:
                name = os.path.basename(output)
                tracker.register_rewrite(os.path.join(self.working_directory, name),
                                         join(self.remote_working_directory, name), path_type.OUTPUT_WORKDIR)
        for config_file in self.config_files:
            # The rewritten config is always uploaded (a message action), so always point at it.
            tracker.register_rewrite(config_file, join(self.remote_configs_directory, os.path.basename(config_file)),
                                     path_type.CONFIG, force=True)
        if self.version_file:
            tracker.register_rewrite(self.version_file, join(self.remote_outputs_directory,
                                                             COMMAND_VERSION_FILENAME), path_type.OUTPUT)

    def get_command_line(self) -> str:
        return self.job_inputs.command_line
