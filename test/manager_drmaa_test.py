"""queued_drmaa through the real LWR HTTP API against real Grid Engine 8.1.9 and its DRMAA library."""
import os
import time

import pytest

from test.manager_support import (cancel, external_id, job_file, lifecycle, restart, run, start, status, submit,
                                  wait_for, TERMINAL)
from test.support.schedulers import drmaa_problem, sge_available
from test.support.server import LwrServer
from test.support.services import require
from test.support import wait

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.drmaa]

MANAGERS = """
[manager:_default_]
type = queued_drmaa
# held at submission so the test sees "queued" before releasing it
native_specification = -h
status_cache_seconds = 0.3

[manager:free]
type = queued_drmaa
status_cache_seconds = 0.3
"""


def sge_queue_ready() -> bool:
    """A queue instance is up (an execd reports load and no u/d/E state flag)."""
    for line in run(["qstat", "-f"]).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 5 and "@" in fields[0] and fields[3] != "-NA-" and len(fields) == 5:
            return True
    return False


def require_drmaa():
    require(sge_available() and sge_queue_ready(),
            "Grid Engine (qmaster and execd) is not running (scripts/services/start-sge.sh)")
    problem = drmaa_problem()
    require(problem is None, problem or "")


def qrls(job):
    result = run(["qrls", job])
    assert result.returncode == 0, result.stderr


def sge_knows(job) -> bool:
    return run(["qstat", "-j", job]).returncode == 0


def wait_sge_forgets(job, timeout=20) -> bool:
    return wait.eventually(lambda: not sge_knows(job), timeout, interval=0.3)


@pytest.fixture
def server(tmp_path):
    require_drmaa()
    server = start(tmp_path / "srv", MANAGERS)
    yield server
    server.stop()


def test_drmaa_job_queued_running_complete_with_exit_code_and_output(server):
    lifecycle(server, "d1", release=qrls)


def test_drmaa_cancel_running_job_reads_cancelled_and_grid_engine_forgets_it(server):
    submit(server, "c1", "sleep 120", manager="free")
    wait_for(server, "c1", ["running"], manager="free")
    job = external_id(server, "c1")
    assert sge_knows(job)
    cancel(server, "c1", manager="free")
    assert wait_for(server, "c1", TERMINAL, manager="free")["status"] == "cancelled"
    assert wait_sge_forgets(job)


def test_drmaa_job_survives_a_server_restart_and_one_finished_meanwhile_too(server):
    submit(server, "r1", "sleep 5; echo after > ../outputs/after.txt; exit 2", manager="free")
    submit(server, "quick", "exit 6", manager="free")
    wait_for(server, "r1", ["running"], manager="free")
    # killed once Grid Engine has "quick" (a kill while it is being submitted fails it on purpose:
    # LWR does not know whether the scheduler took it, and does not risk running it twice)
    wait.wait_for(lambda: os.path.exists(job_file(server, "quick", "external_id")), 30,
                  lambda: status(server, "quick", manager="free"), interval=0.1)
    server.kill()
    # "quick" ends while no LWR is watching: the new DRMAA session does not know it any more
    time.sleep(2)
    server = restart(server)
    try:
        assert status(server, "r1", manager="free")["status"] == "running"
        quick = wait_for(server, "quick", TERMINAL, manager="free")
        assert (quick["status"], quick["returncode"]) == ("complete", 6), quick
        final = wait_for(server, "r1", TERMINAL, manager="free")
        assert (final["status"], final["returncode"]) == ("complete", 2)
        assert server.request("GET", "managers/free/jobs/r1/files", {"name": "after.txt"}) == (200, b"after\n")
    finally:
        server.stop()


def test_grid_engine_walltime_kill_reads_failed_with_the_reason(server):
    # the client's native specification (Galaxy's submit_native_specification) sets h_rt
    submit(server, "w1", "sleep 60", params={"native_specification": "-l h_rt=0:0:3"}, manager="free")
    final = wait_for(server, "w1", TERMINAL, timeout=60, manager="free")
    assert final["status"] == "failed", final
    assert "h_rt" in final["stderr"] and "h_rt" in final["failure_reason"], final


def test_native_specification_grid_engine_rejects_reads_failed(server):
    submit(server, "bad", "true", params={"native_specification": "-l no_such_resource=1"}, manager="free")
    final = wait_for(server, "bad", TERMINAL, manager="free")
    assert final["status"] == "failed"
    assert "DRMAA refused the job" in final["stderr"] and "no_such_resource" in final["stderr"], final


def test_missing_drmaa_library_stops_the_server_saying_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("DRMAA_LIBRARY_PATH", raising=False)
    server = LwrServer(tmp_path / "srv", job_managers_ini="[manager:_default_]\ntype = queued_drmaa\n")
    with pytest.raises(RuntimeError) as info:
        server.start()
    assert "DRMAA_LIBRARY_PATH is not set" in str(info.value) and "local_env.sh" in str(info.value)
