"""private_key: 401 on every route without the right token; the token never reaches a log."""
import json

import pytest

from lwr.web.access_log import mask_secrets

pytestmark = pytest.mark.server

TOKEN = "s3cr3t-token-value"
ROUTES = [
    ("POST", "jobs", {"job_id": "a1"}),
    ("GET", "jobs/a1/status", {}),
    ("PUT", "jobs/a1/cancel", {}),
    ("DELETE", "jobs/a1", {}),
    ("POST", "jobs/a1/submit", {"command_line": "true"}),
    ("POST", "jobs/a1/files", {"name": "x", "type": "input"}),
    ("GET", "jobs/a1/files/path", {"name": "x", "type": "input"}),
    ("GET", "jobs/a1/files", {"name": "x"}),
    ("GET", "healthz", {}),
    ("GET", "cache/status", {"path": "/x"}),
    ("PUT", "cache", {"path": "/x"}),
    ("POST", "cache", {"path": "/x"}),
    ("GET", "managers/_default_/jobs/a1/status", {}),
]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    from test.support.server import LwrServer

    server = LwrServer(tmp_path_factory.mktemp("sec"), app_conf={"private_key": TOKEN}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("method,path,params", ROUTES)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1], TOKEN + "x", ""])
def test_every_route_refuses_missing_or_wrong_token(secured, method, path, params, token):
    params = dict(params)
    if token is not None:
        params["private_key"] = token
    code, body = secured.request(method, path, params, data=b"d" if method == "POST" else None, token=False)
    assert code == 401, (code, body)
    assert "private_key" in json.loads(body)["error"]


def test_token_accepted_as_private_key_or_private_token(secured):
    assert secured.request("GET", "healthz", {"private_key": TOKEN}, token=False)[0] == 200
    assert secured.request("GET", "healthz", {"private_token": TOKEN}, token=False)[0] == 200


def test_token_never_logged(secured):
    secured.request("GET", "jobs/zz/status", {"private_key": TOKEN}, token=False)
    secured.request("GET", "jobs/zz/status", {"private_key": "wrong-" + TOKEN}, token=False)
    log = secured.log()
    assert "jobs/zz/status" in log  # the access log is on...
    assert TOKEN not in log  # ...and masks the token


def test_mask_secrets():
    assert mask_secrets("a=1&private_token=x&private_key=y") == "a=1&private_token=********&private_key=********"
