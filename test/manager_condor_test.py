"""queued_condor through the real LWR HTTP API.  HTCondor's daemons are not packaged for Debian
bookworm nor on PyPI, so ``condor_submit``/``condor_rm`` are the stand-ins of
test/support/condor_standins: they really run the job and write HTCondor-format user logs (their
format is checked against the htcondor bindings in condor_util_test.py)."""
import os
import shutil

import pytest

from test.manager_support import (cancel, lifecycle, process_gone, restart, start, status, submit, wait_for,
                                  TERMINAL)
from test.support.server import REPO_ROOT
from test.support.services import require

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.condor]

STANDINS = os.path.join(REPO_ROOT, "test", "support", "condor_standins")

MANAGERS = """
[manager:_default_]
type = queued_condor
status_cache_seconds = 0
submit_request_memory = 32
submit_requirements = (OpSys == "LINUX")
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    require(os.access(os.path.join(STANDINS, "condor_submit"), os.X_OK) and bool(shutil.which("python3")),
            "HTCondor stand-ins (test/support/condor_standins) or python3 missing")
    monkeypatch.setenv("PATH", STANDINS + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("LWR_CONDOR_STANDIN_DIR", str(tmp_path / "standin-state"))
    server = start(tmp_path / "srv", MANAGERS)
    yield server
    server.stop()


def test_condor_job_queued_running_complete_with_exit_code_and_output(server):
    lifecycle(server, "k1")
    job_directory = os.path.join(server.staging_directory, "k1")
    with open(os.path.join(job_directory, "job.condor.submit")) as handle:
        description = handle.read()
    for line in ("universe = vanilla", "getenv = true", "notification = NEVER", "request_memory = 32",
                 'requirements = (OpSys == "LINUX")', "log = %s/job_condor.log" % job_directory):
        assert line + "\n" in description
    assert description.endswith("queue\n")


def test_condor_rm_cancels_a_running_job(server):
    submit(server, "c1", "sleep 120")
    wait_for(server, "c1", ["running"])
    cancel(server, "c1")
    assert wait_for(server, "c1", TERMINAL)["status"] == "cancelled"
    assert process_gone(server, "c1")
    with open(os.path.join(server.staging_directory, "c1", "job_condor.log")) as handle:
        assert "Job was aborted" in handle.read()


def test_condor_job_survives_a_server_restart(server):
    submit(server, "r1", "sleep 3; echo after > ../outputs/after.txt; exit 9")
    wait_for(server, "r1", ["running"])
    server = restart(server)
    try:
        assert status(server, "r1")["status"] == "running"
        final = wait_for(server, "r1", TERMINAL)
        assert (final["status"], final["returncode"]) == ("complete", 9)
        assert server.request("GET", "jobs/r1/files", {"name": "after.txt"}) == (200, b"after\n")
    finally:
        server.stop()


def test_condor_submit_missing_reads_failed_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    server = start(tmp_path / "srv", MANAGERS)
    try:
        submit(server, "m1", "true")
        final = wait_for(server, "m1", TERMINAL)
        assert final["status"] == "failed"
        assert "condor_submit failed" in final["stderr"] and "No such file" in final["stderr"], final
        assert server.json("GET", "healthz")["status"] == "ok"
    finally:
        server.stop()


def test_bad_submit_option_stops_the_server(tmp_path):
    from test.support.server import LwrServer
    server = LwrServer(tmp_path / "srv", job_managers_ini="[manager:_default_]\ntype = queued_condor\n"
                                                         "submit_executable = /bin/evil\n")
    with pytest.raises(RuntimeError) as info:
        server.start()
    assert "condor submit parameter executable is set by LWR" in str(info.value)
