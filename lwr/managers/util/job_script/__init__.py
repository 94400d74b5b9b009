"""The shell script every job runs (spec §3.3; pulsar-delta §3), written as ``<jobdir>/command.sh``.

The script defines ``_galaxy_setup_environment`` (job home and tmp directories, env entries,
Galaxy's library and virtualenv), sets ``GALAXY_SLOTS``, ``GALAXY_MEMORY_MB(_PER_SLOT)`` and the
temporary-directory variables, runs the command in ``working/`` and records its exit code.
"""
import os
import re
import shlex
from string import Template

__all__ = ["job_script", "env_to_statement", "InvalidEnvironment", "CLUSTER_SLOTS_STATEMENT",
           "DEFAULT_SHELL"]

_HERE = os.path.dirname(__file__)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_SHELL = "/bin/bash"


def _read(name):
    with open(os.path.join(_HERE, name), "r", encoding="utf-8") as handle:
        return handle.read()


_TEMPLATE = Template(_read("DEFAULT_JOB_FILE_TEMPLATE.sh"))
_MEMORY_TEMPLATE = Template(_read("MEMORY_STATEMENT.sh"))
CLUSTER_SLOTS_STATEMENT = _read("CLUSTER_SLOTS_STATEMENT.sh").rstrip("\n")


class InvalidEnvironment(ValueError):
    """An ``env`` entry that cannot become a shell statement."""


def env_to_statement(env: dict) -> str:
    """One client/manager env entry as a shell statement.

    >>> env_to_statement({"name": "X", "value": 'a"b'})
    'X="a\\\\"b"; export X'
    >>> env_to_statement({"file": "/etc/profile.d/x.sh"})
    '. "/etc/profile.d/x.sh"'
    >>> env_to_statement({"name": "X", "value": "$Y", "raw": True})
    'X=$Y; export X'
    """
    if not isinstance(env, dict):
        raise InvalidEnvironment("env entry %r is not an object" % (env,))
    if env.get("file"):
        return '. "%s"' % str(env["file"]).replace('"', '\\"')
    if env.get("execute"):
        return str(env["execute"])
    name = env.get("name")
    if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
        raise InvalidEnvironment("env entry name %r is not a valid shell variable name" % (name,))
    value = "" if env.get("value") is None else str(env["value"])
    if not env.get("raw", False):
        value = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    return "%s=%s; export %s" % (name, value, name)


def _shell_word(value) -> str:
    """``None`` (unset) renders as the literal word None, which the script tests for."""
    return shlex.quote("None" if value in (None, "") else str(value))


def job_script(working_directory: str, command: str, exit_code_path: str, *, headers: str = "",
               env=(), galaxy_lib=None, slots_statement: str = CLUSTER_SLOTS_STATEMENT,
               instrument_pre_commands: str = "", instrument_post_commands: str = "",
               start_marker_path=None, metadata_directory=None, home_directory=None,
               tmp_directory_statement=None, galaxy_virtual_env=None,
               preserve_python_environment: bool = False, shell: str = DEFAULT_SHELL) -> str:
    """Render the job script text.

    ``home_directory`` defaults to ``<working_directory>/../home``; ``tmp_directory_statement``
    is shell text whose value is the job's tmp directory (default ``<job dir>/tmp``, quoted; an
    empty string means none); ``metadata_directory`` (default ``working_directory``) receives
    ``memory_statement.log``.
    """
    job_directory = os.path.dirname(os.path.normpath(working_directory))
    if home_directory is None:
        home_directory = os.path.join(job_directory, "home")
    if tmp_directory_statement is None:
        tmp_directory_statement = shlex.quote(os.path.join(job_directory, "tmp"))
    memory_log = os.path.join(metadata_directory or working_directory, "memory_statement.log")
    return _TEMPLATE.safe_substitute(
        shell=shell,
        headers=headers,
        # The job records that it started, so a restarted server knows whether it ever ran.
        start_statement=": > %s" % shlex.quote(start_marker_path) if start_marker_path else "",
        slots_statement=slots_statement,
        galaxy_lib=_shell_word(galaxy_lib),
        galaxy_virtual_env=_shell_word(galaxy_virtual_env),
        preserve_python_environment="True" if preserve_python_environment else "False",
        home_directory=shlex.quote(home_directory),
        tmp_directory=tmp_directory_statement or '""',
        env_setup_commands="\n".join(env_to_statement(e) for e in env),
        memory_statement=_MEMORY_TEMPLATE.safe_substitute(memory_log=shlex.quote(memory_log)),
        instrument_pre_commands=instrument_pre_commands,
        instrument_post_commands=instrument_post_commands,
        working_directory=shlex.quote(working_directory),
        command=command,
        exit_code_path=shlex.quote(exit_code_path),
    )
