"""HTCondor helpers: submit description, submit output, and user-log status checked against the
htcondor bindings (``htcondor2.JobEventLog``) on logs written by the condor_submit/condor_rm
stand-ins (HTCondor's daemons are not packaged for Debian bookworm nor on PyPI)."""
import json
import os
import subprocess
import sys
import time

import pytest

from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus, UNKNOWN
from lwr.managers.util.condor import (build_submit_description, parse_external_id, parse_user_log,
                                      submit_params_from_options, user_log_status)
from test.support.services import require
from test.support.wait import eventually, wait_for_value

STANDINS = os.path.join(os.path.dirname(__file__), "support", "condor_standins")


def test_submit_description_defaults_overrides_and_order():
    params = submit_params_from_options({"submit_universe": "docker", "submit_Request_Memory": "2G",
                                         "type": "queued_condor", "submit_": "ignored"})
    assert params == {"universe": "docker", "request_memory": "2G"}
    text = build_submit_description("/j/command.sh", "/j/stdout", "/j/stderr", "/j/job_condor.log", params)
    assert text.splitlines() == [
        "universe = docker", "getenv = true", "notification = NEVER", "request_memory = 2G",
        "executable = /j/command.sh", "output = /j/stdout", "error = /j/stderr",
        "log = /j/job_condor.log", "queue"]


@pytest.mark.parametrize("params", [{"requirements": "x\nqueue 100"}, {"executable": "/bin/evil"},
                                    {"bad key": "1"}])
def test_submit_description_rejects_injection(params):
    with pytest.raises(ValueError):
        build_submit_description("/j/c.sh", "/j/o", "/j/e", "/j/l", params)


def test_parse_external_id():
    assert parse_external_id("Submitting job(s).\n1 job(s) submitted to cluster 4711.\n") == "4711"
    with pytest.raises(ValueError):
        parse_external_id("ERROR: Failed to connect to local queue manager")


LOG = """000 (012.000.000) 2026-11-22 03:45:20 Job submitted from host: <127.0.0.1:9618?sock=schedd>
...
000 (013.000.000) 2026-11-22 03:45:20 Job submitted from host: <127.0.0.1:9618?sock=schedd>
...
001 (012.000.000) 2026-11-22 03:45:21 Job executing on host: <127.0.0.1:9618?sock=startd>
...
005 (013.000.000) 2026-11-22 03:45:22 Job terminated.
	(0) Abnormal termination (signal 9)
	(0) No core file
...
005 (012.000.000) 2026-11-22 03:45:24 Job terminated.
	(1) Normal termination (return value 3)
		Usr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage
"""


def test_user_log_status_per_cluster_and_incomplete_record():
    assert user_log_status(LOG, "13").state == status.FAILED
    assert "signal 9" in user_log_status(LOG, "13").reason
    # the 005 of cluster 12 has no closing "..." yet: still running
    assert user_log_status(LOG, "12") == JobStatus(status.RUNNING)
    assert user_log_status(LOG + "...\n", "12") == JobStatus(status.COMPLETE, 3)
    assert user_log_status("", "12") == JobStatus(status.QUEUED)
    assert user_log_status(LOG, "99") == JobStatus(status.QUEUED)


def test_unknown_event_is_explicit_unknown(caplog):
    text = "077 (001.000.000) 2026-11-22 03:45:20 Something new.\n...\n"
    assert user_log_status(text, "1") == JobStatus(UNKNOWN)
    assert "unknown HTCondor user log event 077" in caplog.text


# The bindings run in a child process: their bundled libraries abort the interpreter when Grid
# Engine's libdrmaa (libjemalloc) is already loaded, as it is after the DRMAA tests.
ORACLE = """
import json, sys
import htcondor2
events = [dict(type=int(e.type), cluster=e.cluster, **{k: v for k, v in e.items() if isinstance(v, (int, float, str, bool))})
          for e in htcondor2.JobEventLog(sys.argv[1]).events(stop_after=0)]
print(json.dumps(events))
"""


def htcondor_oracle():
    found = subprocess.run([sys.executable, "-c", "import htcondor2"], capture_output=True)
    return found.returncode == 0


def run_standin(*args, cwd):
    env = dict(os.environ, PATH=STANDINS + os.pathsep + os.environ["PATH"],
               LWR_CONDOR_STANDIN_DIR=str(cwd / "standin-state"))
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


def wait_status(log_path, cluster, timeout=20.0):
    return wait_for_value(lambda: user_log_status(log_path.read_text(), cluster), lambda found: found.done, timeout,
                          "job %s to end in %s" % (cluster, log_path), interval=0.2)


def oracle_events(log_path, cluster):
    result = subprocess.run([sys.executable, "-c", ORACLE, str(log_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [(e["type"], e) for e in json.loads(result.stdout) if e["cluster"] == int(cluster)]


@pytest.mark.condor
def test_standin_job_exit_3_log_agrees_with_htcondor_bindings(tmp_path):
    require(htcondor_oracle(), "htcondor bindings not installed (pip install htcondor)")
    script = tmp_path / "command.sh"
    script.write_text("#!/bin/sh\necho condor-out\nsleep 1\nexit 3\n")
    script.chmod(0o755)
    log = tmp_path / "job_condor.log"
    log.touch()
    (tmp_path / "job.condor.submit").write_text(build_submit_description(
        str(script), str(tmp_path / "stdout"), str(tmp_path / "stderr"), str(log), {}))
    submitted = run_standin("condor_submit", "job.condor.submit", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    cluster = parse_external_id(submitted.stdout)
    assert user_log_status(log.read_text(), cluster).state in (status.QUEUED, status.RUNNING)
    final = wait_status(log, cluster)
    assert final == JobStatus(status.COMPLETE, 3)
    assert (tmp_path / "stdout").read_text() == "condor-out\n"
    events = oracle_events(log, cluster)
    assert [code for code, _ in events] == [e.code for e in parse_user_log(log.read_text())] == [0, 1, 5]
    assert events[-1][1]["ReturnValue"] == 3 and events[-1][1]["TerminatedNormally"] is True


@pytest.mark.condor
def test_standin_condor_rm_aborts_job_and_log_agrees_with_htcondor_bindings(tmp_path):
    require(htcondor_oracle(), "htcondor bindings not installed (pip install htcondor)")
    marker = tmp_path / "finished"
    script = tmp_path / "command.sh"
    script.write_text("#!/bin/sh\nsleep 30\ntouch %s\n" % marker)
    script.chmod(0o755)
    log = tmp_path / "job_condor.log"
    (tmp_path / "job.condor.submit").write_text(build_submit_description(
        str(script), str(tmp_path / "stdout"), str(tmp_path / "stderr"), str(log), {}))
    cluster = parse_external_id(run_standin("condor_submit", "job.condor.submit", cwd=tmp_path).stdout)
    eventually(lambda: user_log_status(log.read_text(), cluster).state == status.RUNNING, 10, interval=0.2)
    removed = run_standin("condor_rm", cluster, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    final = user_log_status(log.read_text(), cluster)
    assert final.state == status.CANCELLED and "condor_rm" in final.reason
    events = oracle_events(log, cluster)
    assert [code for code, _ in events] == [0, 1, 9]
    assert "condor_rm" in events[-1][1]["Reason"]
    assert run_standin("condor_rm", cluster, cwd=tmp_path).returncode == 1  # already gone
    time.sleep(0.3)
    assert not marker.exists()
