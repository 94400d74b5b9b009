"""``queued_external_drmaa``: DRMAA jobs run as the Galaxy user who submitted them (spec §3.5).

For each job LWR (through ``sudo``) gives the job directory to that user
(``chown_working_directory_script``, run as root), submits it as that user
(``drmaa_launch_script`` with the job template in ``jt.json``, run with ``sudo -u USER``), and
gives the directory back once the job has ended.  Cancelling runs ``drmaa_kill_script`` as the
user.  Status comes from the manager's own DRMAA session.  The client must send the user name
(Galaxy destination parameter ``submit_user``).
"""
import getpass
import json
import logging
import os
import pwd
import re
import threading

from lwr import resources
from lwr.managers.base.external import ManagerError
from lwr.managers.queued_drmaa import DrmaaQueueManager
from lwr.managers.util.sudo import SudoError, sudo
from lwr.util import asbool

__all__ = ["ExternalDrmaaQueueManager", "LWR_ROOT"]

log = logging.getLogger(__name__)

LWR_ROOT = resources.lwr_root()  # the checkout, or lwr/_data of an installed package
DEFAULT_SCRIPTS = {
    "chown_working_directory_script": "scripts/chown_working_directory.bash",
    "drmaa_launch_script": "scripts/drmaa_launch.bash",
    "drmaa_kill_script": "scripts/drmaa_kill.bash",
}
_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


class ExternalDrmaaQueueManager(DrmaaQueueManager):
    """Options: the three ``*_script`` paths (relative ones are under the LWR root, which must
    match the sudoers rules), ``production`` (default true: the chown script is given the job
    id, else the job directory's absolute path; either way with this server's staging
    directory to confine it to) and ``sudo_timeout`` (seconds, default 120)."""

    manager_type = "queued_external_drmaa"

    def __init__(self, name, app, **kwds):
        super().__init__(name, app, **kwds)
        self.scripts = {key: self._script_path(kwds.get(key) or default) for key, default in DEFAULT_SCRIPTS.items()}
        self.production = asbool(kwds.get("production"), True)
        self.sudo_timeout = float(kwds.get("sudo_timeout") or 120)
        self.server_user = getpass.getuser()
        self._returned = set()
        self._returned_lock = threading.Lock()

    @staticmethod
    def _script_path(path):
        return path if os.path.isabs(path) else os.path.join(LWR_ROOT, path)

    # -- users ----------------------------------------------------------------------------------
    def _job_user(self, job_id, submit_params=None):
        if submit_params is None:
            config = self.job_state(job_id).launch_config()
            submit_params = config.get("submit_params") or {}
        user = submit_params.get("user")
        if not user:
            raise ManagerError("manager type %s runs each job as the submitting user, but the client sent no "
                               "user (set the destination parameter submit_user)" % self.manager_type)
        user = str(user)
        if not _USER_RE.match(user):
            raise ManagerError("invalid user name %r" % user)
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ManagerError("user %r does not exist on the LWR host" % user) from None
        return user

    def _sudo(self, argv, user=None):
        try:
            return sudo(argv, user=user, timeout=self.sudo_timeout)
        except SudoError as exc:
            raise ManagerError("%s failed%s: %s" % (os.path.basename(argv[0]), " as %s" % user if user else "",
                                                     (exc.stderr or exc.stdout or "exit status %s" % exc.returncode).strip()))

    def _chown(self, job_id, user):
        # The script is told this server's staging directory: a server.ini lying in the LWR
        # directory may describe another server (./run.sh writes one there).
        argv = [self.scripts["chown_working_directory_script"], "--user", user,
                "--staging_directory", self.staging_directory]
        if self.production:
            argv += ["--job_id", job_id]
        else:
            argv += ["--job_directory", self.job_directory(job_id).path]
        self._sudo(argv)

    # -- scheduler operations -------------------------------------------------------------------
    def _submit(self, job_id, script_path, submit_params):
        user = self._job_user(job_id, submit_params)
        attributes = self.job_template_attributes(job_id, script_path, submit_params)
        jt_path = self.job_file(job_id, "jt.json")
        with open(jt_path, "w", encoding="utf-8") as handle:
            json.dump(attributes, handle)
        self._chown(job_id, user)
        try:
            output = self._sudo([self.scripts["drmaa_launch_script"], "--job_attributes", jt_path], user=user)
        except ManagerError:
            self._give_back(job_id)
            raise
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if not lines:
            raise ManagerError("%s printed no job id" % os.path.basename(self.scripts["drmaa_launch_script"]))
        return lines[-1]

    def _cancel(self, job_id, external_id):
        current = self._scheduler_status(job_id, external_id)
        if current.done or current.state == "lost":
            return False
        self._sudo([self.scripts["drmaa_kill_script"], "--external_id", external_id], user=self._job_user(job_id))
        return True

    def _job_ended(self, job_id):
        """Give the job directory back to the server's user (once)."""
        with self._returned_lock:
            if job_id in self._returned:
                return
        self._give_back(job_id)
        with self._returned_lock:
            self._returned.add(job_id)

    def _give_back(self, job_id):
        directory = self.job_directory(job_id).path
        if os.path.isdir(directory) and os.stat(directory).st_uid != os.getuid():
            self._chown(job_id, self.server_user)

    def forget_job(self, job_id):
        super().forget_job(job_id)
        with self._returned_lock:
            self._returned.discard(job_id)
