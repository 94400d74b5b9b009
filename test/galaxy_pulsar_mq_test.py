"""Galaxy 26's stock ``PulsarMQJobRunner`` against ``lwr.daemon`` over the real RabbitMQ, unchanged on Galaxy's side.

Galaxy publishes ``setup``/``kill`` to the exchange ``pulsar`` and reads
``status_update`` from it; the LWR daemons (default ``amqp_exchange``) serve it
next to ``lwr``.  Inputs come from Galaxy's job files API and outputs go back
to it (``remote_transfer``, the runner's default).  The destination's
``jobs_directory`` is the daemon's ``staging_directory``.

Two runners, each with its own LWR manager and daemon: ``pulsar_mq`` (plain)
and ``pulsar_mq_ack`` (``amqp_acknowledge`` + ``persistence_directory`` on
Galaxy's side, ``amqp_acknowledge`` on the LWR's, so both directions ask for
acknowledgements).  The tools are the Pulsar fixtures of
``galaxy_pulsar_rest_test.py``; every run is submitted at once, then checked.
Needs ``LWR_TEST_GALAXY=1`` on a developer machine.
"""
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from test.amqp_harness_test import BROKER_URL, DaemonProcess, delete_queues, random_manager_name, require_broker
from test.support.galaxy import PULSAR_MQ_RUNNER, GalaxyServer, galaxy_venv, reversed_lines, running
from test.support.server import free_port
from test.support.wait import wait_for

pytestmark = [pytest.mark.galaxy, pytest.mark.amqp, pytest.mark.slow]

FIRST = "first line\nsecond line ünïcode\n\tthird line with tab\n"
SECOND = "another dataset\n"
#: Tool id -> runner (one Galaxy routes a tool to one environment: the *_ack ids are copies).
TOOLS = {"pulsar_transform": "pulsar_mq", "pulsar_fail": "pulsar_mq", "pulsar_configfile": "pulsar_mq",
         "pulsar_home_tmp": "pulsar_mq", "pulsar_discover": "pulsar_mq", "lwr_sleep": "pulsar_mq",
         "pulsar_transform_ack": "pulsar_mq_ack", "pulsar_fail_ack": "pulsar_mq_ack"}
ACK_COPIES = {"pulsar_transform_ack": "pulsar_transform.xml", "pulsar_fail_ack": "pulsar_fail.xml"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(galaxy, daemons, api)``: ``daemons`` maps runner name -> its LWR daemon."""
    require_broker()
    venv = galaxy_venv()
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
    try:
        for daemon in daemons.values():
            daemon.start()
        galaxy = GalaxyServer(venv, base / "galaxy", environments,
                              {tool: runner + "_env" for tool, runner in TOOLS.items()}, port=port,
                              runners=runners, tool_copies=ACK_COPIES, galaxy_options={"cleanup_job": "never"})
        with running(galaxy) as api:
            yield galaxy, daemons, api
    finally:
        for daemon in daemons.values():
            daemon.stop()
            delete_queues(daemon.manager_name)


@pytest.fixture(scope="module")
def runs(stack):
    """Every tool run at once: ``{"history", "first", "second", "jobs": {tool: (run, finished job)}}``."""
    galaxy, daemons, api = stack
    history = api.new_history()
    first, second = api.upload_text(history, FIRST), api.upload_text(history, SECOND)
    inputs = {"pulsar_transform": {"input": {"src": "hda", "id": first}},
              "pulsar_configfile": {"first": {"src": "hda", "id": first}, "second": {"src": "hda", "id": second},
                                    "greeting": "hi there"}}
    inputs["pulsar_transform_ack"] = inputs["pulsar_transform"]
    started = {tool: api.run_tool(history, tool, inputs.get(tool)) for tool in TOOLS if tool != "lwr_sleep"}
    jobs = {tool: (run, api.wait_for_job(run["job"], timeout=300)) for tool, run in started.items()}
    return {"history": history, "first": api.download(first), "second": api.download(second), "jobs": jobs}


def _ok(stack, runs, tool):
    galaxy, daemons, api = stack
    run, job = runs["jobs"][tool]
    assert job["state"] == "ok", (tool, api.admin.job(run["job"]), galaxy.log(6000),
                                  daemons[TOOLS[tool]].log()[-6000:])
    return run


def _lwr_job(stack, tool, run) -> JobDirectory:
    galaxy, daemons, api = stack
    return JobDirectory(daemons[TOOLS[tool]].staging_directory, str(api.admin.job(run["job"])["external_id"]))


@pytest.mark.parametrize("tool", ["pulsar_transform", "pulsar_transform_ack"])
def test_transform_output_is_byte_exact_and_staged_through_the_files_api(stack, runs, tool):
    galaxy, daemons, api = stack
    run = _ok(stack, runs, tool)
    assert runs["first"].count(b"\n") == 3
    assert api.download(run["outputs"][0]) == reversed_lines(runs["first"])
    lwr_job = _lwr_job(stack, tool, run)
    assert lwr_job.load_metadata("final_status") == "complete"
    inputs = os.listdir(os.path.join(lwr_job.path, "inputs"))
    assert len(inputs) == 1
    with open(os.path.join(lwr_job.path, "inputs", inputs[0]), "rb") as handle:
        assert handle.read() == runs["first"]  # fetched from Galaxy's job files API


@pytest.mark.parametrize("tool", ["pulsar_fail", "pulsar_fail_ack"])
def test_failing_tool_errors_with_its_stderr_shown(stack, runs, tool):
    galaxy, daemons, api = stack
    run, job = runs["jobs"][tool]
    assert job["state"] == "error", job
    details = api.admin.job(run["job"])
    assert "pulsar-fail-tool: something went wrong" in (details.get("tool_stderr") or ""), details
    assert "to stdout before failing" in (details.get("tool_stdout") or ""), details
    assert details.get("exit_code") == 1, details


def test_config_file_and_several_inputs(stack, runs):
    galaxy, daemons, api = stack
    run = _ok(stack, runs, "pulsar_configfile")
    expected = b"greeting: hi there\n" + runs["first"] + runs["second"] + b"lines in first: 3\n"
    assert api.download(run["outputs"][0]) == expected


def test_home_and_tmpdir_are_the_jobs_own_and_writable(stack, runs):
    galaxy, daemons, api = stack
    run = _ok(stack, runs, "pulsar_home_tmp")
    assert api.download(run["outputs"][0]) == b"HOME is the job's home, writable\nTMPDIR is the job's tmp, writable\n"


def test_outputs_discovered_through_galaxy_json_and_a_pattern(stack, runs):
    galaxy, daemons, api = stack
    run = _ok(stack, runs, "pulsar_discover")
    listed = api.collection_elements(run["collections"]["listed"])
    assert {name: api.download(dataset) for name, dataset in listed.items()} == {"first": b"alpha\n",
                                                                                  "second": b"beta\n"}
    patterned = api.collection_elements(run["collections"]["patterned"])
    assert {name: api.download(dataset) for name, dataset in patterned.items()} == {"c1": b"gamma\n",
                                                                                     "c2": b"delta\n"}


def test_acknowledgements_went_both_ways(stack, runs):
    """Galaxy's setups were answered by the LWR; the LWR's status updates were answered by Galaxy."""
    galaxy, daemons, api = stack
    daemon = daemons["pulsar_mq_ack"]
    for tool in ("pulsar_transform_ack", "pulsar_fail_ack"):
        assert runs["jobs"][tool][1]["state"] in ("ok", "error")
    answered = os.path.join(daemon.persistence_directory, "%s-amqp-ack-consumed" % daemon.manager_name)
    assert len(os.listdir(answered)) >= 2, "Galaxy's setups asked for acknowledgements; the LWR recorded none"
    outbox = os.path.join(daemon.persistence_directory, "%s-status-outbox" % daemon.manager_name)
    wait_for(lambda: not os.listdir(outbox), 30, "Galaxy to acknowledge every status update")
    plain = daemons["pulsar_mq"]
    assert not os.listdir(os.path.join(plain.persistence_directory, "%s-amqp-ack-consumed" % plain.manager_name))


def test_deleting_a_running_job_kills_it_on_the_lwr(stack, runs):
    galaxy, daemons, api = stack
    offset = galaxy.log_offset()
    run = api.run_tool(runs["history"], "lwr_sleep", {"seconds": 120})
    job = api.wait_for_job(run["job"], timeout=120, states=("running", "ok", "error"))
    assert job["state"] == "running", (job, galaxy.log_since(offset)[-6000:], daemons["pulsar_mq"].log()[-6000:])
    lwr_job = _lwr_job(stack, "lwr_sleep", run)
    assert lwr_job.has_metadata("running") and not lwr_job.has_metadata("final_status")
    api.delete_job(run["job"])
    wait_for(lambda: lwr_job.load_metadata("final_status") == "cancelled", 60, "the LWR job to be cancelled")
    assert api.wait_for_job(run["job"], timeout=30)["state"] in ("deleted", "deleting"), api.job(run["job"])
