"""LWR client library, vendored by Galaxy: standard library only (+ PyYAML for YAML, pycurl optional).

Imports no server module; only :class:`~lwr.lwr_client.interface.LocalLwrInterface`
loads ``lwr.web.local`` lazily, when a client manager is built with ``job_manager=``.
"""
from lwr.lwr_client.client import InputCachingJobClient, JobClient
from lwr.lwr_client.destination import url_to_destination_params
from lwr.lwr_client.exceptions import (
    FileActionConfigError,
    LwrClientError,
    OutputNotFoundException,
    ServerRefusedToken,
    ServerUnavailable,
    StagingError,
    TransportError,
)
from lwr.lwr_client.manager import ClientManager, ObjectStoreClientManager, build_client_manager
from lwr.lwr_client.path_mapper import PathMapper
from lwr.lwr_client.setup_handler import LocalSetupHandler, RemoteSetupHandler
from lwr.lwr_client.staging import ClientJobDescription, ClientOutputs, LwrOutputs
from lwr.lwr_client.staging.down import finish_job
from lwr.lwr_client.staging.up import submit_job

__all__ = [
    "build_client_manager",
    "ClientManager",
    "ObjectStoreClientManager",
    "OutputNotFoundException",
    "url_to_destination_params",
    "finish_job",
    "submit_job",
    "ClientJobDescription",
    "LwrOutputs",
    "ClientOutputs",
    "PathMapper",
    "JobClient",
    "InputCachingJobClient",
    "LocalSetupHandler",
    "RemoteSetupHandler",
    "LwrClientError",
    "TransportError",
    "ServerRefusedToken",
    "ServerUnavailable",
    "FileActionConfigError",
    "StagingError",
]
