"""LwrJobRunner over the message queue, inside a real Galaxy 26, with a real ``lwr.daemon``.

The runner's plugin-level ``url`` is the real RabbitMQ on 127.0.0.1:5672; the LWR
runs as ``lwr.daemon`` (no web server) on a random manager name, pulls each job's
inputs from Galaxy's job files API and posts the outputs back (``remote_transfer``).
Needs ``LWR_TEST_GALAXY=1`` on a developer machine (CI always runs it).
"""
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from test.amqp_harness_test import BROKER_URL, DaemonProcess, delete_queues, random_manager_name, require_broker
from test.support.galaxy import GalaxyServer, galaxy_venv, reversed_lines, running
from test.support.server import free_port
from test.support.wait import wait_for

pytestmark = [pytest.mark.galaxy, pytest.mark.amqp, pytest.mark.slow]

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(galaxy, daemon, api)``: an MQ-only LWR daemon and a Galaxy routing the test tools to it."""
    require_broker()
    venv = galaxy_venv()
    base = tmp_path_factory.mktemp("galaxy-mq-stack")
    manager = random_manager_name("gx")
    daemon = DaemonProcess(base / "lwr", manager)
    environments = {
        "lwr_mq_env": {"runner": "lwr", "jobs_directory": daemon.staging_directory,
                       "default_file_action": "remote_transfer"},
        # The docs' cluster-over-MQ example: Galaxy renders the LWR's paths, the LWR resolves requirements.
        "lwr_mq_rewrite_env": {"runner": "lwr", "jobs_directory": daemon.staging_directory,
                               "default_file_action": "remote_transfer", "rewrite_parameters": True,
                               "dependency_resolution": "remote"},
    }
    tools = {"lwr_reverse": "lwr_mq_env", "lwr_fail": "lwr_mq_env", "lwr_sleep": "lwr_mq_env",
             "lwr_wait_for_file": "lwr_mq_env", "lwr_configfile": "lwr_mq_env",
             "lwr_reverse_rewrite_parameters": "lwr_mq_rewrite_env"}
    try:
        daemon.start()
        port = free_port()
        # The broker URL, the LWR manager and Galaxy's URL (for the job files API) are plugin-level.
        runner_params = {"url": BROKER_URL, "manager": manager, "galaxy_url": "http://127.0.0.1:%d/" % port}
        galaxy = GalaxyServer(venv, base / "galaxy", environments, tools, port=port, runner_params=runner_params,
                              # The tests below read the LWR job directories after the jobs end;
                              # cleaning over the queue is tested in amqp_broker_test.py.
                              galaxy_options={"cleanup_job": "never"})
        with running(galaxy) as api:
            yield galaxy, daemon, api
    finally:
        daemon.stop()
        delete_queues(manager)


def _lwr_job(daemon, external_id) -> JobDirectory:
    return JobDirectory(daemon.staging_directory, str(external_id))


@pytest.mark.parametrize("tool_id", ["lwr_reverse", "lwr_reverse_rewrite_parameters"])
def test_reverse_tool_over_mq_finishes_ok_with_exact_output(stack, history, text_dataset, tool_id):
    galaxy, daemon, api = stack
    offset = galaxy.log_offset()
    run = api.run_tool(history, tool_id, {"input": {"src": "hda", "id": text_dataset}})
    job = api.wait_for_job(run["job"], timeout=120)
    assert job["state"] == "ok", (job, galaxy.log_since(offset)[-8000:], daemon.log()[-4000:])
    uploaded = api.download(text_dataset)
    assert uploaded.count(b"\n") == 3
    assert api.download(run["outputs"][0]) == reversed_lines(uploaded)
    # It ran on the LWR daemon, which fetched the input from Galaxy and pushed the output back.
    external_id = api.admin.job(run["job"])["external_id"]
    lwr_job = _lwr_job(daemon, external_id)
    assert lwr_job.load_metadata("final_status") == "complete"
    staging = lwr_job.load_metadata("staging_config")
    assert staging["action_mapper"]["files_endpoint"].startswith(galaxy.url + "/api/jobs/")
    inputs = os.listdir(os.path.join(lwr_job.path, "inputs"))
    assert len(inputs) == 1
    with open(os.path.join(lwr_job.path, "inputs", inputs[0]), "rb") as handle:
        assert handle.read() == uploaded


def test_config_file_and_extra_files_of_input_over_mq(stack, history):
    galaxy, daemon, api = stack
    made = api.run_tool(history, "make_composite")  # runs locally in Galaxy
    assert api.wait_for_job(made["job"])["state"] == "ok"
    run = api.run_tool(history, "lwr_configfile",
                       {"input": {"src": "hda", "id": made["outputs"][0]}, "greeting": "hi there"})
    job = api.wait_for_job(run["job"], timeout=120)
    assert job["state"] == "ok", (job, daemon.log()[-4000:])
    assert api.download(run["outputs"][0]) == b"from config: hi there\nextra part\n1\n"


def test_failing_tool_over_mq_errors_with_its_stderr_visible(stack, history):
    galaxy, daemon, api = stack
    run = api.run_tool(history, "lwr_fail")
    job = api.wait_for_job(run["job"], timeout=120)
    assert job["state"] == "error", (job, daemon.log()[-4000:])
    assert "lwr-fail-tool: something went wrong" in (job.get("tool_stderr") or job.get("stderr") or ""), job
    assert job.get("exit_code") == 1, job


def test_deleting_running_job_over_mq_cancels_lwr_job(stack, history):
    galaxy, daemon, api = stack
    run = api.run_tool(history, "lwr_sleep", {"seconds": 120})
    job = api.wait_for_job(run["job"], timeout=90, states=("running", "ok", "error"))
    assert job["state"] == "running", (job, daemon.log()[-4000:])
    external_id = api.admin.job(run["job"])["external_id"]
    lwr_job = _lwr_job(daemon, external_id)
    assert lwr_job.has_metadata("running") and not lwr_job.has_metadata("final_status")
    api.delete_job(run["job"])
    wait_for(lambda: lwr_job.load_metadata("final_status") == "cancelled", 60, "the LWR job to be cancelled")
    assert api.wait_for_job(run["job"], timeout=30)["state"] in ("deleted", "deleting"), api.job(run["job"])


def test_galaxy_restart_recovers_running_mq_job(stack, history, tmp_path):
    """Last on purpose: restarts the module's Galaxy.  The job ends only after Galaxy is back,
    so the LWR can push its output; its ``complete`` status waits in the durable queue meanwhile."""
    galaxy, daemon, api = stack
    release = tmp_path / "release"
    run = api.run_tool(history, "lwr_wait_for_file", {"path": str(release)})
    job = api.wait_for_job(run["job"], timeout=90, states=("running", "ok", "error"))
    assert job["state"] == "running", (job, daemon.log()[-4000:])
    external_id = api.admin.job(run["job"])["external_id"]
    galaxy.stop()
    lwr_job = _lwr_job(daemon, external_id)
    assert lwr_job.has_metadata("running") and not lwr_job.has_metadata("final_status")
    offset = galaxy.log_offset()
    galaxy.start()
    release.write_text("go")
    job = api.wait_for_job(run["job"], timeout=120)
    assert job["state"] == "ok", (job, galaxy.log_since(offset)[-8000:], daemon.log()[-4000:])
    assert api.download(run["outputs"][0]) == b"released\n"
    assert lwr_job.load_metadata("final_status") == "complete"
