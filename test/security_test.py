"""private_key: 401 on every route without the right token; the token never reaches a log."""
import json

import pytest

from lwr.lwr_client.route_table import MANAGER_PREFIX, ROUTES, fill_path
from lwr.web.access_log import mask_secrets

pytestmark = pytest.mark.server

TOKEN = "s3cr3t-token-value"
#: A value for each path parameter of the declared routes.
PATH_VALUES = {"job_id": "a1", "object_id": "1", "manager_name": "_default_"}


def _requests():
    """(method, path) for every declared route, at the root and under a manager; ``any``
    routes are tried with each method a client uses."""
    requests = []
    for route in ROUTES:
        for template in (route.path, MANAGER_PREFIX + route.path):
            path = fill_path(template, PATH_VALUES)[1:]
            for method in [route.method] if route.method else ["GET", "POST", "PUT", "DELETE"]:
                requests.append((method, path))
    return requests


def test_every_declared_route_and_path_parameter_is_covered():
    requests = _requests()
    assert len(requests) > 2 * len(ROUTES)
    assert all("{" not in path for _method, path in requests)
    assert {"objects/1", "managers/_default_/objects/1/exists", "object_store_usage_percent",
            "jobs", "healthz"} <= {path for _method, path in requests}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    from test.support.server import LwrServer

    base = tmp_path_factory.mktemp("sec")
    store = base / "store"
    conf = base / "object_store_conf.xml"
    conf.write_text('<object_store type="disk"><files_dir path="%s/files"/>'
                    '<extra_dir type="job_work" path="%s/job_work"/><extra_dir type="temp" path="%s/tmp"/>'
                    '</object_store>' % (store, store, store))
    server = LwrServer(base, app_conf={"private_key": TOKEN, "object_store_config_file": str(conf)}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("method,path", _requests())
@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1], TOKEN + "x", ""])
def test_every_route_refuses_missing_or_wrong_token(secured, method, path, token):
    """The token is checked before any parameter: none are needed for the 401."""
    params = {}
    if token is not None:
        params["private_key"] = token
    code, body = secured.request(method, path, params, data=b"d" if method == "POST" else None, token=False)
    assert code == 401, (code, body)
    assert "private_key" in json.loads(body)["error"]


@pytest.mark.parametrize("method,path", _requests())
def test_the_right_token_reaches_every_route(secured, method, path):
    """The control for the test above: with the token, no route answers 401 (the object store
    is configured, so its routes are really served)."""
    code, body = secured.request(method, path, {"private_key": TOKEN},
                                 data=b"d" if method == "POST" else None, token=False)
    assert code != 401 and code < 500, (code, body)
    if path.startswith("objects/") or path == "object_store_usage_percent":
        assert b"no object store" not in body, body


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
