"""Errors raised by the client library; every message says what failed and where."""

__all__ = [
    "LwrClientError",
    "TransportError",
    "ServerRefusedToken",
    "ServerUnavailable",
    "DigestMismatch",
    "OutputNotFoundException",
    "FileActionConfigError",
    "StagingError",
]


class LwrClientError(Exception):
    """Base class of every error this library raises on purpose."""


class TransportError(LwrClientError):
    """An HTTP exchange failed.

    ``status`` is the HTTP status (None when no response arrived), ``url`` the
    request URL with any token masked, ``server_message`` the server's JSON
    ``error`` text (or a short excerpt of its body), ``transient`` whether a
    retry could succeed.
    """

    def __init__(self, message, status=None, url=None, method=None, server_message=None,
                 transient=False):
        super().__init__(message)
        self.status = status
        self.url = url
        self.method = method
        self.server_message = server_message
        self.transient = transient
        #: True when earlier attempts of the same request failed before this answer came
        self.retried = False


class ServerRefusedToken(TransportError):
    """The server answered 401: the private token is missing or wrong."""


class ServerUnavailable(TransportError):
    """No answer from the server (connection refused/reset, timeout) after all retries."""


class DigestMismatch(TransportError):
    """The bytes that arrived are not the bytes that were sent, on every attempt: the message
    names the local ``path`` and both SHA-256 digests (``docs/transfers.rst``)."""

    def __init__(self, message, path=None, local=None, remote=None, **kwds):
        kwds.setdefault("transient", False)
        super().__init__(message, **kwds)
        self.path = path
        self.local_digest = local
        self.remote_digest = remote


class OutputNotFoundException(LwrClientError):
    """The server has no such output file for the job (HTTP 404 on download)."""

    def __init__(self, message, name=None, path=None):
        super().__init__(message)
        self.name = name
        self.path = path


class FileActionConfigError(LwrClientError, ValueError):
    """A ``file_action_config`` entry (or a serialized action) is invalid."""


class StagingError(LwrClientError):
    """A file could not be staged (missing input, failed remote copy, ...)."""
