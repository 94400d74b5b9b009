"""Client managers: build job clients (HTTP or in process) and object-store clients."""
import copy
import json
import logging
import os

from lwr.lwr_client.client import DEFAULT_TRANSFER_THREADS, ClientCacher, InputCachingJobClient, JobClient
from lwr.lwr_client.destination import url_to_destination_params
from lwr.lwr_client.interface import HttpLwrInterface, LocalLwrInterface
from lwr.lwr_client.transport import get_transport
from lwr.lwr_client.transport.retry import parse_params
from lwr.lwr_client.util import asbool

__all__ = ["build_client_manager", "destination_transport", "ClientManager", "ObjectStoreClientManager",
           "ObjectStoreClient"]

log = logging.getLogger(__name__)


def build_client_manager(**kwargs):
    """In process (``job_manager=``), message queue (``url=`` an AMQP URL) or HTTP client manager."""
    if "job_manager" in kwargs:
        return ClientManager(**kwargs)
    if kwargs.get("url"):
        try:  # here: a vendored copy of the client may leave the message-queue modules out
            from lwr.lwr_client.amqp_manager import MessageQueueClientManager
        except ImportError as exc:
            raise ImportError("a message-queue client manager (url=%s) needs "
                              "lwr.lwr_client.amqp_manager, which is not available: %s"
                              % (kwargs.get("url"), exc))
        return MessageQueueClientManager(**kwargs)
    return ClientManager(**kwargs)


#: Keywords the HTTP/in-process and object-store client managers read. ``url`` (None) is what a
#: caller passes when it has no message-queue URL; the others come from LWR 0.2.0's API.
CLIENT_MANAGER_KEYWORDS = frozenset(("job_manager", "file_cache", "object_store", "transport", "progress",
                                     "transfer_threads", "cache", "environ", "url"))


def _warn_unknown(kind, kwds, known=CLIENT_MANAGER_KEYWORDS):
    """0.2.0's managers took any keyword; a misspelt one is still accepted but never silently."""
    unknown = sorted(set(kwds) - known)
    if unknown:
        log.warning("%s: ignoring unknown option(s) %s (known: %s)", kind, ", ".join(unknown),
                    ", ".join(sorted(known)))


def _cache_enabled(cache, environ) -> bool:
    if cache is not None:
        return bool(cache)
    try:
        return int(environ.get("LWR_CACHE_TRANSFERS", "0") or 0) != 0
    except ValueError:
        return False


def destination_transport(transport, destination_params):
    """``transport``, or a copy retrying as the destination's ``retry_*`` parameters say
    (``retry_max_attempts``, ``retry_initial_backoff``, ``retry_max_backoff``, ``retry_budget``,
    ``retry_jitter``; see :mod:`lwr.lwr_client.transport.retry`) and verifying as its
    ``verify_transfers`` says.  A bad value raises ``ValueError`` naming the parameter."""
    changes = parse_params(destination_params)
    verify = _verify_param(destination_params)
    if not changes and (verify is None or not hasattr(transport, "verify")):
        return transport
    configured = copy.copy(transport)
    if changes:
        configured.retry = transport.retry.replace(**changes)
    if verify is not None and hasattr(transport, "verify"):
        configured.verify = verify
    return configured


def _verify_param(destination_params):
    """The destination's ``verify_transfers`` (None when not given); ValueError naming it."""
    text = (destination_params or {}).get("verify_transfers")
    if text is None or str(text).strip() == "":
        return None
    try:
        return asbool(text)
    except ValueError:
        raise ValueError("verify_transfers = %r: expected true or false" % (text,)) from None


def _transfer_threads(transfer_threads, environ) -> int:
    if transfer_threads is None:
        transfer_threads = environ.get("LWR_CACHE_THREADS") or DEFAULT_TRANSFER_THREADS
    return max(1, int(transfer_threads))


class ClientManager:
    """Makes a :class:`JobClient` (or :class:`InputCachingJobClient`) per job.

    ``job_manager`` (+ ``file_cache``, ``object_store``) selects the in-process
    interface; otherwise HTTP with ``transport`` (``urllib``/``curl``/None) and ``progress``, a
    factory told about every file transferred (see :mod:`lwr.lwr_client.progress`).
    """

    def __init__(self, **kwds):
        _warn_unknown("ClientManager", kwds)
        environ = kwds.get("environ", os.environ)
        if "job_manager" in kwds:
            job_manager = kwds["job_manager"]
            file_cache = kwds.get("file_cache")
            object_store = kwds.get("object_store")
            self.interface_factory = lambda destination: LocalLwrInterface(destination, job_manager, file_cache,
                                                                           object_store)
        else:
            transport = get_transport(kwds.get("transport"), environ, progress=kwds.get("progress"))
            self.interface_factory = lambda destination: HttpLwrInterface(
                destination, destination_transport(transport, destination))
        self.transfer_threads = _transfer_threads(kwds.get("transfer_threads"), environ)
        self.cache = _cache_enabled(kwds.get("cache"), environ)
        if self.cache:
            self.client_class = InputCachingJobClient
            self.client_cacher = ClientCacher(self.transfer_threads)
            self.extra_client_kwds = {"client_cacher": self.client_cacher}
        else:
            self.client_class = JobClient
            self.client_cacher = None
            self.extra_client_kwds = {}

    def get_client(self, destination_params, job_id, **kwargs):
        if isinstance(destination_params, str):
            destination_params = url_to_destination_params(destination_params)
        destination_params = dict(destination_params or {})
        destination_params.update(kwargs)
        interface = self.interface_factory(destination_params)
        return self.client_class(destination_params, job_id, interface, transfer_threads=self.transfer_threads,
                                 **self.extra_client_kwds)

    def shutdown(self):
        if self.client_cacher is not None:
            self.client_cacher.shutdown()


class ObjectStoreClientManager:
    """Clients for an LWR-proxied Galaxy object store (``object_store type="lwr"``)."""

    def __init__(self, **kwds):
        _warn_unknown("ObjectStoreClientManager", kwds)
        if "object_store" in kwds:
            object_store = kwds["object_store"]
            self.interface_factory = lambda destination: LocalLwrInterface(destination, None, None, object_store)
        else:
            transport = get_transport(kwds.get("transport"))
            self.interface_factory = lambda destination: HttpLwrInterface(destination, transport)

    def get_client(self, client_params):
        if isinstance(client_params, str):
            client_params = url_to_destination_params(client_params)
        return ObjectStoreClient(self.interface_factory(client_params))


class ObjectStoreClient:
    """Every method sends its keyword arguments (``object_id`` included) as query parameters."""

    def __init__(self, lwr_interface):
        self.lwr_interface = lwr_interface

    def _call(self, command, args, input_path=None):
        return json.loads(self.lwr_interface.execute(command, args, input_path=input_path))

    def exists(self, **kwds):
        return self._call("object_store_exists", kwds)

    def file_ready(self, **kwds):
        return self._call("object_store_file_ready", kwds)

    def create(self, **kwds):
        return self._call("object_store_create", kwds)

    def empty(self, **kwds):
        return self._call("object_store_empty", kwds)

    def size(self, **kwds):
        return self._call("object_store_size", kwds)

    def delete(self, **kwds):
        return self._call("object_store_delete", kwds)

    def get_data(self, **kwds):
        return self._call("object_store_get_data", kwds)

    def get_filename(self, **kwds):
        return self._call("object_store_get_filename", kwds)

    def update_from_file(self, **kwds):
        return self._call("object_store_update_from_file", kwds)

    def get_store_usage_percent(self):
        return self._call("object_store_get_store_usage_percent", {})
