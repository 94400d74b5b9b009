"""Job setup: asked of the server (``POST /jobs``), or computed locally from ``jobs_directory``."""
import os

from lwr.lwr_client.job_directory import RemoteJobDirectory

__all__ = ["build", "RemoteSetupHandler", "LocalSetupHandler", "build_job_config"]

REMOTE_PROPERTY_PREFIX = "remote_property_"


def build(client, destination_args) -> "object":
    """``LocalSetupHandler`` when the destination has ``jobs_directory``, else ``RemoteSetupHandler``."""
    if destination_args.get("jobs_directory"):
        return LocalSetupHandler(client, destination_args)
    return RemoteSetupHandler(client)


class RemoteSetupHandler:
    """The server creates the job directory and answers with its layout."""

    local = False

    def __init__(self, client):
        self.client = client

    def setup(self, tool_id=None, tool_version=None) -> dict:
        return self.client.remote_setup(tool_id=tool_id, tool_version=tool_version)


class LocalSetupHandler:
    """The client knows the server's staging directory: no setup request.

    The server sets the job up inside ``submit`` (``setup_params``), so files
    must be staged by remote actions (``remote_copy``/``remote_transfer``/``message``).
    """

    local = True

    def __init__(self, client, destination_args):
        self.client = client
        self.jobs_directory = destination_args["jobs_directory"]
        self.remote_sep = destination_args.get("remote_sep") or os.sep
        self.system_properties = {key[len(REMOTE_PROPERTY_PREFIX):]: value
                                  for key, value in destination_args.items()
                                  if key.startswith(REMOTE_PROPERTY_PREFIX)}
        self.system_properties["separator"] = self.remote_sep

    def setup(self, tool_id=None, tool_version=None) -> dict:
        job_directory = RemoteJobDirectory(self.jobs_directory, self.client.job_id, self.remote_sep)
        return build_job_config(self.client.job_id, job_directory, dict(self.system_properties),
                                tool_id, tool_version)


def build_job_config(job_id, job_directory, system_properties, tool_id=None, tool_version=None) -> dict:
    """The same dict the server's setup route answers (spec §1.4)."""
    config = {
        "job_directory": job_directory.path,
        "working_directory": job_directory.working_directory(),
        "outputs_directory": job_directory.outputs_directory(),
        "configs_directory": job_directory.configs_directory(),
        "tools_directory": job_directory.tool_files_directory(),
        "inputs_directory": job_directory.inputs_directory(),
        "unstructured_files_directory": job_directory.unstructured_files_directory(),
        "metadata_directory": job_directory.metadata_directory(),
        # Legacy key: the *client's* separator for local setup (0.2.0 quirk); system_properties wins.
        "path_separator": os.sep,
        "job_id": job_id,
        "system_properties": system_properties,
    }
    if tool_id:
        config["tool_id"] = tool_id
    if tool_version:
        config["tool_version"] = tool_version
    return config
