"""Which jobs an LWR accepts: anything (default) or only the tools of a toolbox (spec §9).

Every refusal raises :class:`AuthorizationError` (the web layer answers 403);
checks never rely on ``assert``.
"""
import logging
import os
from typing import Iterable, Optional, Union

from lwr.tools import restrictions
from lwr.tools.restrictions import AuthorizationError, RestrictionPolicy
from lwr.tools.toolbox import ToolBox, ToolConfig

__all__ = ["AuthorizationError", "AllowAnyAuthorization", "AllowAnyAuthorizer", "ToolBasedAuthorization",
           "ToolBasedAuthorizer", "get_authorizer", "MAX_CONFIG_FILE_SIZE"]

log = logging.getLogger(__name__)

#: Config files larger than this are refused rather than read into memory for validation.
MAX_CONFIG_FILE_SIZE = 8 * 1024 * 1024

_warned_allow_any = False


class AllowAnyAuthorization:
    """Allows everything."""

    def authorize_setup(self) -> None:
        pass

    def authorize_tool_file(self, name: str, contents) -> None:
        pass

    def authorize_config_file(self, job_directory, name: str, path: str) -> None:
        pass

    def authorize_execution(self, job_directory, command_line: str) -> None:
        pass

    def authorize_submission(self, job_directory, job_config: dict) -> None:
        """Everything a submit request brings (command line, env, dependencies, parameters)."""

    def authorize_env(self, job_directory, env) -> list:
        """The client's env entries as they are to be rendered into the job script."""
        return list(env or [])

    def authorize_dependencies(self, dependencies_description) -> None:
        pass


class AllowAnyAuthorizer:
    """Allow any; the LWR is then assumed to be secured by a firewall or ``private_key``."""

    ALLOW_ANY_AUTHORIZATION = AllowAnyAuthorization()

    def __init__(self):
        global _warned_allow_any
        if not _warned_allow_any:
            _warned_allow_any = True
            log.warning("no tool_config_files configured: this LWR will run any command it is sent")

    def get_authorization(self, tool_id: str) -> AllowAnyAuthorization:
        return self.ALLOW_ANY_AUTHORIZATION


class ToolBasedAuthorization(AllowAnyAuthorization):
    """Allows only what the given tool (None = unknown tool) describes."""

    def __init__(self, tool: Optional[ToolConfig], tool_id: Optional[str] = None,
                 policy: Optional[RestrictionPolicy] = None):
        self.tool = tool
        self.tool_id = tool.id if tool is not None else tool_id
        self.policy = policy or RestrictionPolicy()

    def _require_tool(self) -> ToolConfig:
        if self.tool is None:
            raise AuthorizationError("tool %r is not in this LWR's toolbox" % (self.tool_id,))
        return self.tool

    def authorize_setup(self) -> None:
        self._require_tool()

    def authorize_tool_file(self, name: str, contents) -> None:
        """The staged tool file must be byte-for-byte the toolbox's copy ``<tool_dir>/<name>``."""
        tool = self._require_tool()
        if not isinstance(name, str) or not _is_plain_name(name):
            raise AuthorizationError("tool file name %r is not a plain file name" % (name,))
        if isinstance(contents, str):
            contents = contents.encode("utf-8")
        expected_path = os.path.join(tool.get_tool_dir(), name)
        try:
            with open(expected_path, "rb") as handle:
                expected = handle.read()
        except OSError:
            raise AuthorizationError("tool %r has no tool file %r" % (tool.id, name))
        if expected != contents:
            raise AuthorizationError("tool file %r differs from tool %r's copy" % (name, tool.id))

    def authorize_config_file(self, job_directory, name: str, path: str) -> None:
        """Checked against the tool's ``<configfile_validator name=...>`` when it has one.

        (0.2.0 called a method that did not exist, so every config file was refused.)
        """
        tool = self._require_tool()
        validator = tool.inputs_validator
        if name not in validator.config_validators:
            return
        contents = _read_limited(path, name)
        if not validator.validate_config(job_directory, name, contents):
            raise AuthorizationError("config file %r does not match tool %r's configfile_validator"
                                     % (name, tool.id))

    def authorize_execution(self, job_directory, command_line: str) -> None:
        tool = self._require_tool()
        if tool.inputs_validator.command_validator is None:
            raise AuthorizationError("tool %r has no command_validator; refusing to run it" % tool.id)
        if not tool.inputs_validator.validate_command(job_directory, command_line or ""):
            raise AuthorizationError("command line does not match tool %r's command_validator" % tool.id)

    def authorize_submission(self, job_directory, job_config: dict) -> None:
        """Checked before anything of the submission is stored (``lwr.tools.restrictions``)."""
        tool = self._require_tool()
        self.authorize_execution(job_directory, job_config.get("command_line"))
        restrictions.restricted_env(job_config.get("env") or [], job_directory, tool, self.policy)
        restrictions.check_dependencies(job_config.get("dependencies_description"), tool)
        restrictions.check_submit_params(job_config.get("submit_params"), self.policy)
        restrictions.check_setup_params(job_config.get("setup_params"))
        restrictions.check_remote_staging(job_config.get("remote_staging"))

    def authorize_env(self, job_directory, env) -> list:
        """At launch: the entries rewritten so that only what was allowed can expand."""
        return restrictions.restricted_env(list(env or []), job_directory, self._require_tool(), self.policy,
                                           staged=True)

    def authorize_dependencies(self, dependencies_description) -> None:
        restrictions.check_dependencies(dependencies_description, self._require_tool())


class ToolBasedAuthorizer:
    """Tool-based white-listing of what jobs can run and what those jobs can do."""

    def __init__(self, toolbox: ToolBox, policy: Optional[RestrictionPolicy] = None):
        self.toolbox = toolbox
        self.policy = policy or RestrictionPolicy()

    def get_authorization(self, tool_id: str) -> ToolBasedAuthorization:
        try:
            tool = self.toolbox.get_tool(tool_id)
        except KeyError:
            tool = None
        return ToolBasedAuthorization(tool, tool_id, self.policy)


def get_authorizer(tool_config_files: Union[None, str, Iterable[str], ToolBox],
                   policy: Optional[RestrictionPolicy] = None):
    """``AllowAnyAuthorizer`` without toolbox files, else a ``ToolBasedAuthorizer``.

    Accepts a ``ToolBox``, a list of toolbox paths or a comma-separated string; ``policy``
    holds the administrator's allow-lists for a restricted server.
    """
    if isinstance(tool_config_files, ToolBox):
        return ToolBasedAuthorizer(tool_config_files, policy)
    if not tool_config_files or (isinstance(tool_config_files, str) and not tool_config_files.strip()):
        return AllowAnyAuthorizer()
    return ToolBasedAuthorizer(ToolBox(tool_config_files), policy)


def _is_plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and not any(c in name for c in ("/", "\\", "\x00"))


def _read_limited(path: str, name: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_FILE_SIZE + 1)
    except OSError as exc:
        raise AuthorizationError("cannot read config file %r: %s" % (name, exc.strerror))
    if len(data) > MAX_CONFIG_FILE_SIZE:
        raise AuthorizationError("config file %r is too large to validate" % name)
    return data.decode("utf-8", "surrogateescape")
