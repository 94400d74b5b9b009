"""Bad input that used to answer 500: over-long name components, deeply nested JSON, and the text
of internal errors.  Each must be a 4xx naming the problem, never a server path in the body."""
import json
import os
import urllib.parse

import pytest
from webob import Request

from lwr.messaging.handlers import MalformedMessage, decode_body
from lwr.util import MAX_JSON_DEPTH, JsonTooDeep, loads_bounded
from lwr.lwr_client.route_table import Route
from lwr.web.framework import RoutingApp, redact_paths

pytestmark = pytest.mark.server

LONG = "n" * 256  # one byte over NAME_MAX
FILE_TYPES = ["input", "unstructured", "config", "tool", "workdir", "metadata", "jobdir", "output",
              "output_workdir", "output_metadata"]
SUBMIT_JSON_PARAMS = ["params", "env", "dependencies_description", "remote_staging", "setup_params",
                      "submit_extras", "dynamic_file_sources", "cvmfsexec"]


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from test.support.server import LwrServer

    server = LwrServer(tmp_path_factory.mktemp("badinput") / "srv").start()
    server.json("POST", "jobs", {"job_id": "j"})
    yield server
    server.stop()


def assert_clean_4xx(server, code, body, *words):
    assert 400 <= code < 500, (code, body)
    message = json.loads(body)["error"]
    for word in words:
        assert word in message, message
    assert server.directory.encode() not in body and os.path.realpath(server.directory).encode() not in body


#: (method, route, type): uploads take the input types, path and download lookups take every type.
FILE_REQUESTS = [("POST", "jobs/j/files", t) for t in FILE_TYPES if not t.startswith("output")] + \
    [(method, path, t) for method, path in (("GET", "jobs/j/files/path"), ("GET", "jobs/j/files"))
     for t in FILE_TYPES]


@pytest.mark.parametrize("name", [LONG, "sub/" + LONG, "ü" * 128])  # 128 x 2 bytes in UTF-8
@pytest.mark.parametrize("method, path, file_type", FILE_REQUESTS)
def test_name_component_over_255_bytes_is_a_400(server, method, path, file_type, name):
    code, body = server.request(method, path, {"name": name, "type": file_type},
                                data=b"x" if method == "POST" else None)
    assert_clean_4xx(server, code, body, "longer than 255 bytes")


def test_255_byte_component_still_works(server):
    name = "k" * 255
    uploaded = server.json("POST", "jobs/j/files", {"name": name, "type": "input"}, data=b"ok")
    assert os.path.basename(uploaded["path"]) == name
    assert open(uploaded["path"], "rb").read() == b"ok"


@pytest.mark.parametrize("param", SUBMIT_JSON_PARAMS)
def test_deeply_nested_json_in_submit_is_a_400(server, param):
    job_id = "deep-" + param.replace("_", "-")
    server.json("POST", "jobs", {"job_id": job_id})
    # As a form body: a query string this long is refused before the application (414).
    form = urllib.parse.urlencode({"command_line": "touch ../ran", param: nested(100000)}).encode()
    code, body = server.request("POST", "jobs/%s/submit" % job_id, data=form,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_clean_4xx(server, code, body, param, "nested")
    job_directory = os.path.join(server.staging_directory, job_id)
    assert not os.path.exists(os.path.join(job_directory, "launch_config"))
    assert server.json("GET", "jobs/%s/status" % job_id)["status"] == "preprocessing"


def test_nesting_just_over_the_limit_is_refused_and_at_the_limit_accepted():
    assert loads_bounded(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(JsonTooDeep):
        loads_bounded(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(JsonTooDeep):
        loads_bounded('{"a": %s}' % nested(MAX_JSON_DEPTH))
    with pytest.raises(ValueError):
        loads_bounded("[1,")


def test_deeply_nested_message_body_is_malformed():
    body = ('{"job_id": "1", "env": %s}' % nested(100000)).encode()
    with pytest.raises(MalformedMessage, match="nested"):
        decode_body(body)


# -- internal errors -------------------------------------------------------------------------------
def _boom():
    open("/nonexistent-dir/secret/layout.txt")


def _recurse():
    def down(n):
        return down(n + 1)
    down(0)


class _App:
    private_key = None
    managers = {}


def _call(path):
    app = RoutingApp(_App(), [(Route("boom", "GET", "/boom"), _boom), (Route("recurse", "GET", "/recurse"), _recurse)],
                     manager_prefix=False)
    response = Request.blank(path).get_response(app)
    return response.status_int, response.body


def test_internal_error_body_names_the_error_but_no_server_path():
    code, body = _call("/boom")
    assert code == 500
    message = json.loads(body)["error"]
    assert "FileNotFoundError" in message and "server log" in message
    assert b"/nonexistent-dir" not in body and b"layout.txt" not in body


def test_recursion_error_is_a_400():
    code, body = _call("/recurse")
    assert code == 400 and b"nested too deeply" in body


@pytest.mark.parametrize("text, expected", [
    ("[Errno 36] File name too long: '/srv/lwr/staging/1/inputs/x'", "[Errno 36] File name too long: '<path>'"),
    ("cannot open /a/b c", "cannot open <path> c"),
    ("x=/etc/passwd, y", "x=<path>, y"),
    ("(/x/y)", "(<path>)"),
    ("relative a/b stays", "relative a/b stays"),
])
def test_redact_paths(text, expected):
    assert redact_paths(text) == expected
