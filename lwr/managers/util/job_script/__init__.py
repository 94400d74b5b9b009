"""The shell script every job runs (spec §3.3), written as ``<jobdir>/command.sh``."""
import os
import re
import shlex
from string import Template

__all__ = ["job_script", "env_to_statement", "InvalidEnvironment", "CLUSTER_SLOTS_STATEMENT"]

_TEMPLATE_PATH = os.path.join(os.path.dirname(__file__), "DEFAULT_JOB_FILE_TEMPLATE.sh")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CLUSTER_SLOTS_STATEMENT = """export GALAXY_SLOTS_CONFIGURED="1"
if [ -n "$SLURM_NTASKS" ]; then
    GALAXY_SLOTS="$SLURM_NTASKS"
elif [ -n "$NSLOTS" ]; then
    GALAXY_SLOTS="$NSLOTS"
elif [ -n "$PBS_NCPUS" ]; then
    GALAXY_SLOTS="$PBS_NCPUS"
elif [ -f "$PBS_NODEFILE" ]; then
    GALAXY_SLOTS=`wc -l < $PBS_NODEFILE`
elif [ -n "$LSB_DJOB_NUMPROC" ]; then
    GALAXY_SLOTS="$LSB_DJOB_NUMPROC"
else
    GALAXY_SLOTS="1"
    unset GALAXY_SLOTS_CONFIGURED
fi"""


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


def job_script(working_directory: str, command: str, exit_code_path: str, *, headers: str = "",
               env=(), galaxy_lib=None, slots_statement: str = CLUSTER_SLOTS_STATEMENT,
               instrument_pre_commands: str = "", instrument_post_commands: str = "",
               start_marker_path=None) -> str:
    """Render the job script text."""
    with open(_TEMPLATE_PATH, "r", encoding="utf-8") as handle:
        template = Template(handle.read())
    return template.safe_substitute(
        headers=headers,
        # The job records that it started, so a restarted server knows whether it ever ran.
        start_statement=": > %s" % shlex.quote(start_marker_path) if start_marker_path else "",
        slots_statement=slots_statement,
        galaxy_lib=str(galaxy_lib),
        env_setup_commands="\n".join(env_to_statement(e) for e in env),
        instrument_pre_commands=instrument_pre_commands,
        instrument_post_commands=instrument_post_commands,
        working_directory=shlex.quote(working_directory),
        command=command,
        exit_code_path=shlex.quote(exit_code_path),
    )
