"""``GET /metrics``: a real server, a scripted workload, and the exposition parsed with
``prometheus_client.parser``: counters and histograms equal what the test did, label values
bounded, the token checked (and the loopback option)."""
import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lwr.lwr_client.route_table import ROUTES
from lwr.metrics import AppMetrics
from test.support.server import free_port

pytestmark = pytest.mark.server

TOKEN = "metrics-token-2468"
#: Sizes of the two inputs each successful job uploads; its output is their concatenation.
INPUT_SIZES = (1000, 23456)
OK_JOBS = 3
FAILED_JOBS = 2
RUN_SECONDS = 2


def scrape(server, token=True, headers=None):
    status, body = server.request("GET", "metrics", token=token, headers=headers)
    assert status == 200, body
    return body.decode("utf-8")


def samples(text):
    """``{(sample name, ((label, value), ...)): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_status(server, job_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        status = server.json("GET", "jobs/%s/status" % job_id)
        if status.get("complete") == "true" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def run_ok_job(server, job_id):
    server.json("POST", "jobs", {"job_id": job_id, "tool_id": "cat2"})
    names = []
    for index, size in enumerate(INPUT_SIZES):
        name = "in%d.dat" % index
        server.json("POST", "jobs/%s/files" % job_id, {"name": name, "type": "input"}, data=b"x" * size)
        names.append(name)
    job_directory = "%s/%s" % (server.staging_directory, job_id)
    # the sleep: the monitor (every 0.5 s) sees the job running, so it has a queue wait and a run time
    command = "cat %s > %s/outputs/out.dat; sleep %s" % (
        " ".join("%s/inputs/%s" % (job_directory, n) for n in names), job_directory, RUN_SECONDS)
    code, body = server.request("POST", "jobs/%s/submit" % job_id, {"command_line": command})
    assert code == 200, body
    status = wait_status(server, job_id)
    assert status["status"] == "complete", status
    code, body = server.request("GET", "jobs/%s/files" % job_id, {"name": "out.dat", "type": "output"})
    assert code == 200 and len(body) == sum(INPUT_SIZES)


def run_failing_job(server, job_id):
    """A job whose input cannot be staged (a remote_transfer from a closed port) fails before it runs."""
    server.json("POST", "jobs", {"job_id": job_id})
    unreachable = "http://127.0.0.1:%d/missing" % free_port()
    staging = {"setup": [{"name": "in.dat", "type": "input",
                          "action": {"action_type": "remote_transfer", "url": unreachable, "path": "/g/in.dat"}}]}
    code, body = server.request("POST", "jobs/%s/submit" % job_id,
                                {"command_line": "true", "remote_staging": json.dumps(staging)})
    assert code == 200, body
    status = wait_status(server, job_id)
    assert status["status"] == "failed", status


def test_a_workload_is_counted_exactly(lwr_server_factory):
    server = lwr_server_factory(app_conf={"private_key": TOKEN})
    ok_ids = ["okjob%d" % i for i in range(OK_JOBS)]
    failed_ids = ["badjob%d" % i for i in range(FAILED_JOBS)]
    for job_id in ok_ids:
        run_ok_job(server, job_id)
    for job_id in failed_ids:
        run_failing_job(server, job_id)
    assert server.request("GET", "no/such/route/okjob0")[0] == 404
    text = scrape(server)
    found = samples(text)

    jobs = OK_JOBS + FAILED_JOBS
    assert value(found, "lwr_http_requests_total", route="setup", method="POST", status="200") == jobs
    assert value(found, "lwr_http_requests_total", route="submit", method="POST", status="200") == jobs
    assert value(found, "lwr_http_requests_total", route="upload_file", method="POST", status="200") == \
        OK_JOBS * len(INPUT_SIZES)
    assert value(found, "lwr_http_requests_total", route="download_output", method="GET", status="200") == OK_JOBS
    assert value(found, "lwr_http_requests_total", route="none", method="GET", status="404") == 1
    assert value(found, "lwr_http_request_duration_seconds_count", route="upload_file", method="POST") == \
        OK_JOBS * len(INPUT_SIZES)
    assert value(found, "lwr_http_request_duration_seconds_bucket", route="upload_file", method="POST",
                 le="+Inf") == OK_JOBS * len(INPUT_SIZES)
    assert value(found, "lwr_http_request_duration_seconds_sum", route="upload_file", method="POST") > 0

    assert value(found, "lwr_staged_bytes_total", direction="in", type="input") == OK_JOBS * sum(INPUT_SIZES)
    assert value(found, "lwr_staged_files_total", direction="in", type="input") == OK_JOBS * len(INPUT_SIZES)
    assert value(found, "lwr_staged_bytes_total", direction="out", type="output") == OK_JOBS * sum(INPUT_SIZES)
    assert value(found, "lwr_staged_files_total", direction="out", type="output") == OK_JOBS
    assert value(found, "lwr_staged_seconds_total", direction="in", type="input") > 0
    staged_types = {dict(labels)["type"] for name, labels in found if name == "lwr_staged_bytes_total"}
    assert staged_types == {"input", "output"}

    # jobs: by state, finished by outcome, queue wait and run time of those seen running
    assert value(found, "lwr_jobs", manager="_default_", state="complete") == OK_JOBS
    assert value(found, "lwr_jobs", manager="_default_", state="failed") == FAILED_JOBS
    assert sum(v for (name, _labels), v in found.items() if name == "lwr_jobs") == jobs
    assert value(found, "lwr_jobs_finished_total", manager="_default_", outcome="complete") == OK_JOBS
    assert value(found, "lwr_jobs_finished_total", manager="_default_", outcome="failed") == FAILED_JOBS
    assert value(found, "lwr_job_queue_wait_seconds_count", manager="_default_") == OK_JOBS
    assert value(found, "lwr_job_run_seconds_count", manager="_default_") == OK_JOBS
    # each ran RUN_SECONDS; seen running up to one monitor interval (0.5 s) late
    assert value(found, "lwr_job_run_seconds_bucket", manager="_default_", le="1.0") == 0
    assert value(found, "lwr_job_run_seconds_bucket", manager="_default_", le="15.0") == OK_JOBS
    assert value(found, "lwr_scheduler_command_failures_total", manager="_default_") == 0

    assert value(found, "lwr_staging_disk_free_bytes") > 0
    assert value(found, "lwr_info", version=_version(), pulsar_version=_pulsar_version()) == 1
    # the scrape itself is the one request in progress, served by one busy worker of the pool
    assert value(found, "lwr_http_requests_in_progress") == 1
    assert value(found, "lwr_http_workers_busy") == 1
    assert value(found, "lwr_http_workers") >= 1
    assert value(found, "lwr_http_connections", where="worker") == 1
    assert "lwr_mq_outbox_depth" not in text and "lwr_mq_broker_connected" not in text  # no message queue

    # bounded labels: route names of the table, never a job id or a path
    routes = {dict(labels)["route"] for name, labels in found if "route" in dict(labels)}
    assert routes <= {route.name for route in ROUTES} | {"none"}
    for job_id in ok_ids + failed_ids:
        assert job_id not in text
    assert "/" not in "".join(v for _name, labels in found for _key, v in labels)

    # the job counts survive a restart (read once from disk), and leave with clean
    server.stop()
    server.start()
    found = samples(scrape(server))
    assert value(found, "lwr_jobs", manager="_default_", state="complete") == OK_JOBS
    assert value(found, "lwr_jobs", manager="_default_", state="failed") == FAILED_JOBS
    assert value(found, "lwr_jobs_finished_total", manager="_default_", outcome="complete") == 0  # a new process
    for job_id in ok_ids + failed_ids:
        assert server.request("DELETE", "jobs/%s" % job_id)[0] == 200
    found = samples(scrape(server))
    assert sum(v for (name, _labels), v in found.items() if name == "lwr_jobs") == 0


def test_failed_scheduler_commands_are_counted_by_manager(lwr_server_factory, tmp_path, monkeypatch):
    bin_directory = tmp_path / "bin"
    bin_directory.mkdir()
    qsub = bin_directory / "qsub"
    qsub.write_text("#!/bin/sh\necho 'qsub: cannot connect to server' >&2\nexit 1\n")
    qsub.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_directory, __import__("os").environ["PATH"]))
    managers = "[manager:torque]\ntype = queued_cli\njob_plugin = Torque\n"
    server = lwr_server_factory(app_conf={"private_key": TOKEN}, job_managers_ini=managers)
    server.json("POST", "managers/torque/jobs", {"job_id": "t1"})
    assert server.request("POST", "managers/torque/jobs/t1/submit", {"command_line": "true"})[0] == 200
    deadline = time.monotonic() + 30
    while server.json("GET", "managers/torque/jobs/t1/status")["complete"] != "true":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    found = samples(scrape(server))
    assert value(found, "lwr_scheduler_command_failures_total", manager="torque") == 1
    assert value(found, "lwr_jobs_finished_total", manager="torque", outcome="failed") == 1
    assert value(found, "lwr_jobs", manager="torque", state="failed") == 1
    # served under /managers/torque/ or not, a route has one name
    assert value(found, "lwr_http_requests_total", route="status", method="GET", status="200") >= 1


def test_a_resumed_upload_counts_its_bytes_once_and_its_file_once(lwr_server_factory):
    import base64
    import hashlib

    server = lwr_server_factory(app_conf={"private_key": TOKEN})
    server.json("POST", "jobs", {"job_id": "resumed"})
    data = bytes(range(256)) * 40
    upload = {"name": "big.dat", "type": "input", "upload_id": "u1"}
    server.json("POST", "jobs/resumed/files", upload, data=data[:4000])
    code, body = server.request("POST", "jobs/resumed/files", upload, data=data[4000:],
                                headers={"Content-Range": "bytes 4000-%d/%d" % (len(data) - 1, len(data))})
    assert code == 200, body
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    code, body = server.request("POST", "jobs/resumed/files", dict(upload, commit="true"), data=b"",
                                headers={"Repr-Digest": "sha-256=:%s:" % digest,
                                         "Content-Range": "bytes */%d" % len(data)})
    assert code == 200, body
    found = samples(scrape(server))
    assert value(found, "lwr_staged_bytes_total", direction="in", type="input") == len(data)
    assert value(found, "lwr_staged_files_total", direction="in", type="input") == 1
    assert value(found, "lwr_http_requests_total", route="upload_file", method="POST", status="200") == 3


def test_metrics_need_the_token(lwr_server_factory):
    server = lwr_server_factory(app_conf={"private_key": TOKEN})
    assert server.request("GET", "metrics", token=False)[0] == 401
    assert server.request("GET", "metrics", {"private_key": "wrong"}, token=False)[0] == 401
    assert server.request("GET", "metrics")[0] == 200
    found = samples(scrape(server))
    assert value(found, "lwr_http_requests_total", route="metrics", method="GET", status="401") == 2


def test_loopback_option_opens_only_metrics_and_only_without_a_proxy(lwr_server_factory):
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "metrics_allow_loopback_without_token": "true"})
    assert server.request("GET", "metrics", token=False)[0] == 200  # the test talks to 127.0.0.1
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        status, _body = server.request("GET", "metrics", token=False, headers={header: "203.0.113.9"})
        assert status == 401, header  # a proxy on this host forwarded it: the token is needed
    assert server.request("GET", "metrics", {"private_key": "wrong"}, token=False)[0] == 200
    assert server.request("GET", "jobs/j1/status", token=False)[0] == 401
    assert server.request("GET", "healthz", token=False)[0] == 401


def test_metrics_false_turns_them_off(lwr_server_factory):
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "metrics": "false"})
    status, body = server.request("GET", "metrics")
    assert status == 404 and b"metrics = false" in body
    assert server.request("GET", "metrics", token=False)[0] == 401  # off or not, the token comes first


def test_a_bad_metrics_option_refuses_to_start(tmp_path):
    from test.support.server import LwrServer

    server = LwrServer(tmp_path, app_conf={"metrics": "sometimes"})
    with pytest.raises(RuntimeError) as raised:
        server.start(timeout=20)
    assert "metrics" in str(raised.value) and "Traceback" not in str(raised.value)


def test_broker_down_is_reported(lwr_server_factory):
    url = "amqp://guest:guest@127.0.0.1:%d//" % free_port()
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "message_queue_url": url})
    found = samples(scrape(server))
    assert value(found, "lwr_mq_broker_connected") == 0
    assert ("lwr_mq_outbox_depth", (("manager", "_default_"),)) in found


@pytest.mark.amqp
def test_broker_up_and_an_empty_outbox_are_reported(lwr_server_factory):
    from test.amqp_harness_test import BROKER_URL, delete_queues, random_manager_name, require_broker

    require_broker()
    name = random_manager_name("metrics")
    managers = "[manager:%s]\ntype = queued_python\n" % name
    try:
        server = lwr_server_factory(app_conf={"private_key": TOKEN, "message_queue_url": BROKER_URL},
                                    job_managers_ini=managers)
        found = samples(scrape(server))
        assert value(found, "lwr_mq_broker_connected") == 1
        assert ("lwr_mq_outbox_depth", (("manager", name),)) in found
        assert value(found, "lwr_mq_outbox_depth", manager=name) == 0
        server.stop()
    finally:
        delete_queues(name)


def test_each_app_has_its_own_registry():
    first, second = AppMetrics(), AppMetrics()
    first.staged("in", "input", 10, 0.5)
    first.staged("in", "../../etc", 5, 0.1)  # an unknown type is counted as other
    first_text = first.exposition().decode()
    assert 'lwr_staged_bytes_total{direction="in",type="input"} 10.0' in first_text
    assert 'type="other"' in first_text and "etc" not in first_text
    assert "lwr_staged_bytes_total{" not in second.exposition().decode()


def _version():
    import lwr
    return lwr.__version__


def _pulsar_version():
    import lwr
    return lwr.PULSAR_VERSION


