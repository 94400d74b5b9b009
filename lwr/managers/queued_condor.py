"""``queued_condor``: submit to HTCondor with ``condor_submit``, follow the job's user log,
cancel with ``condor_rm`` (spec §3.5).

Options ``submit_<key> = value`` add or override lines of the submit description (defaults
``universe = vanilla``, ``getenv = true``, ``notification = NEVER``); ``condor_timeout`` bounds
each condor command (seconds, default 60).  Client submit parameters are ignored.
"""
import logging

from lwr.managers.base.directory import JOB_STDERR, JOB_STDOUT
from lwr.managers import status
from lwr.managers.base.external import ExternalBaseManager, ManagerError, SchedulerCommandError
from lwr.managers.util.cli import JobStatus, LocalShell
from lwr.managers.util.condor import (build_submit_description, condor_rm_command, condor_submit_command,
                                      parse_external_id, submit_params_from_options, user_log_status)
from lwr.options import ConfigurationError

__all__ = ["CondorQueueManager", "SUBMIT_FILE", "USER_LOG"]

log = logging.getLogger(__name__)

SUBMIT_FILE = "job.condor.submit"
USER_LOG = "job_condor.log"


class CondorQueueManager(ExternalBaseManager):
    manager_type = "queued_condor"

    def __init__(self, name, app, **kwds):
        super().__init__(name, app, **kwds)
        self.submit_params = submit_params_from_options(kwds)
        try:
            # a bad submit_* key or value is a configuration error, found at start
            build_submit_description("x", "x", "x", "x", self.submit_params)
        except ValueError as exc:
            raise ConfigurationError("[manager:%s] (type %s): %s" % (name, self.manager_type, exc)) from exc
        self.shell = LocalShell(timeout=kwds.get("condor_timeout") or 60)

    def _submit(self, job_id, script_path, submit_params):
        user_log = self.job_file(job_id, USER_LOG)
        description = build_submit_description(script_path, self.job_file(job_id, JOB_STDOUT),
                                               self.job_file(job_id, JOB_STDERR), user_log, self.submit_params)
        submit_file = self.job_file(job_id, SUBMIT_FILE)
        with open(submit_file, "w", encoding="utf-8") as handle:
            handle.write(description)
        open(user_log, "a").close()
        cmd = condor_submit_command(submit_file)
        result = self.shell.execute(cmd)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip() or "no output"
            raise ManagerError("condor_submit failed (exit status %d): %s" % (result.returncode, detail))
        try:
            return parse_external_id(result.stdout)
        except ValueError as exc:
            raise ManagerError(str(exc)) from exc

    def _scheduler_status(self, job_id, external_id):
        try:
            with open(self.job_file(job_id, USER_LOG), "r", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except FileNotFoundError:
            return JobStatus(status.LOST, None, "the HTCondor user log %s is missing" % USER_LOG)
        return user_log_status(text, external_id)

    def _cancel(self, job_id, external_id):
        cmd = condor_rm_command(external_id)
        result = self.shell.execute(cmd)
        if result.returncode != 0:
            raise SchedulerCommandError(cmd, result.returncode, result.stdout, result.stderr)
