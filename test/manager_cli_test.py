"""queued_cli through the real LWR HTTP API against the real single-node Slurm: the Slurm plugin
over LocalShell and over SecureShell (the private sshd), Torque and SlurmTorque through Slurm's
Torque wrappers; scheduler failures; plugin choice errors at start."""
import os

import pytest

from test.manager_support import (cancel, external_id, lifecycle, restart, run, start, status, submit,
                                  wait_for, TERMINAL)
from test.support.schedulers import (slurm_available, ssh_available, ssh_config_path, torque_wrapper_dir,
                                     torque_wrappers_available, SSH_HOST)
from test.support.server import LwrServer
from test.support.services import require
from test.support.wait import eventually

pytestmark = [pytest.mark.server, pytest.mark.slow]

SLURM_MANAGERS = """
[manager:_default_]
type = queued_cli
job_plugin = Slurm
# held at submission so the test sees "queued" before releasing it
job_--hold =
status_cache_seconds = 0.3

[manager:free]
type = queued_cli
job_plugin = Slurm
status_cache_seconds = 0.3

[manager:small]
type = queued_cli
job_plugin = Slurm
job_mem = 40
status_cache_seconds = 0.3

[manager:badpartition]
type = queued_cli
job_plugin = Slurm
job_partition = nosuchpartition
"""


def require_slurm():
    require(slurm_available(), "Slurm is not running (scripts/services/start-slurm.sh)")


def scontrol_release(job):
    result = run(["scontrol", "release", job])
    assert result.returncode == 0, result.stderr


def squeue_state(job):
    return run(["squeue", "-h", "-o", "%t", "-j", job]).stdout.strip()


def wait_gone_from_squeue(job, timeout=20):
    return eventually(lambda: squeue_state(job) in ("", "CA"), timeout, interval=0.3)


@pytest.fixture
def slurm_server(tmp_path):
    require_slurm()
    server = start(tmp_path / "srv", SLURM_MANAGERS)
    yield server
    server.stop()


@pytest.mark.slurm
def test_slurm_job_queued_running_complete_with_exit_code_and_output(slurm_server):
    final = lifecycle(slurm_server, "s1", release=scontrol_release)
    assert final["working_directory"].endswith(os.path.join("s1", "working"))


@pytest.mark.slurm
def test_slurm_cancel_running_job_reads_cancelled_and_leaves_squeue(slurm_server):
    submit(slurm_server, "c1", "sleep 120", manager="free")
    wait_for(slurm_server, "c1", ["running"], manager="free")
    job = external_id(slurm_server, "c1")
    assert squeue_state(job) == "R"
    cancel(slurm_server, "c1", manager="free")
    assert wait_for(slurm_server, "c1", TERMINAL, manager="free")["status"] == "cancelled"
    assert wait_gone_from_squeue(job), squeue_state(job)


@pytest.mark.slurm
def test_slurm_job_survives_a_server_restart(slurm_server):
    submit(slurm_server, "r1", "sleep 4; echo after > ../outputs/after.txt; exit 0", manager="free")
    wait_for(slurm_server, "r1", ["running"], manager="free")
    server = restart(slurm_server)
    try:
        assert status(server, "r1", manager="free")["status"] == "running"
        final = wait_for(server, "r1", TERMINAL, manager="free")
        assert (final["status"], final["returncode"]) == ("complete", 0)
        assert server.request("GET", "managers/free/jobs/r1/files", {"name": "after.txt"}) == (200, b"after\n")
    finally:
        server.stop()


MEMORY_HOG = ("python3 -c 'import time\nx = []\nfor i in range(50):\n"
              "    x.append(b\"x\" * (10 << 20)); time.sleep(0.1)'")  # written pages: they count


@pytest.mark.slurm
def test_slurm_memory_kill_reads_failed_with_a_memory_reason(slurm_server):
    # This Slurm enforces --mem by accounting (OverMemoryKill): the job ends FAILED with reason
    # JobLaunchFailure and only slurmstepd's line in the job's stderr says why.
    from lwr.galaxy.status import limit_runner_state

    submit(slurm_server, "oom", MEMORY_HOG, manager="small")
    final = wait_for(slurm_server, "oom", TERMINAL, manager="small", timeout=60)
    assert final["status"] == "failed", final
    reason = final["failure_reason"]
    assert reason.startswith("memory limit exceeded (the scheduler wrote: slurmstepd"), final
    assert "exceeded memory limit" in reason or "Exceeded job memory limit" in reason, final
    assert limit_runner_state(reason) == "MEMORY_LIMIT_REACHED"


@pytest.mark.slurm
def test_sbatch_rejecting_the_job_reads_failed_with_its_message(slurm_server):
    submit(slurm_server, "bad", "true", manager="badpartition")
    final = wait_for(slurm_server, "bad", TERMINAL, manager="badpartition")
    assert final["status"] == "failed"
    assert "invalid partition specified: nosuchpartition" in final["stderr"], final
    assert slurm_server.json("GET", "healthz")["status"] == "ok"


@pytest.mark.slurm
@pytest.mark.ssh
def test_slurm_over_secure_shell(tmp_path):
    require_slurm()
    require(ssh_available(), "private sshd is not running (scripts/services/start-sshd.sh)")
    managers = ("[manager:_default_]\ntype = queued_cli\njob_plugin = Slurm\njob_--hold =\n"
                "shell_plugin = SecureShell\nshell_hostname = %s\nshell_ssh_config = %s\n"
                "shell_connect_timeout = 10\nshell_timeout = 30\nstatus_cache_seconds = 0.5\n"
                % (SSH_HOST, ssh_config_path()))
    server = start(tmp_path / "srv", managers)
    try:
        lifecycle(server, "ssh1", release=scontrol_release)
    finally:
        server.stop()


TORQUE_MANAGERS = """
[manager:_default_]
type = queued_cli
job_plugin = Torque
job_-h =
status_cache_seconds = 0.3

[manager:slurmtorque]
type = queued_cli
job_plugin = SlurmTorque
status_cache_seconds = 0.3
"""


@pytest.mark.slurm
def test_torque_and_slurm_torque_plugins_through_slurms_torque_wrappers(tmp_path, monkeypatch):
    require(torque_wrappers_available(), "Slurm's Torque wrappers are not set up (scripts/services/start-torque-wrappers.sh)")
    # the wrappers' qsub/qstat/qdel come first on the server's PATH (Grid Engine has its own qstat)
    monkeypatch.setenv("PATH", torque_wrapper_dir() + os.pathsep + os.environ["PATH"])
    server = start(tmp_path / "srv", TORQUE_MANAGERS)
    try:
        submit(server, "st-cancel", "sleep 120", manager="slurmtorque")
        lifecycle(server, "t1", release=lambda job: run([os.path.join(torque_wrapper_dir(), "qrls"), job]))
        wait_for(server, "st-cancel", ["running"], manager="slurmtorque")
        job = external_id(server, "st-cancel")
        cancel(server, "st-cancel", manager="slurmtorque")
        assert wait_for(server, "st-cancel", TERMINAL, manager="slurmtorque")["status"] == "cancelled"
        assert wait_gone_from_squeue(job)
        submit(server, "st2", "echo st > ../outputs/st.txt; exit 4", manager="slurmtorque")
        final = wait_for(server, "st2", TERMINAL, manager="slurmtorque")
        assert (final["status"], final["returncode"]) == ("complete", 4)
    finally:
        server.stop()


FAILING_MANAGERS = """
[manager:_default_]
type = queued_cli
job_plugin = Slurm

[manager:refused]
type = queued_cli
job_plugin = Slurm
shell_plugin = SecureShell
shell_rsh = /usr/bin/ssh
shell_hostname = 127.0.0.1
shell_port = 1
shell_connect_timeout = 5

[manager:hung]
type = queued_cli
job_plugin = Slurm
shell_plugin = RemoteShell
shell_rsh = /bin/sh -c '/bin/sleep 60'
shell_hostname = headnode
shell_timeout = 1
"""


@pytest.mark.parametrize("manager, words", [
    ("_default_", ["sbatch", "No such file or directory"]),
    ("refused", ["Connection refused"]),
    ("hung", ["Execution timed out"]),
])
def test_scheduler_command_failing_reads_failed_and_server_keeps_serving(tmp_path, monkeypatch, manager, words):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sbatch to be found
    server = start(tmp_path / "srv", FAILING_MANAGERS)
    try:
        submit(server, "f1", "true", manager=manager)
        final = wait_for(server, "f1", TERMINAL, timeout=30, manager=manager)
        assert final["status"] == "failed"
        for word in words:
            assert word in final["stderr"], final
        assert server.json("GET", "healthz")["status"] == "ok"
    finally:
        server.stop()


@pytest.mark.parametrize("option, value, choices", [
    ("job_plugin", "Pbs", "Slurm, SlurmTorque, Torque"),
    ("shell_plugin", "Telnet", "GlobusSecureShell, LocalShell, RemoteShell, SecureShell"),
])
def test_unknown_plugin_stops_the_server_with_the_choices(tmp_path, option, value, choices):
    managers = "[manager:_default_]\ntype = queued_cli\n%s = %s\n" % (option, value)
    if option != "job_plugin":
        managers += "job_plugin = Slurm\n"
    server = LwrServer(tmp_path / "srv", job_managers_ini=managers)
    with pytest.raises(RuntimeError) as info:
        server.start()
    assert "unknown %s %r; choices: %s" % (option, value, choices) in str(info.value)


def test_missing_job_plugin_stops_the_server(tmp_path):
    server = LwrServer(tmp_path / "srv", job_managers_ini="[manager:_default_]\ntype = queued_cli\n")
    with pytest.raises(RuntimeError) as info:
        server.start()
    assert "option job_plugin is required; choices: Slurm, SlurmTorque, Torque" in str(info.value)
