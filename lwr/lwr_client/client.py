"""Job clients: one object per Galaxy job, speaking to one LWR destination."""
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from lwr.lwr_client import setup_handler
from lwr.lwr_client.destination import submit_params
from lwr.lwr_client.exceptions import OutputNotFoundException, StagingError, TransportError
from lwr.lwr_client.job_directory import RemoteJobDirectory
from lwr.lwr_client.path_type import OUTPUT_PATH_TYPES
from lwr.lwr_client.util import TransferEventManager, atomic_copy

__all__ = ["BaseJobClient", "JobClient", "InputCachingJobClient", "ClientCacher", "DEFAULT_TRANSFER_THREADS"]

log = logging.getLogger(__name__)

DEFAULT_TRANSFER_THREADS = 2


class BaseJobClient:
    """Destination parameters every client reads (staging policy, local setup, environment)."""

    def __init__(self, destination_params, job_id, transfer_threads=DEFAULT_TRANSFER_THREADS):
        destination_params = dict(destination_params or {})
        self.destination_params = destination_params
        self.job_id = str(job_id) if job_id is not None else None
        self.default_file_action = destination_params.get("default_file_action") or "transfer"
        self.action_config_path = destination_params.get("file_action_config")
        self.files_endpoint = destination_params.get("files_endpoint")
        self.jobs_directory = destination_params.get("jobs_directory")
        self.env = destination_params.get("env", [])
        self.transfer_threads = max(1, int(transfer_threads or 1))
        self.setup_handler = setup_handler.build(self, destination_params)

    @property
    def job_directory(self):
        """The server's job directory as computed locally (only with ``jobs_directory``)."""
        if not self.jobs_directory:
            return None
        remote_sep = self.destination_params.get("remote_sep") or os.sep
        return RemoteJobDirectory(self.jobs_directory, self.job_id, remote_sep)

    def setup(self, tool_id=None, tool_version=None) -> dict:
        """The job's layout on the server (``job_id`` may come back reassigned)."""
        return self.setup_handler.setup(tool_id=tool_id, tool_version=tool_version)

    def _launch_params(self, command_line, dependencies_description, env, remote_staging, job_config):
        params = {"command_line": command_line, "job_id": self.job_id}
        submit = submit_params(self.destination_params)
        if submit:
            params["params"] = json.dumps(submit)
        if dependencies_description:
            if hasattr(dependencies_description, "to_dict"):
                dependencies_description = dependencies_description.to_dict()
            params["dependencies_description"] = json.dumps(dependencies_description)
        if env:
            params["env"] = json.dumps(env)
        if remote_staging:
            params["remote_staging"] = json.dumps(remote_staging)
        if self.setup_handler.local:
            job_config = job_config or {}
            params["setup_params"] = json.dumps({"job_id": self.job_id,
                                                 "tool_id": job_config.get("tool_id"),
                                                 "tool_version": job_config.get("tool_version")})
        return params


class JobClient(BaseJobClient):
    """Talks to the LWR routes through ``job_manager_interface`` (HTTP or in process)."""

    def __init__(self, destination_params, job_id, job_manager_interface,
                 transfer_threads=DEFAULT_TRANSFER_THREADS, **kwds):
        super().__init__(destination_params, job_id, transfer_threads)
        self.job_manager_interface = job_manager_interface

    def _raw_execute(self, command, args=None, data=None, input_path=None, output_path=None):
        return self.job_manager_interface.execute(command, args or {}, data, input_path, output_path)

    def _json(self, command, args=None, data=None, input_path=None):
        return json.loads(self._raw_execute(command, args, data, input_path))

    # -- job lifecycle -------------------------------------------------------------------------
    def remote_setup(self, **setup_args) -> dict:
        args = {"job_id": self.job_id}
        args.update({key: value for key, value in setup_args.items() if value is not None})
        return self._json("setup", args)

    def launch(self, command_line, dependencies_description=None, env=(), remote_staging=(),
               job_config=None):
        """Submit the (rewritten) command; only non-empty optional parameters are sent."""
        params = self._launch_params(command_line, dependencies_description, list(env or []),
                                     remote_staging, job_config)
        try:
            return self._raw_execute("submit", params)
        except TransportError as exc:
            if exc.status == 409 and exc.retried:
                # the first attempt reached the server before its connection failed: the job is
                # submitted once, which is what was asked
                log.info("job %s: submit retried after a failed attempt; the server already had it",
                         self.job_id)
                return "OK"
            raise

    def full_status(self) -> dict:
        return self._json("status", {"job_id": self.job_id})

    raw_check_complete = full_status

    def get_status(self) -> str:
        return self.full_status()["status"]

    def kill(self):
        return self._raw_execute("cancel", {"job_id": self.job_id})

    def clean(self):
        return self._raw_execute("clean", {"job_id": self.job_id})

    # -- files ---------------------------------------------------------------------------------
    def put_file(self, path, input_type, name=None, contents=None, action_type="transfer") -> dict:
        """Stage ``path`` (or ``contents``) as ``input_type``; returns ``{"path": <server path>}``.

        ``copy`` asks the server where the file goes and copies it there on the
        shared file system; everything else is an HTTP upload.
        """
        if not name:
            name = os.path.basename(path)
        args = {"job_id": self.job_id, "name": name, "type": input_type}
        if contents is None and action_type == "copy":
            response = self._json("path", args)
            atomic_copy(path, response["path"])
            return response
        return self._upload_file(args, contents, path)

    def _upload_file(self, args, contents, input_path) -> dict:
        if contents is not None:
            return self._json("upload_file", args, data=contents)
        return self._json("upload_file", args, input_path=input_path)

    def fetch_output(self, path, name=None, working_directory=None, action_type="transfer",
                     output_type="output"):
        """Bring the job's ``output_type`` file ``name`` back to ``path`` (transfer or copy)."""
        if output_type not in OUTPUT_PATH_TYPES:
            raise ValueError("unknown output_type %r; expected one of %s" % (output_type, ", ".join(OUTPUT_PATH_TYPES)))
        if not name:
            name = os.path.basename(path)
        if action_type == "transfer":
            self._download(name, output_type, path)
        elif action_type == "copy":
            self._copy_output(name, output_type, path)
        elif output_type == "output_workdir":
            raise ValueError("working directory output %r needs a transfer or copy action, not %r"
                             % (name, action_type))

    def _download(self, name, output_type, path):
        args = {"job_id": self.job_id, "name": name, "type": output_type}
        try:
            self._raw_execute("download_output", args, output_path=path)
        except TransportError as exc:
            if exc.status == 404:
                raise OutputNotFoundException(
                    "LWR job %s has no %s file %r (server said: %s)"
                    % (self.job_id, output_type, name, exc.server_message or exc), name=name, path=path)
            raise

    def _copy_output(self, name, output_type, path):
        try:
            remote = self._json("path", {"job_id": self.job_id, "name": name, "type": output_type})["path"]
        except TransportError as exc:
            if exc.status == 404:
                raise OutputNotFoundException("LWR job %s has no %s file %r (server said: %s)"
                                              % (self.job_id, output_type, name, exc.server_message),
                                              name=name, path=path)
            raise
        try:
            atomic_copy(remote, path)
        except FileNotFoundError:
            raise OutputNotFoundException("LWR job %s has no %s file %r (%s does not exist)"
                                          % (self.job_id, output_type, name, remote), name=name, path=path)


class ClientCacher:
    """Background ``cache_insert`` uploads shared by the clients of one manager."""

    def __init__(self, transfer_threads=DEFAULT_TRANSFER_THREADS):
        self.executor = ThreadPoolExecutor(max_workers=max(1, int(transfer_threads)),
                                           thread_name_prefix="lwr-cache")
        self.events = TransferEventManager()

    def acquire_event(self, path, force_clear=False):
        return self.events.acquire_event(path, force_clear)

    def queue_transfer(self, client, path):
        event = self.acquire_event(path, force_clear=True)

        def transfer():
            try:
                client.cache_insert(path)
            except BaseException as exc:
                event.error = exc
            finally:
                event.event.set()

        self.executor.submit(transfer)
        return event

    def shutdown(self):
        self.executor.shutdown(wait=True)


class InputCachingJobClient(JobClient):
    """Uploads inputs through the server's file cache (``/cache``) so each file crosses the wire once."""

    #: Longest wait on the transfer event between two ``file_available`` checks.
    max_wait = 30.0

    def __init__(self, destination_params, job_id, job_manager_interface, client_cacher=None,
                 transfer_threads=DEFAULT_TRANSFER_THREADS, **kwds):
        super().__init__(destination_params, job_id, job_manager_interface, transfer_threads)
        self.client_cacher = client_cacher or ClientCacher(transfer_threads)

    def _upload_file(self, args, contents, input_path):
        if contents is not None:
            return super()._upload_file(args, contents, input_path)
        path = os.path.abspath(input_path)
        queued = None
        if self.cache_required(path):
            queued = self.client_cacher.queue_transfer(self, path)
        event = queued or self.client_cacher.acquire_event(path)
        interval = 0.05
        while True:
            if queued is not None and queued.error is not None:
                raise StagingError("caching %s on the LWR server failed: %s" % (path, event.error))
            available = self.file_available(path)
            if available.get("ready"):
                cached_args = dict(args, cache_token=available["token"])
                return self._json("upload_file", cached_args, data=b"")
            if event.event.is_set():
                time.sleep(interval)  # another client (or process) is caching it
            else:
                event.event.wait(interval)
            interval = min(interval * 2, 2.0, self.max_wait)

    def cache_required(self, path) -> bool:
        return self._json("cache_required", {"path": path})

    def cache_insert(self, path):
        return self._json("cache_insert", {"path": path}, input_path=path)

    def file_available(self, path) -> dict:
        return self._json("file_available", {"path": path})

