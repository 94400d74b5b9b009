"""Shell plugins: real local processes, command lines for ssh/rsh/gsissh, and the real private sshd."""
import time

import pytest

from lwr.managers.util.cli import GlobusSecureShell, LocalShell, RemoteShell, SecureShell, Slurm
from lwr.managers.util.cli.shell import TIMEOUT_MESSAGE, TIMEOUT_RETURNCODE
from test.support.schedulers import SSH_HOST, slurm_available, ssh_available, ssh_config_path
from test.support.services import require


def test_local_shell_returns_stdout_stderr_and_returncode():
    result = LocalShell().execute(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 3)


def test_local_shell_list_arguments_are_not_shell_parsed(tmp_path):
    result = LocalShell().execute(["echo", "$(touch %s/pwned)" % tmp_path, ";", "id"])
    assert result.stdout.strip() == "$(touch %s/pwned) ; id" % tmp_path
    assert not (tmp_path / "pwned").exists()


def test_local_shell_timeout_kills_the_whole_command(tmp_path):
    marker = tmp_path / "survived"
    start = time.monotonic()
    result = LocalShell(timeout=0.5).execute("sleep 5; touch %s" % marker)
    assert result.returncode == TIMEOUT_RETURNCODE and TIMEOUT_MESSAGE in result.stderr
    assert time.monotonic() - start < 3
    time.sleep(0.2)
    assert not marker.exists()


def test_local_shell_missing_command_is_a_result_not_an_exception():
    result = LocalShell().execute(["lwr-no-such-sbatch", "x"])
    assert result.returncode == 127 and "lwr-no-such-sbatch" in result.stderr


def test_secure_shell_command_line_has_strict_host_keys_port_and_identity():
    shell = SecureShell(hostname="head", username="galaxy", port="2222", identity_file="/k/id",
                        ssh_config="/k/cfg", connect_timeout="5")
    argv = shell.remote_argv(["sbatch", "/jobs/1/command.sh", "it's"])
    assert argv[0] == "ssh"
    for option in ("-oStrictHostKeyChecking=yes", "-oConnectTimeout=5", "-oBatchMode=yes"):
        assert option in argv
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/k/id"
    assert argv[argv.index("-F") + 1] == "/k/cfg"
    assert argv[argv.index("-l") + 1] == "galaxy"
    assert argv[-2:] == ["head", "sbatch /jobs/1/command.sh 'it'\"'\"'s'"]


def test_rsh_and_gsissh_and_custom_rsh():
    assert RemoteShell(hostname="h").remote_argv(["qstat"]) == ["rsh", "h", "qstat"]
    assert GlobusSecureShell(hostname="h").remote_argv(["qstat"])[0] == "gsissh"
    assert SecureShell(hostname="h", rsh="ssh -F /c").remote_argv(["x"])[:3] == ["ssh", "-F", "/c"]


@pytest.mark.parametrize("kwargs", [{}, {"hostname": "-oProxyCommand=x"}, {"hostname": "h", "port": "abc"},
                                    {"hostname": "h", "strict_host_key_checking": "no"}])
def test_secure_shell_bad_options_raise(kwargs):
    with pytest.raises(ValueError):
        SecureShell(**kwargs)


@pytest.mark.ssh
def test_secure_shell_runs_on_the_real_sshd():
    require(ssh_available(), "private sshd not running (scripts/services/start-sshd.sh)")
    shell = SecureShell(hostname=SSH_HOST, ssh_config=ssh_config_path(), connect_timeout=5)
    result = shell.execute(["sh", "-c", "echo \"$1\"; exit 4", "sh", "a b;c"])
    assert (result.stdout, result.returncode) == ("a b;c\n", 4)


@pytest.mark.ssh
def test_secure_shell_unknown_host_key_is_refused(tmp_path):
    require(ssh_available(), "private sshd not running (scripts/services/start-sshd.sh)")
    config = open(ssh_config_path()).read().replace("UserKnownHostsFile", "UserKnownHostsFile %s #" % (tmp_path / "kh"))
    (tmp_path / "cfg").write_text(config)
    result = SecureShell(hostname=SSH_HOST, ssh_config=str(tmp_path / "cfg"), connect_timeout=5).execute(["true"])
    assert result.returncode == 255 and "Host key verification failed" in result.stderr


@pytest.mark.ssh
@pytest.mark.slurm
def test_secure_shell_submits_to_real_slurm(tmp_path):
    require(ssh_available(), "private sshd not running (scripts/services/start-sshd.sh)")
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    shell = SecureShell(hostname=SSH_HOST, ssh_config=ssh_config_path(), connect_timeout=5)
    slurm = Slurm()
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\n%s\nexit 0\n" % slurm.job_script_kwargs(str(tmp_path / "o"), str(tmp_path / "e"), "lwr_ssh")["headers"])
    result = shell.execute(slurm.submit(str(script)))
    assert result.returncode == 0, result.stderr
    job = result.stdout.split()[-1]
    assert slurm.job_status(shell, job).state in ("queued", "running", "complete")
    shell.execute(slurm.delete(job))
