"""The Pulsar protocol level LWR answers current clients with, over real HTTP (``paster serve``).

Requests are shaped as Galaxy 26's stock ``PulsarRESTJobRunner`` (bundled Pulsar client 0.15.16)
sends them; pulsar_check_test.py and galaxy_pulsar_rest_test.py run the real clients.
"""
import json
import os

import pytest
from packaging.version import Version

import lwr
from test.support.server import settled_listing

pytestmark = pytest.mark.server

TOKEN = "pulsar-protocol-token"


def pulsar_request(server, method, path, params=None, data=None):
    """As the Pulsar client sends it: ``private_token`` in the query, every argument a string."""
    params = dict(params or {}, private_token=TOKEN)
    return server.request(method, path, params, data=data, token=False)


def pulsar_json(server, method, path, params=None, data=None):
    code, body = pulsar_request(server, method, path, params, data)
    assert code == 200, (method, path, code, body)
    return json.loads(body)


def setup(server, job_id, **params):
    return pulsar_json(server, "POST", "jobs", dict({"job_id": job_id, "tool_id": "t", "tool_version": "1",
                                                    "use_metadata": "true"}, **params))


def upload(server, job_id, name, type, data):
    return pulsar_json(server, "POST", "jobs/%s/files" % job_id, {"name": name, "type": type}, data=data)


def galaxy_command(job_directory, galaxy_job_id="7"):
    """The shape of the command line Galaxy 26 builds for a Pulsar destination (command_factory)."""
    return ("/bin/bash %s/tool_script.sh > '../metadata/tool_stdout' 2> '../metadata/tool_stderr'; "
            "return_code=$?; echo $return_code > %s/galaxy_%s.ec; sh -c \"exit $return_code\""
            % (job_directory, job_directory, galaxy_job_id))


@pytest.fixture
def server(lwr_server_factory):
    return lwr_server_factory(app_conf={"private_key": TOKEN}, log_level="DEBUG")


def test_setup_answers_a_pulsar_version_galaxy_accepts_and_every_directory(server):
    config = setup(server, "s1", preserve_galaxy_python_environment="False", unknown_extra="x")
    version = Version(config["pulsar_version"])  # Galaxy parses it with packaging
    assert version >= Version("0.15.13.dev0")  # the last Galaxy 26 gate (dataset_collector_descriptions)
    assert config["pulsar_version"] == lwr.PULSAR_VERSION
    assert config["lwr_version"] == lwr.__version__
    job_directory = os.path.join(os.path.realpath(server.staging_directory), "s1")
    assert os.path.realpath(config["job_directory"]) == job_directory
    for key, name in (("metadata_directory", "metadata"), ("working_directory", "working"),
                      ("tools_directory", "tool_files"), ("configs_directory", "configs")):
        assert os.path.isdir(config[key]) and os.path.basename(config[key]) == name, key
    assert config["system_properties"]["separator"] == os.sep
    assert config["preserve_galaxy_python_environment"] is False
    assert "ignoring parameters unknown_extra" in server.log()


def test_galaxy_shaped_job_reports_tool_and_job_streams_separately(server):
    config = setup(server, "g1")
    jobdir = config["job_directory"]
    upload(server, "g1", "tool_script.sh", "jobdir",
           b"#!/bin/bash\necho tool says hi\necho tool complains >&2\n"
           b"echo '{\"filename\": \"named_by_galaxy_json.txt\"}' > galaxy.json\n"
           b"echo referenced > named_by_galaxy_json.txt\n"
           b"cat ../tool_files/sub/helper.txt > \"$1\"\nexit 3\n")
    upload(server, "g1", "sub/helper.txt", "tool", b"nested tool file\n")
    upload(server, "g1", "params.json", "metadata", b"{}")
    env = [{"name": "HOME", "value": '"$_GALAXY_JOB_HOME_DIR"', "raw": True, "file": None, "execute": None},
           {"execute": "echo from the job script; echo job script warning >&2"}]
    params = {
        "command_line": galaxy_command(jobdir).replace("tool_script.sh", "tool_script.sh ../outputs/dataset_1.dat"),
        "env": json.dumps(env),
        "remote_staging": json.dumps({"action_mapper": {"default_action": "transfer", "paths": []},
                                      "client_outputs": {}}),
        "submit_extras": json.dumps({"touch_outputs": ["dataset_1.dat", "dataset_2.dat"], "future_key": 1}),
        "dynamic_file_sources": json.dumps([{"path": "galaxy.json", "type": "galaxy"},
                                            {"path": "absent.json", "type": "galaxy"}]),
        "token_endpoint": json.dumps({"token_endpoint": "http://galaxy/api/jobs/x/oidc-tokens?job_key=k"}),
    }
    assert pulsar_request(server, "POST", "jobs/g1/submit", params) == (200, b"OK")
    status = server.wait_for_status("g1")
    assert status["status"] == "complete" and status["returncode"] == 3
    assert status["stdout"] == "tool says hi\n" and status["stderr"] == "tool complains\n"
    assert status["job_stdout"] == "from the job script\n"
    assert status["job_stderr"] == "job script warning\n"
    assert status["pulsar_version"] == lwr.PULSAR_VERSION
    assert status["outputs_directory_contents"] == ["dataset_1.dat", "dataset_2.dat"]  # a list, touched
    assert "tool_stdout" in status["metadata_directory_contents"]
    assert "job_stdout" in status["metadata_directory_contents"]
    assert "params.json" in status["metadata_directory_contents"]
    assert {"tool_script.sh", "metadata", "working", "home", "tmp", "galaxy_7.ec"} <= set(
        status["job_directory_contents"])
    assert os.path.realpath(status["job_directory"]) == os.path.realpath(jobdir)
    assert status["realized_dynamic_file_sources"] == [
        {"path": "galaxy.json", "type": "galaxy", "contents": '{"filename": "named_by_galaxy_json.txt"}\n'}]
    code, body = pulsar_request(server, "GET", "jobs/g1/files", {"name": "dataset_1.dat", "type": "output"})
    assert (code, body) == (200, b"nested tool file\n")
    code, body = pulsar_request(server, "GET", "jobs/g1/files", {"name": "dataset_2.dat", "type": "output"})
    assert (code, body) == (200, b"")
    code, body = pulsar_request(server, "GET", "jobs/g1/files", {"name": "tool_stderr", "type": "output_metadata"})
    assert (code, body) == (200, b"tool complains\n")
    log = server.log()
    assert "submit_extras key 'future_key' accepted and ignored" in log
    assert "token_endpoint accepted and not used" in log


def test_lwr_0_2_0_shaped_job_gets_the_job_streams_as_stdout_and_stderr(server):
    setup(server, "old1")
    assert pulsar_request(server, "POST", "jobs/old1/submit",
                          {"command_line": "echo out; echo err >&2; exit 2"}) == (200, b"OK")
    status = server.wait_for_status("old1")
    assert (status["stdout"], status["stderr"], status["returncode"]) == ("out\n", "err\n", 2)
    assert (status["job_stdout"], status["job_stderr"]) == ("out\n", "err\n")
    assert status["realized_dynamic_file_sources"] == []


def test_tool_streams_are_shrunk_to_their_head_and_tail(server):
    config = setup(server, "big")
    command = ("python3 -c \"import sys; sys.stdout.write('H' * 100000 + 'T' * 100000)\" "
               "> ../metadata/tool_stdout 2> ../metadata/tool_stderr")
    assert pulsar_request(server, "POST", "jobs/big/submit", {"command_line": command}) == (200, b"OK")
    stdout = server.wait_for_status("big")["stdout"]
    assert len(stdout.encode("utf-8")) <= 64 * 1024
    assert stdout.startswith("HHHH") and stdout.endswith("TTTT") and "\n..\n" in stdout
    assert os.path.getsize(os.path.join(config["metadata_directory"], "tool_stdout")) == 200000


def test_preserve_galaxy_python_environment_reaches_the_job_script(server):
    setup(server, "keep", preserve_galaxy_python_environment="True")
    assert pulsar_request(server, "POST", "jobs/keep/submit", {"command_line": "true"}) == (200, b"OK")
    server.wait_for_status("keep")
    with open(os.path.join(server.staging_directory, "keep", "command.sh")) as handle:
        assert "PRESERVE_GALAXY_ENVIRONMENT=True" in handle.read()


def test_job_directory_token_is_replaced_when_the_job_is_set_up_inside_submit(server):
    setup_params = {"job_id": "local1", "tool_id": "t", "tool_version": "1", "use_metadata": True}
    command = "echo __PULSAR_JOB_DIRECTORY__ __PULSAR_JOBS_DIRECTORY__"
    assert pulsar_request(server, "POST", "jobs/local1/submit",
                          {"command_line": command, "setup_params": json.dumps(setup_params)}) == (200, b"OK")
    status = server.wait_for_status("local1")
    staging = os.path.abspath(server.staging_directory)
    assert status["stdout"] == "%s %s\n" % (os.path.join(staging, "local1"), staging)


@pytest.mark.parametrize("params, message", [
    ({"cvmfsexec": json.dumps({"mode": "namespace"})}, "cvmfsexec is not supported"),
    ({"submit_extras": json.dumps({"touch_outputs": ["../../escape"]})}, "escape"),
    ({"submit_extras": json.dumps({"touch_outputs": "dataset_1.dat"})}, "touch_outputs must be a list"),
    ({"submit_extras": "[1]"}, "submit_extras"),
    ({"dynamic_file_sources": json.dumps({"path": "galaxy.json"})}, "dynamic_file_sources must be a list"),
    ({"dynamic_file_sources": "{not json"}, "dynamic_file_sources"),
])
def test_bad_current_client_parameters_are_refused_and_start_nothing(server, params, message):
    setup(server, "bad")
    code, body = pulsar_request(server, "POST", "jobs/bad/submit", dict(params, command_line="touch ran"))
    assert code == 400 and message in json.loads(body)["error"], body
    assert os.listdir(os.path.join(server.staging_directory, "bad", "working")) == []
    assert server.json("GET", "jobs/bad/status", {"private_key": TOKEN})["status"] == "preprocessing"
    assert not os.path.exists(os.path.join(server.staging_directory, "escape"))


def test_status_of_a_cleaned_job_is_lost(server):
    setup(server, "gone")
    assert pulsar_request(server, "DELETE", "jobs/gone") == (200, b"OK")
    assert settled_listing(server.staging_directory) == []
    status = pulsar_json(server, "GET", "jobs/gone/status")
    assert status["status"] == "lost" and status["complete"] == "true" and status["returncode"] is None


@pytest.mark.parametrize("setup_params, on_path", [
    ({}, True),  # an LWR 0.2.0-era client: Galaxy's lib on every job's PYTHONPATH, as 0.2.0 did
    ({"use_metadata": "true"}, False),  # a current client that did not ask for it
    ({"use_metadata": "true", "preserve_galaxy_python_environment": "True"}, True),
])
def test_galaxy_lib_on_the_tool_pythonpath(lwr_server_factory, tmp_path, setup_params, on_path):
    galaxy_home = tmp_path / "galaxy"
    (galaxy_home / "lib").mkdir(parents=True)
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "galaxy_home": str(galaxy_home)})
    config = pulsar_json(server, "POST", "jobs", dict({"job_id": "lib1"}, **setup_params))
    assert config["system_properties"]["galaxy_home"] == str(galaxy_home)
    assert pulsar_request(server, "POST", "jobs/lib1/submit", {"command_line": 'echo "$PYTHONPATH"'}) == (200, b"OK")
    stdout = server.wait_for_status("lib1")["stdout"]
    assert (str(galaxy_home / "lib") in stdout) is on_path, stdout


@pytest.mark.parametrize("params, status", [
    ({"tool_id": "not_in_the_toolbox"}, 403),  # tool authorization refuses the setup
    ({"tool_id": "tool1", "use_metadata": "perhaps"}, 400),
    ({"tool_id": "tool1", "preserve_galaxy_python_environment": "2"}, 400),
])
def test_a_setup_the_server_refuses_leaves_nothing(lwr_server_factory, params, status):
    toolbox = os.path.join(os.path.dirname(__file__), "fixtures", "toolbox", "toolbox.xml")
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "tool_config_files": toolbox})
    code, body = pulsar_request(server, "POST", "jobs", dict({"job_id": "refused"}, **params))
    assert code == status, body
    assert json.loads(body)["error"]
    assert settled_listing(server.staging_directory) == []
    assert pulsar_json(server, "GET", "jobs/refused/status")["status"] == "lost"


@pytest.mark.parametrize("setup_params, listing", [
    ({}, "working_directory_contents"),  # where LWR 0.2.0 wrote them, for 2014-era clients
    ({"use_metadata": "true"}, "metadata_directory_contents"),  # where current Galaxy reads them
])
def test_job_metrics_files_go_where_the_client_reads_them(lwr_server_factory, tmp_path, setup_params, listing):
    metrics = tmp_path / "job_metrics_conf.xml"
    metrics.write_text("<job_metrics><core/></job_metrics>\n")
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "job_metrics_config_file": str(metrics)})
    pulsar_json(server, "POST", "jobs", dict({"job_id": "metrics1"}, **setup_params))
    assert pulsar_request(server, "POST", "jobs/metrics1/submit", {"command_line": "true"}) == (200, b"OK")
    status = server.wait_for_status("metrics1")
    assert {"__instrument_core_galaxy_slots", "__instrument_core_epoch_start",
            "__instrument_core_epoch_end"} <= set(status[listing]), status
