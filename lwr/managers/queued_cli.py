"""``queued_cli``: submit through a scheduler's command-line tools (spec §3.5).

A *shell* plugin runs the commands (on this host, or on a head node over ssh/rsh/gsissh) and a
*job* plugin knows the scheduler (``Torque``, ``Slurm``, ``SlurmTorque``); see
:mod:`lwr.managers.util.cli`.  Options ``shell_*`` and ``job_*`` configure them.  The job
directory must be at the same path on the submit host (a shared file system).
"""
import logging

from lwr.managers.base.directory import JOB_STDERR, JOB_STDOUT
from lwr.managers.base.external import ExternalBaseManager, ManagerError
from lwr.managers.util.cli import CliInterface, SchedulerCommandError, parse_external_id
from lwr.options import ConfigurationError

__all__ = ["CliQueueManager"]

log = logging.getLogger(__name__)


class CliQueueManager(ExternalBaseManager):
    """Jobs submitted with ``qsub``/``sbatch`` and followed with ``qstat``/``squeue``."""

    manager_type = "queued_cli"
    #: option defaults a subclass may fix (queued_pbs: the Torque plugin)
    default_plugin_options = {}

    def __init__(self, name, app, **kwds):
        super().__init__(name, app, **kwds)
        options = dict(self.default_plugin_options)
        options.update({k: v for k, v in kwds.items() if k.startswith(("shell_", "job_"))})
        try:
            self.cli = CliInterface.from_options(options)
        except ValueError as exc:
            raise ConfigurationError("[manager:%s] (type %s): %s" % (name, self.manager_type, exc)) from exc
        self.shell, self.job_interface = self.cli.get_plugins()

    def _paths(self, job_id):
        return self.job_file(job_id, JOB_STDOUT), self.job_file(job_id, JOB_STDERR), self.job_name(job_id)

    def _script_headers(self, job_id):
        return self.job_interface.job_script_kwargs(*self._paths(job_id))["headers"]

    def _submit(self, job_id, script_path, submit_params):
        ofile, efile, job_name = self._paths(job_id)
        cmd = self.job_interface.submit(script_path, ofile, efile, job_name)
        result = self.shell.execute(cmd)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip() or "no output"
            raise ManagerError("submitting with %s failed (exit status %d): %s" % (cmd[0], result.returncode, detail))
        try:
            return parse_external_id(result.stdout)
        except ValueError as exc:
            raise ManagerError("%s: %s" % (cmd[0], exc)) from exc

    def _scheduler_status(self, job_id, external_id):
        return self.job_interface.job_status(self.shell, external_id)

    def _cancel(self, job_id, external_id):
        cmd = self.job_interface.delete(external_id)
        result = self.shell.execute(cmd)
        if result.returncode != 0:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
