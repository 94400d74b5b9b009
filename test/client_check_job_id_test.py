"""``run_client_tests.py`` against LWR 0.2.0's answers: job ids, missing outputs, local setup.

It finds a job id without asking an unknown job's status.

LWR 0.2.0 (Python 2, not installable from PyPI) answers any unknown job's status with 200
"preprocessing", fails (500) a setup of an existing id and answers a missing output's download
with a bare 500 (spec section 1.2); a small HTTP double answers as it does.  (The whole check
also passed against a 0.2.0 server assembled by hand under Python 2.7; see docs/testing.rst.)
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from lwr.lwr_client import build_client_manager
from lwr.lwr_client.exceptions import TransportError
from lwr.lwr_client.test import check
from lwr.lwr_client.transport.retry import RetryPolicy, set_default_retry

TOKEN = "check-job-id-token"


class _Lwr020Double(BaseHTTPRequestHandler):
    """Setup and status as LWR 0.2.0 answers them."""

    def log_message(self, format, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        url = urlparse(self.path)
        self.server.requests.append(("POST", url.path))
        job_id = parse_qs(url.query)["job_id"][0]
        if job_id in self.server.jobs:  # os.mkdir of an existing directory: an internal error
            self._answer(500, {"error": "OSError: File exists"})
            return
        self.server.jobs.add(job_id)
        base = "/staging/%s" % job_id
        self._answer(200, {"job_id": job_id, "working_directory": base + "/working",
                           "outputs_directory": base + "/outputs", "configs_directory": base + "/configs",
                           "path_separator": "/", "system_properties": {"separator": "/"}})

    def do_GET(self):
        path = urlparse(self.path).path
        self.server.requests.append(("GET", path))
        if path.endswith("/files"):  # HTTPNotFound raised outside 0.2.0's error handling
            self._answer(500, {"error": "Internal Server Error"})
            return
        self._answer(200, {"complete": "false", "status": "preprocessing"})  # for any job id


@pytest.fixture(autouse=True)
def short_retries():
    """0.2.0's 500s are retried like any 5xx: a short budget, not the default 180 s."""
    set_default_retry(RetryPolicy(attempts=3, initial_backoff=0.05, budget=5))
    yield
    set_default_retry(None)


@pytest.fixture
def lwr_0_2_0():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Lwr020Double)
    server.requests, server.jobs = [], set()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _set_up(url, job_id=None):
    manager = build_client_manager()
    try:
        return check._set_up_job(manager, {"url": url, "private_token": TOKEN}, check.MockTool("/t"), job_id,
                                 lambda message: None)
    finally:
        manager.shutdown()


def test_job_id_is_set_up_against_lwr_0_2_0_without_a_status_probe(lwr_0_2_0):
    client, config = _set_up("http://127.0.0.1:%d/" % lwr_0_2_0.server_address[1])
    assert config["job_id"] == client.job_id and client.job_id.isdigit() and len(client.job_id) == 9
    assert lwr_0_2_0.requests == [("POST", "/jobs")]  # no status request: 0.2.0 would say "preprocessing"


def test_a_taken_id_on_lwr_0_2_0_is_reported_not_retried(lwr_0_2_0):
    """0.2.0 answers 500, not 409, for an existing id: that is an error, never a free id."""
    url = "http://127.0.0.1:%d/" % lwr_0_2_0.server_address[1]
    _set_up(url, job_id="424242")
    with pytest.raises(TransportError) as raised:
        _set_up(url, job_id="424242")
    assert raised.value.status == 500


@pytest.mark.server
def test_a_taken_id_on_this_server_is_skipped(lwr_server_factory, monkeypatch):
    server = lwr_server_factory(app_conf={"private_key": TOKEN})
    server.json("POST", "jobs", {"job_id": "111111111"})
    ids = iter(["111111111", "222222222"])
    monkeypatch.setattr(check, "_random_job_id", lambda: next(ids))
    client, config = _set_up(server.url)
    assert client.job_id == "222222222" and config["job_id"] == "222222222"
    assert server.json("GET", "jobs/222222222/status")["status"] == "preprocessing"


def test_a_missing_output_is_a_500_on_lwr_0_2_0_and_accepted_only_there(lwr_0_2_0, tmp_path):
    client, _ = _set_up("http://127.0.0.1:%d/" % lwr_0_2_0.server_address[1])
    said = []
    check._check_missing_output(client, str(tmp_path), said.append, legacy_server=True)
    assert "HTTP 500" in said[-1] and not (tmp_path / "dataset_1.datx").exists()
    with pytest.raises(TransportError):  # a current server's 500 is a failure, not a missing output
        check._check_missing_output(client, str(tmp_path), said.append, legacy_server=False)


@pytest.mark.parametrize("action", [None, "transfer", "copy", "none"])
def test_local_setup_needs_an_action_the_remote_side_fetches_itself(action, capsys):
    argv = ["--jobs_directory", "/staging", "--suppress_output"] + (["--default_file_action", action] if action else [])
    assert check.main(argv) == 1
    assert "--jobs_directory needs --default_file_action remote_copy or remote_transfer" in capsys.readouterr().err
