"""Galaxy 26's stock ``PulsarMQJobRunner`` against ``lwr.daemon`` over the real RabbitMQ, unchanged on Galaxy's side.

Galaxy publishes ``setup``/``kill`` to the exchange ``pulsar`` and reads
``status_update`` from it; the LWR daemons (default ``amqp_exchange``) serve it
next to ``lwr``.  Inputs come from Galaxy's job files API and outputs go back
to it (``remote_transfer``, the runner's default).  The destination's
``jobs_directory`` is the daemon's ``staging_directory``.

Two runners, each with its own LWR manager and daemon: ``pulsar_mq`` (plain)
and ``pulsar_mq_ack`` (``amqp_acknowledge`` + ``persistence_directory`` on
Galaxy's side, ``amqp_acknowledge`` on the LWR's, so both directions ask for
acknowledgements).  Needs ``LWR_TEST_GALAXY=1`` on a developer machine.
"""
import os
import time

import pytest

from lwr.managers.base.directory import JobDirectory
from test.amqp_harness_test import BROKER_URL, DaemonProcess, delete_queues, random_manager_name, require_broker
from test.support.galaxy import (
    ENABLE_HINT,
    PULSAR_MQ_RUNNER,
    GalaxyApi,
    GalaxyServer,
    galaxy_enabled,
    install_galaxy,
)
from test.support.server import free_port
from test.support.services import require

pytestmark = [pytest.mark.galaxy, pytest.mark.amqp, pytest.mark.slow]

TEXT = "first line\nsecond line ünïcode\n\tthird line with tab\n"
#: Tool id -> runner; one Galaxy can route a tool to one environment only.
TOOLS = {"lwr_reverse": "pulsar_mq", "lwr_fail": "pulsar_mq", "lwr_configfile": "pulsar_mq",
         "lwr_sleep": "pulsar_mq", "lwr_reverse_rewrite_parameters": "pulsar_mq_ack"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(galaxy, daemons, api)``: ``daemons`` maps runner name -> its LWR daemon."""
    require(galaxy_enabled(), ENABLE_HINT)
    require_broker()
    venv = install_galaxy()
    base = tmp_path_factory.mktemp("galaxy-pulsar-mq")
    daemons = {
        "pulsar_mq": DaemonProcess(base / "lwr", random_manager_name("gxp")),
        "pulsar_mq_ack": DaemonProcess(base / "lwr_ack", random_manager_name("gxa"),
                                       extra_conf={"amqp_acknowledge": "true", "amqp_ack_republish_time": "5"}),
    }
    port = free_port()
    runners, environments = {}, {}
    for name, daemon in daemons.items():
        runners[name] = {"load": PULSAR_MQ_RUNNER, "workers": 2, "amqp_url": BROKER_URL,
                         "manager": daemon.manager_name, "galaxy_url": "http://127.0.0.1:%d" % port}
        environments[name + "_env"] = {"runner": name, "jobs_directory": daemon.staging_directory}
    runners["pulsar_mq_ack"].update(amqp_acknowledge=True, persistence_directory=str(base / "galaxy_acks"))
    galaxy = None
    try:
        for daemon in daemons.values():
            daemon.start()
        galaxy = GalaxyServer(venv, base / "galaxy", environments,
                              {tool: runner + "_env" for tool, runner in TOOLS.items()}, port=port,
                              runners=runners, galaxy_options={"cleanup_job": "never"})
        galaxy.start()
        admin = GalaxyApi(galaxy.url)
        api = admin.as_new_user()
        api.admin = admin
        yield galaxy, daemons, api
    finally:
        if galaxy is not None:
            galaxy.stop()
        for daemon in daemons.values():
            daemon.stop()
            delete_queues(daemon.manager_name)


@pytest.fixture(scope="module")
def history(stack):
    return stack[2].new_history()


@pytest.fixture(scope="module")
def text_dataset(stack, history):
    return stack[2].upload_text(history, TEXT)


def _lwr_job(daemon, api, galaxy_job_id) -> JobDirectory:
    return JobDirectory(daemon.staging_directory, str(api.admin.job(galaxy_job_id)["external_id"]))


def _details(galaxy, offset, daemon):
    return "galaxy log:\n%s\nlwr log:\n%s" % (galaxy.log_since(offset)[-8000:], daemon.log()[-6000:])


def _reversed_lines(data: bytes) -> bytes:
    return "".join(reversed(data.decode("utf-8").splitlines(keepends=True))).encode("utf-8")


@pytest.mark.parametrize("tool_id", ["lwr_reverse", "lwr_reverse_rewrite_parameters"])
def test_transform_tool_returns_exact_output_through_the_files_api(stack, history, text_dataset, tool_id):
    galaxy, daemons, api = stack
    daemon = daemons[TOOLS[tool_id]]
    offset = galaxy.log_offset()
    run = api.run_tool(history, tool_id, {"input": {"src": "hda", "id": text_dataset}})
    job = api.wait_for_job(run["job"], timeout=180)
    assert job["state"] == "ok", (job, _details(galaxy, offset, daemon))
    uploaded = api.download(text_dataset)
    assert api.download(run["outputs"][0]) == _reversed_lines(uploaded)
    lwr_job = _lwr_job(daemon, api, run["job"])
    assert lwr_job.load_metadata("final_status") == "complete"
    inputs = os.listdir(os.path.join(lwr_job.path, "inputs"))
    assert len(inputs) == 1
    with open(os.path.join(lwr_job.path, "inputs", inputs[0]), "rb") as handle:
        assert handle.read() == uploaded  # fetched from Galaxy's job files API
    if TOOLS[tool_id] == "pulsar_mq_ack":
        log = galaxy.log_since(offset)
        ack_answers = os.path.join(daemon.persistence_directory, "%s-amqp-ack-consumed" % daemon.manager_name)
        assert os.listdir(ack_answers), "Galaxy's setup asked for an acknowledgement; the LWR recorded none"
        outbox = os.path.join(daemon.persistence_directory, "%s-status-outbox" % daemon.manager_name)
        _wait(lambda: not os.listdir(outbox), 30, "Galaxy to acknowledge every status update (%s)" % log[-3000:])


def test_failing_tool_errors_with_its_stderr_shown(stack, history):
    galaxy, daemons, api = stack
    offset = galaxy.log_offset()
    run = api.run_tool(history, "lwr_fail")
    job = api.wait_for_job(run["job"], timeout=180)
    assert job["state"] == "error", (job, _details(galaxy, offset, daemons["pulsar_mq"]))
    assert "lwr-fail-tool: something went wrong" in (job.get("tool_stderr") or ""), job
    assert job.get("exit_code") == 1, job


def test_config_file_extra_files_and_several_inputs(stack, history):
    galaxy, daemons, api = stack
    made = api.run_tool(history, "make_composite")  # runs locally in Galaxy
    assert api.wait_for_job(made["job"])["state"] == "ok"
    offset = galaxy.log_offset()
    run = api.run_tool(history, "lwr_configfile",
                       {"input": {"src": "hda", "id": made["outputs"][0]}, "greeting": "hi there"})
    job = api.wait_for_job(run["job"], timeout=180)
    assert job["state"] == "ok", (job, _details(galaxy, offset, daemons["pulsar_mq"]))
    assert api.download(run["outputs"][0]) == b"from config: hi there\nextra part\n1\n"


def test_deleting_a_running_job_kills_it_on_the_lwr(stack, history):
    galaxy, daemons, api = stack
    daemon = daemons["pulsar_mq"]
    offset = galaxy.log_offset()
    run = api.run_tool(history, "lwr_sleep", {"seconds": 120})
    job = api.wait_for_job(run["job"], timeout=120, states=("running", "ok", "error"))
    assert job["state"] == "running", (job, _details(galaxy, offset, daemon))
    lwr_job = _lwr_job(daemon, api, run["job"])
    assert lwr_job.has_metadata("running") and not lwr_job.has_metadata("final_status")
    api.delete_job(run["job"])
    _wait(lambda: lwr_job.load_metadata("final_status") == "cancelled", 60, "the LWR job to be cancelled")
    assert api.wait_for_job(run["job"], timeout=30)["state"] in ("deleted", "deleting"), api.job(run["job"])


def _wait(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))
