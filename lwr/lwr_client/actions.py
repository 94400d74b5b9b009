"""Staging actions: how one file gets to (or back from) the LWR server.

=================  ===========  ==============================================
``action_type``    staging      what moves the file
=================  ===========  ==============================================
``none``           none         nothing (shared file system, same path)
``rewrite``        none         nothing; the path is rewritten to another prefix
``transfer``       local        the client, over HTTP (upload / download routes)
``copy``           local        the client, on a shared file system (``path`` route)
``remote_copy``    remote       the server, copying on a shared file system
``remote_transfer`` remote      the server, over HTTP to/from Galaxy's files API
``message``        local/remote the contents travel with the request
=================  ===========  ==============================================
"""
import os
from urllib.parse import quote

from lwr.lwr_client.exceptions import FileActionConfigError, StagingError
from lwr.lwr_client.transport import get_file, get_transport, post_file
from lwr.lwr_client.transport.appending import appends, post_file_once_only
from lwr.lwr_client.util import ReplacingFile, atomic_copy, unique_path_prefix

__all__ = [
    "STAGING_NONE", "STAGING_LOCAL", "STAGING_REMOTE",
    "BaseAction", "NoneAction", "RewriteAction", "TransferAction", "CopyAction",
    "RemoteCopyAction", "RemoteTransferAction", "MessageAction",
    "ACTION_CLASSES", "from_dict",
]

STAGING_NONE = "none"
STAGING_LOCAL = "local"
STAGING_REMOTE = "remote"


class BaseAction:
    """One file (``path``, local to the client) and how it is staged."""

    action_type = None
    staging = STAGING_NONE
    #: Extra ``file_action_config`` keys this action accepts (``name -> required``).
    config_keys = {}

    def __init__(self, path, file_type=None, mapper=None, files_endpoint=None):
        self.path = path
        self.file_type = file_type
        self.mapper = mapper

    @property
    def staging_needed(self) -> bool:
        return self.staging != STAGING_NONE

    @property
    def staging_action_local(self) -> bool:
        return self.staging == STAGING_LOCAL

    def path_rewrite(self, path_helper, path=None):
        """The path the server should use instead of ``path``; None keeps it as is."""
        return None

    def unstructured_map(self, path_helper=None) -> dict:
        """``{local file: name on the server}`` for an unstructured reference (depth from the mapper).

        Staged files get a unique ``<md5>/`` prefix so two references never
        collide; for non-staging actions the values are rewritten paths.
        """
        depth = self.mapper.depth if self.mapper is not None else 0
        files = _unstructured_files(self.path, depth)
        if self.staging_needed:
            prefix = unique_path_prefix(self.path)
            return {path: "%s/%s" % (prefix, name) for path, name in files.items()}
        rewrites = {}
        for path in files:
            rewrite = self.path_rewrite(path_helper, path)
            if rewrite:
                rewrites[path] = rewrite
        return rewrites

    def to_dict(self) -> dict:
        return {"path": self.path, "action_type": self.action_type}

    def write_to_path(self, path) -> None:
        """Server side: put this action's file at ``path`` (remote actions only)."""
        raise StagingError("a %r action cannot be staged by the LWR server" % self.action_type)

    def write_from_path(self, path) -> None:
        """Server side: send ``path`` back to where this action says; nothing for local actions."""

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.path)


def _unstructured_files(path, depth):
    if depth <= 0:
        return {path: os.path.basename(path)}
    parent = path
    for _ in range(depth):
        parent = os.path.dirname(parent)
    files = {}
    for root, _dirs, names in os.walk(parent):
        for name in sorted(names):
            full = os.path.join(root, name)
            files[full] = os.path.relpath(full, parent).replace(os.sep, "/")
    return files


class NoneAction(BaseAction):
    """The server sees the file at the same path (shared file system)."""

    action_type = "none"

    @classmethod
    def from_dict(cls, action_dict):
        return cls(action_dict["path"])


class RewriteAction(BaseAction):
    """Nothing is staged; ``source_directory`` is replaced by ``destination_directory`` in the path."""

    action_type = "rewrite"
    config_keys = {"source_directory": True, "destination_directory": True}

    def __init__(self, path, file_type=None, mapper=None, files_endpoint=None, source_directory=None,
                 destination_directory=None):
        super().__init__(path, file_type, mapper)
        if not source_directory or not destination_directory:
            raise FileActionConfigError("a rewrite action needs source_directory and destination_directory")
        self.source_directory = source_directory
        self.destination_directory = destination_directory

    def path_rewrite(self, path_helper, path=None):
        path = path or self.path
        source = os.path.abspath(self.source_directory)
        absolute = os.path.abspath(path)
        if absolute != source and not absolute.startswith(source.rstrip(os.sep) + os.sep):
            return None
        relative = os.path.relpath(absolute, source)
        if relative == ".":
            return self.destination_directory
        if path_helper is None:
            return os.path.join(self.destination_directory, relative)
        return path_helper.remote_join(self.destination_directory, path_helper.remote_name(relative))

    def to_dict(self):
        return {"path": self.path, "action_type": self.action_type,
                "source_directory": self.source_directory,
                "destination_directory": self.destination_directory}

    @classmethod
    def from_dict(cls, action_dict):
        return cls(action_dict["path"], source_directory=action_dict.get("source_directory"),
                   destination_directory=action_dict.get("destination_directory"))


class TransferAction(BaseAction):
    """The client uploads / downloads the file over HTTP."""

    action_type = "transfer"
    staging = STAGING_LOCAL


class CopyAction(BaseAction):
    """The client copies the file itself on a file system it shares with the server."""

    action_type = "copy"
    staging = STAGING_LOCAL


class RemoteCopyAction(BaseAction):
    """The server copies the file (it sees the client's path on a shared file system)."""

    action_type = "remote_copy"
    staging = STAGING_REMOTE

    @classmethod
    def from_dict(cls, action_dict):
        return cls(action_dict["path"])

    def write_to_path(self, path):
        try:
            atomic_copy(self.path, path)
        except OSError as exc:
            raise StagingError("remote_copy of %s to %s failed: %s" % (self.path, path, exc))

    def write_from_path(self, path):
        try:
            atomic_copy(path, self.path)
        except OSError as exc:
            raise StagingError("remote_copy of %s to %s failed: %s" % (path, self.path, exc))


class RemoteTransferAction(BaseAction):
    """The server fetches / pushes the file over HTTP from Galaxy's job files API (``files_endpoint``)."""

    action_type = "remote_transfer"
    staging = STAGING_REMOTE

    def __init__(self, path, file_type=None, mapper=None, files_endpoint=None, url=None):
        super().__init__(path, file_type, mapper)
        if url is None:
            if not files_endpoint:
                raise FileActionConfigError(
                    "a remote_transfer action for %s needs files_endpoint (Galaxy's job files URL)" % path)
            separator = "&" if "?" in files_endpoint else "?"
            url = "%s%spath=%s&file_type=%s" % (files_endpoint, separator, quote(path, safe="/"),
                                                quote(file_type or "", safe=""))
        self.url = url

    def to_dict(self):
        return {"path": self.path, "action_type": self.action_type, "url": self.url}

    @classmethod
    def from_dict(cls, action_dict):
        if not action_dict.get("url"):
            raise FileActionConfigError("a serialized remote_transfer action needs a url")
        return cls(action_dict["path"], url=action_dict["url"])

    def write_to_path(self, path):
        get_file(self.url, path)

    def write_from_path(self, path):
        if appends(self.path):  # Galaxy appends to tool_stdout / tool_stderr: never send twice
            post_file_once_only(get_transport(), self.url, path)
        else:
            post_file(self.url, path)


class MessageAction(BaseAction):
    """The file's contents travel inside the request (rewritten config files).

    Local (an HTTP upload) unless the client lays out the job itself
    (``jobs_directory``), in which case the server writes it during setup.
    """

    action_type = "message"
    staging = STAGING_LOCAL

    def __init__(self, contents, client=None, path=None):
        super().__init__(path)
        self.contents = contents
        self.client = client

    @property
    def staging_action_local(self) -> bool:
        return self.client is None or not getattr(self.client, "jobs_directory", None)

    def to_dict(self):
        return {"contents": self.contents, "action_type": self.action_type}

    @classmethod
    def from_dict(cls, action_dict):
        contents = action_dict.get("contents")
        if not isinstance(contents, str):
            raise FileActionConfigError("a serialized message action needs string contents")
        return cls(contents)

    def write_to_path(self, path):
        with ReplacingFile(path, prefix=".message.", make_parents=True) as handle:
            handle.write(self.contents.encode("utf-8"))


ACTION_CLASSES = {cls.action_type: cls for cls in (
    NoneAction, RewriteAction, TransferAction, CopyAction, RemoteCopyAction, RemoteTransferAction,
    MessageAction)}


def from_dict(action_dict: dict) -> BaseAction:
    """Rebuild an action from its ``to_dict()`` (what the server receives in ``remote_staging``)."""
    if not isinstance(action_dict, dict):
        raise FileActionConfigError("a serialized action must be an object, not %r" % (action_dict,))
    action_type = action_dict.get("action_type")
    action_class = ACTION_CLASSES.get(action_type)
    if action_class is None:
        raise FileActionConfigError("unknown action_type %r; expected one of %s"
                                    % (action_type, ", ".join(sorted(ACTION_CLASSES))))
    if action_class is not MessageAction and not isinstance(action_dict.get("path"), str):
        raise FileActionConfigError("a serialized %s action needs a string path" % action_type)
    if hasattr(action_class, "from_dict") and "from_dict" in vars(action_class):
        return action_class.from_dict(action_dict)
    return action_class(action_dict["path"])
