"""Command-line scheduler interface for the ``queued_cli`` manager.

A *shell* plugin runs commands (locally, or on a head node over ssh/rsh/gsissh); a *job* plugin
knows one scheduler's commands and output formats.  Both are chosen by name from a fixed registry
of imports -- never by scanning the current directory as LWR 0.2.0 did.

Manager options are split by prefix (``shell_*`` / ``job_*``, see :func:`split_params`); the
``plugin`` key of each half names the class.
"""
import logging
import re
from typing import Dict, Mapping, Optional, Tuple

from .job import BaseJobExec, JobStatus, SchedulerCommandError, UNKNOWN
from .job.slurm import Slurm
from .job.slurm_torque import SlurmTorque
from .job.torque import Torque
from .shell import BaseShellExec, ShellResult
from .shell.local import LocalShell
from .shell.remote import GlobusSecureShell, RemoteShell, SecureShell

__all__ = [
    "CliInterface", "split_params", "parse_external_id", "SHELL_PLUGINS", "JOB_PLUGINS",
    "BaseShellExec", "ShellResult", "LocalShell", "SecureShell", "RemoteShell", "GlobusSecureShell",
    "BaseJobExec", "JobStatus", "SchedulerCommandError", "UNKNOWN", "Torque", "Slurm", "SlurmTorque",
]

log = logging.getLogger(__name__)

SHELL_PLUGINS: Dict[str, type] = {
    "LocalShell": LocalShell,
    "SecureShell": SecureShell,
    "RemoteShell": RemoteShell,
    "GlobusSecureShell": GlobusSecureShell,
}
JOB_PLUGINS: Dict[str, type] = {
    "Torque": Torque,
    "Slurm": Slurm,
    "SlurmTorque": SlurmTorque,
}
DEFAULT_SHELL_PLUGIN = "LocalShell"

# Manager options that start with "job_" but belong to the manager, not the job plugin.
_MANAGER_JOB_OPTIONS = {"job_name_template"}

_EXTERNAL_ID_PATTERNS = (
    re.compile(r"submitted to cluster (\d+)\."),  # condor_submit
    re.compile(r"Submitted batch job (\w+)"),  # sbatch
)


def split_params(options: Mapping[str, object]) -> Tuple[Dict[str, object], Dict[str, object]]:
    """Split manager options into (shell_params, job_params), prefixes stripped."""
    shell_params: Dict[str, object] = {}
    job_params: Dict[str, object] = {}
    for key, value in options.items():
        if key.startswith("shell_"):
            shell_params[key[len("shell_"):]] = value
        elif key.startswith("job_") and key not in _MANAGER_JOB_OPTIONS:
            job_params[key[len("job_"):]] = value
    return shell_params, job_params


def parse_external_id(output: str) -> str:
    """The scheduler's job id in a submit command's stdout."""
    for pattern in _EXTERNAL_ID_PATTERNS:
        match = pattern.search(output)
        if match:
            return match.group(1)
    external_id = output.strip()
    if not external_id:
        raise ValueError("submit command printed no job id")
    return external_id.splitlines()[-1].strip()


def _build(registry: Dict[str, type], option: str, params: Mapping[str, object], default: Optional[str]):
    params = dict(params)
    name = params.pop("plugin", None) or default
    if not name:
        raise ValueError("option %s is required; choices: %s" % (option, ", ".join(sorted(registry))))
    plugin_class = registry.get(str(name))
    if plugin_class is None:
        raise ValueError("unknown %s %r; choices: %s" % (option, name, ", ".join(sorted(registry))))
    try:
        return plugin_class(**params)
    except TypeError as exc:  # an option the plugin does not take
        raise ValueError("bad options for %s %s: %s" % (option, name, exc)) from exc


class CliInterface:
    """Shell and job plugins built from option dicts; raises ValueError on a bad choice at once."""

    def __init__(self, shell_params: Optional[Mapping[str, object]] = None,
                 job_params: Optional[Mapping[str, object]] = None):
        self.shell: BaseShellExec = self.get_shell_plugin(shell_params or {})
        self.job_interface: BaseJobExec = self.get_job_interface(job_params or {})

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> "CliInterface":
        """Build from the manager's own ``shell_*`` / ``job_*`` options."""
        return cls(*split_params(options))

    def get_plugins(self) -> Tuple[BaseShellExec, BaseJobExec]:
        return self.shell, self.job_interface

    @staticmethod
    def get_shell_plugin(shell_params: Mapping[str, object]) -> BaseShellExec:
        return _build(SHELL_PLUGINS, "shell_plugin", shell_params, DEFAULT_SHELL_PLUGIN)

    @staticmethod
    def get_job_interface(job_params: Mapping[str, object]) -> BaseJobExec:
        return _build(JOB_PLUGINS, "job_plugin", job_params, None)
