"""Job plugins against the real single-node Slurm and its Torque wrappers (LocalShell)."""
import os

import pytest

from lwr.managers import status
from lwr.managers.util.cli import CliInterface, JobStatus, LocalShell, Slurm, SlurmTorque, parse_external_id
from test.support.schedulers import slurm_available, torque_wrapper_dir, torque_wrappers_available
from test.support import wait
from test.support.services import require

pytestmark = pytest.mark.slurm


def write_script(path, headers, body):
    path.write_text("#!/bin/sh\n%s\n%s\n" % (headers, body))
    os.chmod(path, 0o755)
    return str(path)


def wait_for(check, timeout=30.0):
    return wait.wait_for(check, timeout, "the scheduler", interval=0.3)


def submit(shell, plugin, tmp_path, body, name="lwr_test"):
    out, err = str(tmp_path / "stdout"), str(tmp_path / "stderr")
    script = write_script(tmp_path / "command.sh", plugin.job_script_kwargs(out, err, name)["headers"], body)
    result = shell.execute(plugin.submit(script, out, err, name))
    assert result.returncode == 0, result.stderr
    return parse_external_id(result.stdout)


def test_slurm_job_exit_3_goes_running_then_complete_with_code_3(tmp_path):
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    shell, slurm = CliInterface({}, {"plugin": "Slurm"}).get_plugins()
    job = submit(shell, slurm, tmp_path, "echo hello; sleep 2; exit 3")
    seen = []

    def finished():
        found = slurm.job_status(shell, job)
        if not seen or seen[-1] != found.state:
            seen.append(found.state)
        return found if found.done else None

    final = wait_for(finished)
    assert final == JobStatus(status.COMPLETE, 3)
    assert status.RUNNING in seen
    assert (tmp_path / "stdout").read_text() == "hello\n"


def test_slurm_cancelled_job_reads_cancelled_and_is_gone(tmp_path):
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    shell, slurm = LocalShell(), Slurm()
    job = submit(shell, slurm, tmp_path, "sleep 60")
    wait_for(lambda: slurm.job_status(shell, job).state == status.RUNNING)
    assert shell.execute(slurm.delete(job)).returncode == 0
    final = wait_for(lambda: (lambda s: s if s.done else None)(slurm.job_status(shell, job)))
    assert final.state == status.CANCELLED and "CANCELLED" in final.reason
    squeue = shell.execute(slurm.get_single_status(job))
    assert job not in squeue.stdout.split()


def test_slurm_memory_kill_reads_failed_with_reason(tmp_path):
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    shell, slurm = LocalShell(), Slurm(mem="40M")
    body = "python3 -c 'import time\nx = []\nfor i in range(50):\n    x.append(b\"x\" * 10485760); time.sleep(0.1)'"
    job = submit(shell, slurm, tmp_path, body)
    final = wait_for(lambda: (lambda s: s if s.done else None)(slurm.job_status(shell, job)))
    assert final.state == status.FAILED and "SIGKILL" in final.reason
    assert "memory" in (tmp_path / "stderr").read_text()


def test_slurm_submit_rejected_is_nonzero_with_stderr(tmp_path):
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    shell, slurm = LocalShell(), Slurm(partition="no_such_partition")
    script = write_script(tmp_path / "c.sh", slurm.job_script_kwargs("/dev/null", "/dev/null", "x")["headers"], "true")
    result = shell.execute(slurm.submit(script))
    assert result.returncode != 0 and "partition" in result.stderr.lower()


def test_torque_wrappers_qsub_qstat_qdel(tmp_path, monkeypatch):
    require(torque_wrappers_available(), "Slurm torque wrappers missing (scripts/services/start-torque-wrappers.sh)")
    monkeypatch.setenv("PATH", torque_wrapper_dir() + os.pathsep + os.environ["PATH"])
    shell, torque = LocalShell(), SlurmTorque()
    job = submit(shell, torque, tmp_path, "echo pbs; sleep 60")
    wait_for(lambda: torque.job_status(shell, job).state == status.RUNNING)
    table = shell.execute(torque.get_status())
    assert torque.parse_status(table.stdout, [job]) == {job: JobStatus(status.RUNNING)}
    assert shell.execute(torque.delete(job)).returncode == 0
    wait_for(lambda: torque.job_status(shell, job).state == status.COMPLETE)
    assert (tmp_path / "stdout").read_text() == "pbs\n"
