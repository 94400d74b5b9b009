"""private_key: 401 on every route without the right token; the token never reaches a log."""
import json
import time
from urllib.parse import urlencode

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
    if method == "POST" and path.split("/")[-1] in ("status", "logout"):
        # the status page's login and logout answer 303 to the page: not followed (no cookie jar here)
        code, body, _headers = _unfollowed(secured, method, path, {"private_key": TOKEN})
    else:
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


# -- the status page's session cookie (docs/status_page.rst) ------------------------------------
def _unfollowed(server, method, path, params=None, data=None, headers=None):
    """``(status, body, headers)`` of one request, redirects not followed."""
    import http.client
    import urllib.parse

    query = "?" + urllib.parse.urlencode(params) if params else ""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, "/" + path + query, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def _login_cookie(server):
    code, _body, headers = _unfollowed(server, "POST", "status", data=urlencode({"private_key": TOKEN}),
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 303
    return headers["Set-Cookie"].split(";")[0]


COOKIE_ROUTES = [(route.method, fill_path(template, PATH_VALUES)[1:]) for route in ROUTES if route.auth != "token"
                 for template in (route.path, MANAGER_PREFIX + route.path)]


def test_the_cookie_routes_are_the_status_page_routes():
    assert sorted(route.name for route in ROUTES if route.auth != "token") == [
        "status_json", "status_login", "status_logout", "status_page", "status_script"]
    assert sorted({path for _method, path in COOKIE_ROUTES}) == sorted([
        "managers/_default_/status", "managers/_default_/status.js", "managers/_default_/status.json",
        "managers/_default_/status/logout", "status", "status.js", "status.json", "status/logout"])


@pytest.mark.parametrize("method,path", [(m, p) for m, p in _requests() if (m, p) not in COOKIE_ROUTES])
def test_the_session_cookie_opens_no_other_route(secured, method, path):
    cookie = _login_cookie(secured)
    code, body, _headers = _unfollowed(secured, method, path, headers={"Cookie": cookie},
                                       data=b"d" if method == "POST" else None)
    assert code == 401, (code, body)


@pytest.mark.parametrize("method,path", [(m, p) for m, p in COOKIE_ROUTES if not (m == "POST" and
                                                                                  p.endswith("status"))])
def test_the_session_cookie_opens_the_status_routes(secured, method, path):
    cookie = _login_cookie(secured)
    code, body, _headers = _unfollowed(secured, method, path, headers={"Cookie": cookie})
    assert code in (200, 303), (code, body)


@pytest.mark.parametrize("method,path", [(m, p) for m, p in COOKIE_ROUTES if not (m == "POST" and
                                                                                  p.endswith("status"))])
@pytest.mark.parametrize("cookie", ["lwr_status_session=forged", "lwr_status_session=99999999999.00ff",
                                    "lwr_status_session=", "other=1"])
def test_a_forged_cookie_opens_nothing(secured, method, path, cookie):
    code, body, _headers = _unfollowed(secured, method, path, headers={"Cookie": cookie})
    assert code == 401, (code, body)


def test_a_cookie_signed_with_another_key_or_expired_opens_nothing(secured):
    from lwr.web.status_auth import COOKIE_NAME, SESSION_SECONDS, cookie_value

    for value in (cookie_value("another-key"), cookie_value(TOKEN, now=time.time() - SESSION_SECONDS - 10)):
        code, _body, _headers = _unfollowed(secured, "GET", "status.json", headers={"Cookie": "%s=%s" % (COOKIE_NAME, value)})
        assert code == 401
    code, _body, _headers = _unfollowed(secured, "GET", "status.json",
                                        headers={"Cookie": "%s=%s" % (COOKIE_NAME, cookie_value(TOKEN))})
    assert code == 200  # the control: a current cookie for this key works
