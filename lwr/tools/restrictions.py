"""What a toolbox-restricted LWR accepts in a job besides its command line (docs/security.rst).

``tool_config_files`` limits the command line to a tool's ``<command_validator>``; everything
else a client sends that reaches the job's shell or its scheduler is checked here, so that
none of it can run a command the validator would refuse:

* ``env`` entries: literal ``name``/``value`` pairs (rendered single-quoted, nothing
  expands), the exact raw shapes stock Galaxy sends (``HOME``/``TMPDIR``... set to the job's
  own home or temporary directory, and a tool's ``<environment_variable>`` read with a
  backtick ``cat`` of one of this job's staged ``tool_env_*`` config files), and ``file`` /
  ``execute`` entries only when the administrator listed them exactly;
* ``dependencies_description``: only requirements the tool's XML declares;
* ``params``: a ``native_specification`` only when listed exactly by the administrator;
* ``setup_params``: only the scalar keys Galaxy sends;
* ``remote_staging``: no ``remote_copy`` (it reads and writes any path the server may, the
  toolbox's own files included) and only ``http(s)`` transfer URLs.

Each refusal raises :class:`RestrictionError` (the web layer answers 403) naming the entry.
"""
import os
import re
import shlex
from typing import Iterable, List, Optional, Sequence
from urllib.parse import urlsplit

from lwr.tools.deps import RESOLVED_TYPES, DependenciesDescription

__all__ = ["AuthorizationError", "RestrictionError", "RestrictionPolicy", "restricted_env", "check_dependencies",
           "check_submit_params", "check_setup_params", "check_remote_staging", "GALAXY_DIRECTORY_VALUES",
           "POLICY_OPTIONS"]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Raw values stock Galaxy sends for a tool's home / temporary directory (``_target_to_directory``).
GALAXY_DIRECTORY_VALUES = {
    "HOME": ('"$_GALAXY_JOB_HOME_DIR"', '"$_GALAXY_JOB_TMP_DIR"'),
    "TMPDIR": ('"$_GALAXY_JOB_TMP_DIR"',),
    "TMP": ('"$_GALAXY_JOB_TMP_DIR"',),
    "TEMP": ('"$_GALAXY_JOB_TMP_DIR"',),
}
#: Galaxy's value for a tool ``<environment_variable>``: `cat "<configs directory>/tool_env_XXXXXXXX"`.
_TOOL_ENV_VALUE = re.compile(r'^`cat "(?P<path>[^"`$\\]+)"`$')
_TOOL_ENV_NAME = re.compile(r"^tool_env_[A-Za-z0-9_]{1,64}$")
#: Keys Galaxy puts in env entries; the last four only describe a tool environment variable.
_ENV_KEYS = {"name", "value", "raw", "file", "execute", "job_directory_path", "template", "inject", "strip"}
_SETUP_KEYS = {"job_id", "tool_id", "tool_version", "use_metadata", "preserve_galaxy_python_environment"}
_SCALARS = (str, int, float, bool, type(None))


#: ``[app:main]`` options of the allow-lists, in :class:`RestrictionPolicy`'s argument order.
POLICY_OPTIONS = ("allowed_env_files", "allowed_env_commands", "allowed_native_specifications")


class AuthorizationError(Exception):
    """A job, tool file, config file or command line the LWR's toolbox does not allow (403).

    Defined here and re-exported by :mod:`lwr.tools.authorization`.
    """


class RestrictionError(AuthorizationError):
    """Something a restricted LWR does not accept in a job besides its command line."""


class RestrictionPolicy:
    """The administrator's exact allow-lists (``[app:main]`` options, one entry per line)."""

    def __init__(self, env_files: Iterable[str] = (), env_commands: Iterable[str] = (),
                 native_specifications: Iterable[str] = ()):
        self.env_files = frozenset(env_files)
        self.env_commands = frozenset(env_commands)
        self.native_specifications = frozenset(native_specifications)

    @classmethod
    def from_config(cls, conf) -> "RestrictionPolicy":
        return cls(*(_lines(conf.get(option)) for option in POLICY_OPTIONS))


def _lines(value: Optional[str]) -> List[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


# -- env -------------------------------------------------------------------------------------------
def restricted_env(entries: Sequence, job_directory, tool, policy: RestrictionPolicy,
                   staged: bool = False) -> List[dict]:
    """The entries as a restricted LWR renders them (each a name/raw-value or an allowed file /
    command); :class:`RestrictionError` for anything else.

    ``staged``: the job's files are in place (launch time), so a ``tool_env_*`` file must exist.
    """
    if not isinstance(entries, (list, tuple)):
        raise RestrictionError("env must be a list of entries")
    return [_env_entry(entry, job_directory, tool, policy, staged) for entry in entries]


def _env_entry(entry, job_directory, tool, policy, staged) -> dict:
    if not isinstance(entry, dict):
        raise RestrictionError("env entry %r is not an object" % (entry,))
    unknown = set(entry) - _ENV_KEYS
    if unknown:
        raise RestrictionError("env entry has keys a restricted LWR does not accept: %s"
                               % ", ".join(sorted(map(str, unknown))))
    if entry.get("file"):
        if entry["file"] not in policy.env_files:
            raise RestrictionError("env file %r is not in allowed_env_files" % (entry["file"],))
        return {"file": entry["file"]}
    if entry.get("execute"):
        if entry["execute"] not in policy.env_commands:
            raise RestrictionError("env command %r is not in allowed_env_commands" % (entry["execute"],))
        return {"execute": entry["execute"]}
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RestrictionError("env entry name %r is not a shell variable name" % (name,))
    value = entry.get("value")
    if not isinstance(value, _SCALARS):
        raise RestrictionError("env %s: the value must be a string" % name)
    value = "" if value is None else str(value)
    if "\x00" in value:
        raise RestrictionError("env %s: the value contains a NUL byte" % name)
    if not entry.get("raw"):
        return {"name": name, "value": shlex.quote(value), "raw": True}  # literal: nothing expands
    if value in GALAXY_DIRECTORY_VALUES.get(name, ()):
        return {"name": name, "value": value, "raw": True}
    return {"name": name, "value": _tool_env_value(name, value, job_directory, tool, staged), "raw": True}


def _tool_env_value(name, value, job_directory, tool, staged) -> str:
    """The raw value for Galaxy's `cat "<configs>/tool_env_X"`, rebuilt from this job's own path."""
    match = _TOOL_ENV_VALUE.match(value)
    if match is None:
        raise RestrictionError("env %s: a raw value must be one of the shapes Galaxy sends (see "
                               "docs/security.rst), not %r" % (name, value))
    configs = job_directory.configs_directory()
    directory, _, basename = match.group("path").rpartition("/")  # Galaxy joins with "/", unnormalised
    if directory != configs or not _TOOL_ENV_NAME.match(basename):
        raise RestrictionError("env %s: only a tool_env_* config file of this job's configs directory "
                               "may be read" % name)
    if name not in tool.environment_variables:
        raise RestrictionError("env %s: tool %r declares no <environment_variable name=%r>" % (name, tool.id, name))
    real = os.path.join(configs, basename)
    if staged and not (os.path.isfile(real) and not os.path.islink(real)):
        raise RestrictionError("env %s: the config file %s was not staged" % (name, basename))
    return "`cat %s`" % shlex.quote(real)


# -- the other parts of a submission ---------------------------------------------------------------
def check_dependencies(description, tool) -> None:
    """Every requirement (and installed dependency) must be one the tool's XML declares."""
    parsed = DependenciesDescription.from_dict(description)
    for requirement in parsed.requirements:
        if requirement.type in RESOLVED_TYPES and \
                (requirement.type, requirement.name, requirement.version) not in tool.requirements:
            raise RestrictionError("requirement %s %s (version %s) is not declared by tool %r"
                                   % (requirement.type, requirement.name, requirement.version, tool.id))
    declared = {(name, version) for _type, name, version in tool.requirements}
    for dependency in parsed.installed_tool_dependencies:
        if (dependency.name, dependency.version) not in declared:
            raise RestrictionError("installed dependency %s %s is not a requirement of tool %r"
                                   % (dependency.name, dependency.version, tool.id))


def check_submit_params(params, policy: RestrictionPolicy) -> None:
    for key, value in (params or {}).items():
        if not isinstance(value, _SCALARS):
            raise RestrictionError("submit parameter %r must be a string" % (key,))
    native = (params or {}).get("native_specification")
    if native and native not in policy.native_specifications:
        raise RestrictionError("native_specification %r is not in allowed_native_specifications" % (native,))


def check_setup_params(setup_params) -> None:
    unknown = set(setup_params or {}) - _SETUP_KEYS
    if unknown:
        raise RestrictionError("setup_params has keys a restricted LWR does not accept: %s"
                               % ", ".join(sorted(map(str, unknown))))
    for key, value in (setup_params or {}).items():
        if not isinstance(value, _SCALARS):
            raise RestrictionError("setup_params %r must be a string or a boolean" % key)


def check_remote_staging(remote_staging) -> None:
    if not remote_staging:
        return
    if not isinstance(remote_staging, dict):
        raise RestrictionError("remote_staging must be an object")
    for action in remote_staging.get("setup") or []:
        description = action.get("action") if isinstance(action, dict) else None
        if not isinstance(description, dict):
            raise RestrictionError("remote_staging setup entry %r has no action" % (action,))
        _check_action(description.get("action_type"), description.get("url"))
    mapper = remote_staging.get("action_mapper") or {}
    if not isinstance(mapper, dict):
        raise RestrictionError("remote_staging action_mapper must be an object")
    _check_action(mapper.get("default_action"), mapper.get("files_endpoint"))
    for mapping in mapper.get("paths") or []:
        _check_action(mapping.get("action") if isinstance(mapping, dict) else None, None)


def _check_action(action_type, url) -> None:
    if action_type == "remote_copy":
        raise RestrictionError("remote_copy actions read and write any server path; a restricted LWR "
                               "takes remote_transfer (Galaxy's job files API) instead")
    if url is not None and urlsplit(str(url)).scheme.lower() not in ("http", "https"):
        raise RestrictionError("staging URL scheme %r is not http or https" % urlsplit(str(url)).scheme)
