"""The status page routes on a real server: login, the session cookie, the page, its JSON twin,
the job history behind them (across a restart) and ``lwr-status``."""
import http.client
import json
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from lwr.web.status_auth import COOKIE_NAME
from test.support.server import LwrServer
from test.support.wait import wait_for_value

pytestmark = pytest.mark.server

TOKEN = "status-page-T0ken-41"
HTML = {"Accept": "text/html,application/xhtml+xml"}
FAILING_STAGING = json.dumps({"setup": [{"name": "missing.dat", "type": "input", "action": {
    "action_type": "remote_transfer", "path": "missing.dat", "url": "http://127.0.0.1:9/nothing-here"}}]})


def _raw(server, method, path, data=None, headers=None):
    """``(status, body, headers)``; redirects are not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, "/" + path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def _login(server, token=TOKEN, headers=None):
    headers = dict(headers or {}, **{"Content-Type": "application/x-www-form-urlencoded"})
    return _raw(server, "POST", "status", data=urlencode({"private_key": token}), headers=headers)


def _cookie(server):
    code, _body, headers = _login(server)
    assert code == 303
    return headers["Set-Cookie"].split(";")[0]


def _report(server):
    code, body = server.request("GET", "status.json")
    assert code == 200, body
    return json.loads(body)


@pytest.fixture
def server(lwr_server_factory):
    return lwr_server_factory(app_conf={"private_key": TOKEN})


def test_a_browser_without_a_session_gets_the_login_form_and_a_script_the_json_401(server):
    code, body, headers = _raw(server, "GET", "status", headers=HTML)
    assert code == 200 and b"id=\"managers\"" not in body and b"<form class=\"login\" method=\"post\" action=\"status\">" in body
    assert b'type="password"' in body and TOKEN.encode() not in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    code, body, _headers = _raw(server, "GET", "status")
    assert code == 401 and "private_key" in json.loads(body)["error"]
    code, body, _headers = _raw(server, "GET", "status.json", headers=HTML)
    assert code == 200 and b"_default_" not in body  # the form again, never the data
    code, body, _headers = _raw(server, "GET", "status.json", headers=dict(HTML, Cookie=COOKIE_NAME + "=1.ab"))
    assert code == 401 and b"session has expired" in body


def test_login_sets_a_strict_http_only_cookie_and_redirects_without_the_token(server):
    code, _body, headers = _login(server)
    assert code == 303
    assert TOKEN not in headers["Location"] and headers["Location"].endswith("/status")
    cookie = headers["Set-Cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes
    assert "Secure" not in attributes  # plain HTTP here; see the TLS test below
    assert TOKEN not in cookie and attributes[0].startswith(COOKIE_NAME + "=")
    code, body, headers = _raw(server, "GET", "status", headers={"Cookie": attributes[0]})
    assert code == 200 and b"<h1>LWR status</h1>" in body and b'<script src="status.js"' in body
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
    code, body, headers = _raw(server, "GET", "status.js", headers={"Cookie": attributes[0]})
    assert code == 200 and headers["Content-Type"].startswith("text/javascript") and b"status.json" in body


def test_a_wrong_token_in_the_form_shows_the_form_again(server):
    code, body, headers = _login(server, "wrong", headers=HTML)
    assert code == 401 and b"That token is wrong" in body and "Set-Cookie" not in headers
    code, body, headers = _login(server, "")
    assert code == 401 and "private_key" in json.loads(body)["error"]


def test_the_cookie_is_secure_behind_tls(server):
    _code, _body, headers = _login(server, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in [part.strip() for part in headers["Set-Cookie"].split(";")]


def test_logout_clears_the_cookie(server):
    cookie = _cookie(server)
    code, _body, headers = _raw(server, "POST", "status/logout", headers={"Cookie": cookie})
    assert code == 303 and headers["Location"].endswith("/status")
    cleared = [part.strip() for part in headers["Set-Cookie"].split(";")]
    assert cleared[0] == COOKIE_NAME + "=" and "Max-Age=0" in cleared and "Path=/" in cleared


def test_the_json_twin_reports_the_server(server):
    report = _report(server)
    assert report["status"] == "ok" and report["version"] and report["uptime_seconds"] >= 0
    assert [(m["name"], m["type"], m["queue_depth"], m["running"]) for m in report["managers"]] == [
        ("_default_", "queued_python", 0, 0)]
    assert report["disk"]["free_bytes"] > 0 and report["broker"] is None
    assert report["history"] == {"enabled": True, "rows": 0, "max_days": 30, "max_rows": 10000}
    assert [w["window_seconds"] for w in report["transfers"]] == [300, 3600]
    # the warning every start logs without tool_config_files is among the last errors
    assert any(e["logger"] == "lwr.tools.authorization" and e["level"] == "WARNING" for e in report["errors"])


def _run_job(server, job_id, command, upload=None, remote_staging=None):
    assert server.request("POST", "jobs", {"job_id": job_id, "tool_id": "tool_" + job_id})[0] == 200
    if upload:
        code, body = server.request("POST", "jobs/%s/files" % job_id, {"name": "in.dat", "type": "input"}, data=upload)
        assert code == 200, body
    params = {"command_line": command}
    if remote_staging:
        params["remote_staging"] = remote_staging
    code, body = server.request("POST", "jobs/%s/submit" % job_id, params)
    assert code == 200, body


def _wait_finished(server, job_ids, timeout=60):
    """The history rows of the report once every one of ``job_ids`` is there."""
    recent = wait_for_value(lambda: {row["job_id"]: row for row in _report(server)["jobs"]["recent"]},
                            lambda rows: set(job_ids) <= set(rows), timeout, "jobs %s in the history" % job_ids,
                            interval=0.2)
    return recent


def test_finished_jobs_are_in_the_history_and_survive_a_restart(tmp_path):
    # one attempt: a failed transfer fails the job at once (retry_* would ride out an outage)
    server = LwrServer(tmp_path / "srv", app_conf={"private_key": TOKEN, "retry_max_attempts": "1"}).start()
    try:
        _run_job(server, "ok1", "exit 3", upload=b"z" * 4096)
        _run_job(server, "bad1", "true", remote_staging=FAILING_STAGING)
        finished = _wait_finished(server, ["ok1", "bad1"])
        ok, bad = finished["ok1"], finished["bad1"]
        assert (ok["state"], ok["exit_code"], ok["tool_id"], ok["bytes_in"]) == ("complete", 3, "tool_ok1", 4096)
        assert {"accepted", "preprocessing", "submitted", "finished"} <= set(ok["timestamps"])
        assert bad["state"] == "failed" and "missing.dat" in bad["failure_reason"]
        report = _report(server)
        assert report["history"]["rows"] == 2 and report["transfers"][0]["bytes_in"] == 4096
        assert report["transfers"][0]["failed"] == 1
    finally:
        server.stop()
    server.start()
    try:
        assert sorted(row["job_id"] for row in _report(server)["jobs"]["recent"]) == ["bad1", "ok1"]
    finally:
        server.stop()


def test_a_running_job_is_listed_with_its_state_and_age(server):
    _run_job(server, "slow1", "sleep 30")
    active = wait_for_value(lambda: _report(server)["jobs"]["active"],
                            lambda jobs: bool(jobs) and jobs[0]["state"] == "running", 30, "slow1 running",
                            interval=0.2)
    (job,) = active
    assert (job["job_id"], job["tool_id"], job["state"]) == ("slow1", "tool_slow1", "running")
    assert job["age_seconds"] >= 0
    assert _report(server)["managers"][0]["running"] == 1
    assert server.request("PUT", "jobs/slow1/cancel")[0] == 200


def test_a_bad_history_option_refuses_to_start(tmp_path):
    with pytest.raises(RuntimeError) as raised:
        LwrServer(tmp_path, app_conf={"job_history_max_rows": "lots"}).start(timeout=20)
    assert "job_history_max_rows = 'lots'" in str(raised.value)


def test_lwr_status_prints_the_report(server):
    command = [sys.executable, "-m", "lwr.scripts.status", server.url]
    result = subprocess.run(command + ["--private_token", TOKEN], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("LWR ") and "status: ok" in result.stdout
    assert "_default_  queued_python  ok" in result.stdout and "Staging disk: ok" in result.stdout
    as_json = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=60,
                             env={"LWR_PRIVATE_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"})
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["managers"][0]["name"] == "_default_"
    refused = subprocess.run(command + ["--private_token", "wrong"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "answered 401" in refused.stderr and refused.stderr.count("\n") == 1


def test_values_from_clients_are_escaped_in_the_page(server):
    hostile = "<img src=x onerror=alert(1)>"
    assert server.request("POST", "jobs", {"job_id": "x1", "tool_id": hostile})[0] == 200
    _run_job(server, "x2", "sleep 30")
    server.request("POST", "jobs/x1/submit", {"command_line": "sleep 30"})
    wait_for_value(lambda: _report(server)["jobs"]["active_count"], lambda count: count == 2, 30, "two active jobs")
    code, body = server.request("GET", "status")
    assert code == 200 and hostile.encode() not in body
    assert b"&lt;img src=x onerror=alert(1)&gt;" in body
    for job_id in ("x1", "x2"):
        server.request("PUT", "jobs/%s/cancel" % job_id)
