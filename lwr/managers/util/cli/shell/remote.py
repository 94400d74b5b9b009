"""Run commands on another host through rsh, ssh or gsissh (executed via :class:`LocalShell`)."""
import logging
import shlex
from typing import List, Optional

from . import BaseShellExec, Command, ShellResult, command_string
from .local import LocalShell

__all__ = ["RemoteShell", "SecureShell", "GlobusSecureShell"]

log = logging.getLogger(__name__)


def _split(value, name: str) -> List[str]:
    argv = shlex.split(str(value)) if isinstance(value, str) else [str(v) for v in value]
    if not argv:
        raise ValueError("shell option %s is empty" % name)
    return argv


class RemoteShell(BaseShellExec):
    """``rsh [-l username] hostname 'command'``."""

    default_rsh = "rsh"
    default_rcp = "rcp"

    def __init__(self, hostname=None, username=None, rsh=None, rcp=None, timeout=60, **unused):
        super().__init__(timeout)
        if not hostname:
            raise ValueError("shell option hostname is required for %s" % type(self).__name__)
        if str(hostname).startswith("-") or (username and str(username).startswith("-")):
            raise ValueError("shell hostname/username must not start with '-'")
        if unused:
            log.warning("%s ignores options %s", type(self).__name__, ", ".join(sorted(unused)))
        self.hostname = str(hostname)
        self.username = str(username) if username else None
        self.rsh = _split(rsh or self.default_rsh, "rsh")
        self.rcp = _split(rcp or self.default_rcp, "rcp")
        self._local = LocalShell(timeout=timeout)

    def connection_options(self) -> List[str]:
        return []

    def remote_argv(self, cmd: Command) -> List[str]:
        """The local argv that runs ``cmd`` on the remote host."""
        argv = list(self.rsh) + self.connection_options()
        if self.username:
            argv += ["-l", self.username]
        # the remote side hands this string to the user's shell, so quote each argument
        return argv + [self.hostname, command_string(cmd)]

    def execute(self, cmd: Command, timeout: Optional[float] = None) -> ShellResult:
        timeout = self.timeout if timeout is None else timeout
        return self._local.execute(self.remote_argv(cmd), timeout=timeout)


class SecureShell(RemoteShell):
    """``ssh -oStrictHostKeyChecking=yes -oConnectTimeout=N [-F cfg] [-p port] [-i key] ...``.

    Host keys must already be known (no trust on first use) and ``BatchMode`` is on, so a
    missing key fails fast instead of waiting for a password prompt nobody can answer.
    """

    default_rsh = "ssh"
    default_rcp = "scp"

    def __init__(self, hostname=None, username=None, rsh=None, rcp=None, timeout=60, port=None,
                 identity_file=None, ssh_config=None, connect_timeout=60, strict_host_key_checking="yes",
                 **unused):
        super().__init__(hostname, username, rsh, rcp, timeout, **unused)
        self.port = int(port) if port not in (None, "") else None
        self.identity_file = str(identity_file) if identity_file else None
        self.ssh_config = str(ssh_config) if ssh_config else None
        self.connect_timeout = int(float(connect_timeout))
        if str(strict_host_key_checking) not in ("yes", "accept-new"):
            raise ValueError("shell option strict_host_key_checking must be yes or accept-new")
        self.strict_host_key_checking = str(strict_host_key_checking)

    def connection_options(self, port_flag: str = "-p") -> List[str]:
        """Options shared by ssh and scp (scp spells the port option ``-P``)."""
        opts = []
        if self.ssh_config:
            opts += ["-F", self.ssh_config]
        opts += ["-oStrictHostKeyChecking=%s" % self.strict_host_key_checking,
                 "-oConnectTimeout=%d" % self.connect_timeout, "-oBatchMode=yes"]
        if self.port:
            opts += [port_flag, str(self.port)]
        if self.identity_file:
            opts += ["-i", self.identity_file]
        return opts

    def copy_argv(self, local_path: str, remote_path: str) -> List[str]:
        """scp argv copying a local file to the remote host."""
        opts = self.connection_options(port_flag="-P")
        target = "%s@%s" % (self.username, self.hostname) if self.username else self.hostname
        return list(self.rcp) + opts + ["--", local_path, "%s:%s" % (target, remote_path)]

    def copy(self, local_path: str, remote_path: str, timeout: Optional[float] = None) -> ShellResult:
        timeout = self.timeout if timeout is None else timeout
        return self._local.execute(self.copy_argv(local_path, remote_path), timeout=timeout)


class GlobusSecureShell(SecureShell):
    """SecureShell through GSI-enabled ``gsissh`` / ``gsiscp``."""

    default_rsh = "gsissh"
    default_rcp = "gsiscp"
