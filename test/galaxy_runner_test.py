"""LwrJobRunner inside a real Galaxy 26, sending tools to a real LWR server.

One Galaxy and one LWR serve the whole module; only the restart test (last) restarts
Galaxy.  Needs ``LWR_TEST_GALAXY=1`` on a developer machine (CI always runs it).
"""
import json
import time

import pytest

from test.support.galaxy import GalaxyServer, galaxy_venv, reversed_lines, running
from test.support.server import LwrServer, free_port
from test.support.wait import wait_for_value

pytestmark = [pytest.mark.galaxy, pytest.mark.server, pytest.mark.slow]

TOKEN = "lwr-galaxy-test-token-5b1f"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(galaxy, lwr, api)``: a started LWR server and a Galaxy routing the test tools to it."""
    venv = galaxy_venv()
    base = tmp_path_factory.mktemp("galaxy-stack")
    lwr = LwrServer(base / "lwr", app_conf={"private_key": TOKEN}).start()
    down_port = free_port()  # nothing listens here
    environments = {
        "lwr_env": {"runner": "lwr", "url": lwr.url, "private_token": TOKEN},
        "lwr_legacy_env": {"runner": "lwr", "url": "lwr://http://%s@127.0.0.1:%d" % (TOKEN, lwr.port)},
        "lwr_rewrite_env": {"runner": "lwr", "url": lwr.url, "private_token": TOKEN, "rewrite_parameters": True,
                            "dependency_resolution": "remote"},
        "lwr_bad_token_env": {"runner": "lwr", "url": lwr.url, "private_token": "not-the-token"},
        # retry_budget: the default (180 s) rides out an LWR restart; here the failure itself is tested
        "lwr_down_env": {"runner": "lwr", "url": "http://127.0.0.1:%d/" % down_port, "private_token": TOKEN,
                         "retry_budget": "10"},
    }
    tools = {
        "lwr_reverse": "lwr_env", "lwr_configfile": "lwr_env", "lwr_fail": "lwr_env", "lwr_sleep": "lwr_env",
        "lwr_reverse_legacy_url": "lwr_legacy_env", "lwr_reverse_bad_token": "lwr_bad_token_env",
        "lwr_reverse_server_down": "lwr_down_env", "lwr_reverse_rewrite_parameters": "lwr_rewrite_env",
    }
    galaxy = GalaxyServer(venv, base / "galaxy", environments, tools)
    try:
        with running(galaxy) as api:
            yield galaxy, lwr, api
    finally:
        lwr.stop()


def _lwr_status(lwr, job_id):
    return lwr.json("GET", "jobs/%s/status" % job_id)


def _failure_text(api, job, outputs):
    """Everything Galaxy shows the user about a failed job."""
    parts = [job.get("info") or "", job.get("stderr") or "", job.get("tool_stderr") or "",
             job.get("job_stderr") or ""]
    for dataset_id in outputs:
        dataset = api.dataset(dataset_id)
        parts += [dataset.get("misc_info") or "", dataset.get("misc_blurb") or ""]
    return "\n".join(parts)


def _wait_lwr_status(lwr, job_id, wanted, timeout=60):
    def read():
        code, body = lwr.request("GET", "jobs/%s/status" % job_id)
        return json.loads(body) if code == 200 else {"status": "HTTP %d" % code}
    return wait_for_value(read, lambda status: status["status"] in wanted, timeout,
                          "LWR job %s to reach %s" % (job_id, wanted), interval=0.3)


@pytest.mark.parametrize("tool_id", ["lwr_reverse", "lwr_reverse_legacy_url", "lwr_reverse_rewrite_parameters"])
def test_reverse_tool_routed_to_lwr_finishes_ok_with_exact_output(stack, history, text_dataset, tool_id):
    galaxy, lwr, api = stack
    run = api.run_tool(history, tool_id, {"input": {"src": "hda", "id": text_dataset}})
    job = api.wait_for_job(run["job"])
    assert job["state"] == "ok", (job, galaxy.log(8000))
    # Byte-exact against what Galaxy stored for the input (upload may normalise whitespace).
    uploaded = api.download(text_dataset)
    assert uploaded.count(b"\n") == 3
    assert api.download(run["outputs"][0]) == reversed_lines(uploaded)
    # It really ran on the LWR: the runner recorded the LWR job id and the server knows it.
    external_id = api.admin.job(run["job"]).get("external_id")
    assert external_id, api.admin.job(run["job"])
    # ... and, with Galaxy's cleanup_job=onsuccess, the LWR job directory is gone.
    assert _lwr_status(lwr, external_id)["status"] == "lost"


def test_config_file_and_extra_files_of_input_are_staged(stack, history):
    galaxy, lwr, api = stack
    made = api.run_tool(history, "make_composite")
    assert api.wait_for_job(made["job"])["state"] == "ok"
    run = api.run_tool(history, "lwr_configfile",
                       {"input": {"src": "hda", "id": made["outputs"][0]}, "greeting": "hi there"})
    job = api.wait_for_job(run["job"])
    assert job["state"] == "ok", (job, galaxy.log(8000))
    assert api.download(run["outputs"][0]) == b"from config: hi there\nextra part\n1\n"


def test_failing_tool_errors_with_its_stderr_visible(stack, history):
    galaxy, lwr, api = stack
    run = api.run_tool(history, "lwr_fail")
    job = api.wait_for_job(run["job"])
    assert job["state"] == "error", job
    assert "lwr-fail-tool: something went wrong" in (job.get("tool_stderr") or job.get("stderr") or ""), job
    assert job.get("exit_code") == 1, job


def test_deleting_running_job_cancels_lwr_job(stack, history):
    galaxy, lwr, api = stack
    run = api.run_tool(history, "lwr_sleep", {"seconds": 120})
    job = api.wait_for_job(run["job"], timeout=60, states=("running",) + ("ok", "error"))
    assert job["state"] == "running", job
    external_id = api.admin.job(run["job"])["external_id"]
    assert _lwr_status(lwr, external_id)["status"] == "running"
    api.delete_job(run["job"])
    status = _wait_lwr_status(lwr, external_id, ("cancelled",), timeout=60)
    assert status["status"] == "cancelled"
    assert api.wait_for_job(run["job"], timeout=30)["state"] in ("deleted", "deleting"), api.job(run["job"])


def test_lwr_server_down_fails_job_naming_the_url(stack, history, text_dataset):
    galaxy, lwr, api = stack
    started = time.monotonic()
    run = api.run_tool(history, "lwr_reverse_server_down", {"input": {"src": "hda", "id": text_dataset}})
    job = api.wait_for_job(run["job"], timeout=90)
    assert job["state"] == "error", job
    assert time.monotonic() - started < 90
    text = _failure_text(api, job, run["outputs"])
    environment_url = "http://127.0.0.1:"
    assert "Cannot reach the LWR server at %s" % environment_url in text, text


def test_wrong_token_fails_job_with_authentication_message(stack, history, text_dataset):
    galaxy, lwr, api = stack
    run = api.run_tool(history, "lwr_reverse_bad_token", {"input": {"src": "hda", "id": text_dataset}})
    job = api.wait_for_job(run["job"], timeout=60)
    assert job["state"] == "error", job
    text = _failure_text(api, job, run["outputs"])
    assert "authentication failed" in text and lwr.url in text, text


def test_galaxy_restart_recovers_running_lwr_job(stack, history):
    """Last on purpose: restarts the module's Galaxy."""
    galaxy, lwr, api = stack
    run = api.run_tool(history, "lwr_sleep", {"seconds": 25})
    job = api.wait_for_job(run["job"], timeout=60, states=("running", "ok", "error"))
    assert job["state"] == "running", job
    external_id = api.admin.job(run["job"])["external_id"]
    galaxy.stop()
    assert _lwr_status(lwr, external_id)["status"] == "running"
    offset = galaxy.log_offset()
    galaxy.start()
    job = api.wait_for_job(run["job"], timeout=120)
    assert job["state"] == "ok", (job, galaxy.log_since(offset)[-8000:])
    assert api.download(run["outputs"][0]) == b"slept 25\n"
