"""queued_pbs (Torque plugin over LocalShell by default) through the real LWR HTTP API, against
Slurm's Torque wrappers (the real qsub/qstat/qdel of slurm-wlm-torque)."""
import os

import pytest

from test.manager_support import cancel, external_id, lifecycle, run, start, submit, wait_for, TERMINAL
from test.support.schedulers import torque_wrapper_dir, torque_wrappers_available
from test.support.services import require
from test.support.wait import wait_for_value

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.slurm]

MANAGERS = """
[manager:_default_]
type = queued_pbs
# qsub -h: held at submission so the test sees "queued" before releasing it (qrls)
job_-h =
status_cache_seconds = 0.3

[manager:free]
type = queued_pbs
status_cache_seconds = 0.3
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    require(torque_wrappers_available(), "Slurm's Torque wrappers are not set up (scripts/services/start-torque-wrappers.sh)")
    monkeypatch.setenv("PATH", torque_wrapper_dir() + os.pathsep + os.environ["PATH"])
    server = start(tmp_path / "srv", MANAGERS)
    yield server
    server.stop()


def qstat_state(job):
    result = run([os.path.join(torque_wrapper_dir(), "qstat"), job])
    return result.returncode, result.stdout


def test_pbs_job_queued_running_complete_with_exit_code_and_output(server):
    lifecycle(server, "p1", release=lambda job: run([os.path.join(torque_wrapper_dir(), "qrls"), job]))


def test_pbs_cancel_running_job_reads_cancelled_and_qstat_shows_it_gone(server):
    submit(server, "c1", "sleep 120", manager="free")
    wait_for(server, "c1", ["running"], manager="free")
    job = external_id(server, "c1")
    cancel(server, "c1", manager="free")
    assert wait_for(server, "c1", TERMINAL, manager="free")["status"] == "cancelled"
    wait_for_value(lambda: qstat_state(job), lambda found: found[0] != 0 or " R " not in found[1], 20,
                   "qstat to show job %s gone" % job, interval=0.3)
