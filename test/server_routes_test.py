"""Every job route over real HTTP against a real ``paster serve`` process."""
import json
import os
import sys
import time

import pytest

from test.support.server import LwrServer, settled_listing
from test.support.wait import wait_for

pytestmark = pytest.mark.server

PY = sys.executable


def wait_done(server, job_id, timeout=20, manager_prefix=""):
    manager = manager_prefix.split("/")[1] if manager_prefix else None  # "managers/<name>/"
    return server.wait_for_status(job_id, timeout=timeout, manager=manager)


def submit(server, job_id, command_line, prefix="", **params):
    params.update(command_line=command_line)
    code, body = server.request("POST", prefix + "jobs/%s/submit" % job_id, params)
    assert (code, body) == (200, b"OK")


def test_full_job_flow(lwr_server):
    config = lwr_server.json("POST", "jobs", {"job_id": "123", "tool_id": "cat1", "tool_version": "1.0"})
    staging = os.path.realpath(lwr_server.staging_directory)
    assert config["job_id"] == "123"
    assert config["path_separator"] == os.sep
    assert config["system_properties"]["separator"] == os.sep
    assert config["tool_id"] == "cat1" and config["tool_version"] == "1.0"
    for key in ("working_directory", "outputs_directory", "configs_directory", "tools_directory",
                "inputs_directory", "unstructured_files_directory"):
        assert os.path.isabs(config[key]) and config[key].startswith(os.path.join(staging, "123"))
    assert config["tools_directory"].endswith("tool_files")

    uploaded = lwr_server.json("POST", "jobs/123/files", {"name": "in.txt", "type": "input"},
                               data=b"hello input")
    assert open(uploaded["path"], "rb").read() == b"hello input"
    tool = lwr_server.json("POST", "jobs/123/files", {"name": "t.py", "type": "tool"},
                           data=b"import sys\nprint(open(sys.argv[1]).read())\n")
    assert tool["path"] == os.path.join(config["tools_directory"], "t.py")
    path = lwr_server.json("GET", "jobs/123/files/path", {"name": "out.dat", "type": "output"})
    assert path["path"] == os.path.join(config["outputs_directory"], "out.dat")

    command = "%s %s %s > %s; echo err >&2" % (PY, tool["path"], uploaded["path"], path["path"])
    submit(lwr_server, "123", command)
    status = wait_done(lwr_server, "123")
    assert status["status"] == "complete"
    assert status["returncode"] == 0
    assert status["stderr"] == "err\n"
    assert status["outputs_directory_contents"] == ["out.dat"]
    assert status["working_directory"] == config["working_directory"]
    assert status["system_properties"]["separator"] == os.sep

    code, body = lwr_server.request("GET", "jobs/123/files", {"name": "out.dat"})
    assert (code, body) == (200, b"hello input\n")
    code, body = lwr_server.request("GET", "jobs/123/files", {"name": "nope.dat"})
    assert code == 404 and "nope.dat" in json.loads(body)["error"]

    assert lwr_server.request("PUT", "jobs/123/cancel") == (200, b"OK")
    assert lwr_server.request("DELETE", "jobs/123") == (200, b"OK")
    assert settled_listing(lwr_server.staging_directory) == []
    assert lwr_server.json("GET", "jobs/123/status")["status"] == "lost"


def test_tool_exit_code_is_kept(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "e3"})
    submit(lwr_server, "e3", "echo out; exit 3")
    status = wait_done(lwr_server, "e3")
    assert (status["status"], status["returncode"], status["stdout"]) == ("complete", 3, "out\n")


def test_existing_job_id_is_409(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "dup"})
    code, body = lwr_server.request("POST", "jobs", {"job_id": "dup"})
    assert code == 409 and "already exists" in json.loads(body)["error"]


def test_second_submit_is_409(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "twice"})
    submit(lwr_server, "twice", "true")
    code, body = lwr_server.request("POST", "jobs/twice/submit", {"command_line": "true"})
    assert code == 409


@pytest.mark.parametrize("method,path,params", [
    ("POST", "jobs", {}),
    ("POST", "jobs/j1/submit", {}),
    ("POST", "jobs/j1/files", {"type": "input"}),
    ("POST", "jobs/j1/files", {"name": "x"}),
    ("GET", "jobs/j1/files/path", {"name": "x"}),
    ("GET", "jobs/j1/files", {}),
])
def test_missing_parameter_is_400_naming_it(lwr_server, method, path, params):
    lwr_server.json("POST", "jobs", {"job_id": "j1"}) if not os.path.exists(
        os.path.join(lwr_server.staging_directory, "j1")) else None
    code, body = lwr_server.request(method, path, params, data=b"" if method == "POST" else None)
    assert code == 400
    assert "missing required parameter" in json.loads(body)["error"]


@pytest.mark.parametrize("method,path,params", [
    ("POST", "jobs/ghost/submit", {"command_line": "true"}),
    ("POST", "jobs/ghost/files", {"name": "x", "type": "input"}),
    ("GET", "jobs/ghost/files/path", {"name": "x", "type": "input"}),
    ("GET", "jobs/ghost/files", {"name": "x"}),
])
def test_unknown_job_is_404_and_creates_nothing(lwr_server, method, path, params):
    code, body = lwr_server.request(method, path, params, data=b"x" if method == "POST" else None)
    assert code == 404, body
    assert "unknown job" in json.loads(body)["error"]
    assert not os.path.exists(os.path.join(lwr_server.staging_directory, "ghost"))


@pytest.mark.parametrize("method, path", [("PUT", "jobs/ghost/cancel"), ("DELETE", "jobs/ghost"),
                                          ("PUT", "managers/_default_/jobs/ghost/cancel")])
def test_cancel_and_clean_of_unknown_job_are_ok_and_create_nothing(lwr_server, method, path):
    """As Pulsar answers: Galaxy's Pulsar runners cancel a failed job after cleaning it."""
    assert lwr_server.request(method, path) == (200, b"OK")
    assert not os.path.exists(os.path.join(lwr_server.staging_directory, "ghost"))


@pytest.mark.parametrize("path", ["jobs/ghost/status", "managers/_default_/jobs/ghost/status"])
def test_status_of_unknown_job_is_lost_and_creates_nothing(lwr_server, path):
    """As Pulsar answers: Galaxy's Pulsar runners then fail the job instead of polling for ever."""
    status = lwr_server.json("GET", path)
    assert status["status"] == "lost" and status["complete"] == "true", status
    assert status["returncode"] is None and "ghost" in status["failure_reason"]
    assert status["pulsar_version"]
    assert not os.path.exists(os.path.join(lwr_server.staging_directory, "ghost"))


def test_unknown_manager_and_route(lwr_server):
    code, body = lwr_server.request("GET", "managers/nope/jobs/1/status")
    assert code == 404 and "unknown manager" in json.loads(body)["error"]
    assert lwr_server.request("GET", "no/such/route")[0] == 404
    assert lwr_server.request("GET", "jobs")[0] == 405


def test_unknown_file_type_is_400(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "ft"})
    code, body = lwr_server.request("POST", "jobs/ft/files", {"name": "x", "type": "bogus"}, data=b"1")
    assert code == 400 and "bogus" in json.loads(body)["error"]


def test_healthz(lwr_server):
    assert lwr_server.json("GET", "healthz")["status"] == "ok"


def test_pulsar_file_types(lwr_server):
    config = lwr_server.json("POST", "jobs", {"job_id": "pt"})
    job_dir = os.path.dirname(config["working_directory"])
    meta = lwr_server.json("POST", "jobs/pt/files", {"name": "m.json", "type": "metadata"}, data=b"{}")
    assert meta["path"] == os.path.join(job_dir, "metadata", "m.json")
    top = lwr_server.json("POST", "jobs/pt/files", {"name": "extra/x", "type": "jobdir"}, data=b"1")
    assert top["path"] == os.path.join(job_dir, "extra", "x")
    assert lwr_server.request("GET", "jobs/pt/files", {"name": "m.json", "type": "output_metadata"}) == (200, b"{}")
    assert lwr_server.request("GET", "jobs/pt/files", {"name": "extra/x", "type": "output_jobdir"}) == (200, b"1")
    code, _ = lwr_server.request("POST", "jobs/pt/files", {"name": "return_code", "type": "jobdir"}, data=b"0")
    assert code == 400


def test_failed_staging_reports_failed_with_reason(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "bad"})
    staging = {"setup": [{"name": "x", "type": "input",
                          "action": {"action_type": "remote_copy", "path": "/nonexistent/input.dat"}}]}
    submit(lwr_server, "bad", "true", remote_staging=json.dumps(staging))
    status = wait_done(lwr_server, "bad")
    assert status["status"] == "failed"
    assert "input.dat" in status["stderr"] and "could not launch" in status["stderr"]


def test_bad_json_and_env_are_400(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "js"})
    code, body = lwr_server.request("POST", "jobs/js/submit", {"command_line": "true", "env": "[oops"})
    assert code == 400 and "env" in json.loads(body)["error"]
    code, body = lwr_server.request("POST", "jobs/js/submit", {
        "command_line": "true", "env": json.dumps([{"name": "A;B", "value": "1"}])})
    assert code == 400 and "A;B" in json.loads(body)["error"]


def test_env_and_dependencies(lwr_server_factory, tmp_path):
    deps = tmp_path / "deps"
    (deps / "dep1" / "1.1").mkdir(parents=True)
    (deps / "dep1" / "1.1" / "env.sh").write_text("MOO=moo_override; export MOO\n")
    ini = "[manager:_default_]\ntype = queued_python\nenv_MixedCase = kept\nmin_polling_interval = 0.25\n"
    server = lwr_server_factory(app_conf={"tool_dependency_dir": str(deps)}, job_managers_ini=ini)
    server.json("POST", "jobs", {"job_id": "env1"})
    deps_description = {"requirements": [{"name": "dep1", "version": "1.1", "type": "package"}],
                        "installed_tool_dependencies": []}
    submit(server, "env1", 'echo "$MOO $MixedCase $FROM_CLIENT"',
           dependencies_description=json.dumps(deps_description),
           env=json.dumps([{"name": "FROM_CLIENT", "value": "c l"}]))
    status = wait_done(server, "env1")
    assert status["stdout"] == "moo_override kept c l\n", status


def test_named_managers(lwr_server_factory):
    ini = ("[manager:_default_]\ntype = queued_python\n\n"
           "[manager:fast]\ntype = unqueued\n\n[manager:pool]\ntype = queued_python\n"
           "max_concurrent_jobs = *\n")
    server = lwr_server_factory(job_managers_ini=ini)
    for prefix in ("managers/fast/", "managers/pool/", ""):
        job_id = "m" + prefix.replace("/", "_")
        server.json("POST", prefix + "jobs", {"job_id": job_id})
        submit(server, job_id, "echo %s" % job_id, prefix=prefix)
        assert wait_done(server, job_id, manager_prefix=prefix)["stdout"] == job_id + "\n"


def test_uuid_assign_ids(lwr_server_factory):
    server = lwr_server_factory(app_conf={"assign_ids": "uuid"})
    config = server.json("POST", "jobs", {"job_id": "42"})
    assert config["job_id"] != "42" and len(config["job_id"]) == 32


def test_cancel_running_job(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "long"})
    submit(lwr_server, "long", "sleep 60")
    lwr_server.wait_for_status("long", ["running"], timeout=10)
    assert lwr_server.request("PUT", "jobs/long/cancel") == (200, b"OK")
    assert wait_done(lwr_server, "long")["status"] == "cancelled"
    assert lwr_server.request("PUT", "jobs/long/cancel") == (200, b"OK")  # twice is safe


def test_cleaned_job_id_is_free_at_once_and_its_files_go_in_the_background(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "again"})
    big = os.urandom(1024 * 1024)
    for index in range(8):
        code, _ = lwr_server.request("POST", "jobs/again/files", {"name": "in%d.dat" % index, "type": "input"},
                                     data=big)
        assert code == 200
    assert lwr_server.request("DELETE", "jobs/again") == (200, b"OK")
    assert not os.path.exists(os.path.join(lwr_server.staging_directory, "again"))
    assert lwr_server.json("GET", "jobs/again/status")["status"] == "lost"
    lwr_server.json("POST", "jobs", {"job_id": "again"})  # the id is reusable right away
    assert sorted(settled_listing(lwr_server.staging_directory)) == ["again"]
    assert os.listdir(os.path.join(lwr_server.staging_directory, "again", "inputs")) == []


def test_trees_left_by_a_stopped_server_are_removed_at_start(tmp_path):
    staging = tmp_path / "srv" / "staging"
    leftover = staging / ".deleting-j1-abc123" / "tree" / "inputs"
    leftover.mkdir(parents=True)
    (leftover / "x.dat").write_bytes(b"x" * 1000)
    old_setup = staging / ".setup-j2-old"
    old_setup.mkdir()
    os.utime(old_setup, (time.time() - 7200, time.time() - 7200))
    recent_setup = staging / ".setup-j3-new"  # however recent, no setup of the new server
    recent_setup.mkdir()
    server = LwrServer(tmp_path / "srv").start()
    try:
        wait_for(lambda: not any(path.exists() for path in (staging / ".deleting-j1-abc123", old_setup,
                                                            recent_setup)),
                 15, lambda: "the leftovers to go: %s" % os.listdir(staging))
        server.json("POST", "jobs", {"job_id": "j3"})
    finally:
        server.stop()

