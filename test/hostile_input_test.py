"""Hostile job ids and file names against every file route of a real server.

Each request must get a 4xx with a JSON error naming the problem, and nothing
outside the job directory may be written or read.
"""
import json
import os
import urllib.parse

import pytest

from lwr.lwr_client.route_table import ROUTES, fill_path

pytestmark = pytest.mark.server

HOSTILE_JOB_IDS = ["..", ".", "a/b", "/etc", "x\x00y", "x" * 300, "jöb", "%2e%2e"]
HOSTILE_NAMES = ["../x", "/etc/passwd", "a/../../x", "..", "link/passwd", "link/../../x", "x\x00y",
                 "inside/../../../x"]
FILE_TYPES = ["input", "unstructured", "config", "tool", "workdir", "output", "output_workdir",
              "metadata", "jobdir"]
SECRET = b"top secret outside the job directory\n"


def snapshot(root):
    """Every file below ``root`` with its size and mtime (to prove nothing changed)."""
    result = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name == "server.log":  # the server's own log grows with every request
                continue
            path = os.path.join(directory, name)
            stat = os.lstat(path)
            result[path] = (stat.st_size, stat.st_mtime_ns)
    return result


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from test.support.server import LwrServer

    base = tmp_path_factory.mktemp("hostile")
    server = LwrServer(base / "srv").start()
    outside = base / "srv" / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(SECRET)
    server.json("POST", "jobs", {"job_id": "victim"})
    job_dir = os.path.join(server.staging_directory, "victim")
    os.mkdir(os.path.join(job_dir, "unstructured"))
    for sub in ("inputs", "outputs", "working", "metadata", "configs", "tool_files", "unstructured"):
        os.symlink(str(outside), os.path.join(job_dir, sub, "link"))
    os.symlink(str(outside), os.path.join(job_dir, "link"))
    yield server, str(base)
    server.stop()


def _request(server, method, path, params, data=None):
    # Build the query by hand: NUL and non-ASCII must reach the server percent-encoded.
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return server.request(method, path + "?" + query, data=data)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("file_type", FILE_TYPES)
@pytest.mark.parametrize("route", ["upload", "path", "download"])
def test_hostile_names(hostile_server, route, file_type, name):
    server, base = hostile_server
    before = snapshot(base)
    params = {"name": name, "type": file_type}
    if route == "upload":
        code, body = _request(server, "POST", "jobs/victim/files", params, data=b"EVIL")
    elif route == "path":
        code, body = _request(server, "GET", "jobs/victim/files/path", params)
    else:
        code, body = _request(server, "GET", "jobs/victim/files", params)
    if code == 200:
        # Flattened types (config, tool, workdir) keep only a safe basename, as in 0.2.0.
        assert file_type in ("config", "tool", "workdir") and route != "download", (code, body)
        returned = json.loads(body)["path"]
        assert os.path.realpath(returned).startswith(
            os.path.realpath(os.path.join(server.staging_directory, "victim")) + os.sep)
        assert b"top secret" not in body
    else:
        assert 400 <= code < 500, (code, body)
        assert json.loads(body)["error"]
        assert SECRET not in body
    after = snapshot(base)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    job_dir = os.path.join(server.staging_directory, "victim") + os.sep
    assert all(p.startswith(job_dir) and not os.path.islink(os.path.dirname(p)) for p in changed), changed
    assert open(os.path.join(base, "srv", "outside", "passwd"), "rb").read() == SECRET


#: The other parameters each route taking a job id needs to get as far as using it.
JOB_ROUTE_PARAMS = {
    "setup": {},
    "clean": {},
    "submit": {"command_line": "touch /tmp/lwr-hostile-should-not-exist"},
    "status": {},
    "cancel": {},
    "upload_file": {"name": "x", "type": "input"},
    "path": {"name": "x", "type": "input"},
    "upload_offset": {"name": "x", "type": "input", "upload_id": "u1"},
    "download_output": {"name": "x"},
}
JOB_ROUTES = [route for route in ROUTES if route.path.startswith("/jobs")]


def test_every_declared_job_route_is_attacked():
    assert [route.name for route in JOB_ROUTES] == list(JOB_ROUTE_PARAMS)


@pytest.mark.parametrize("job_id", HOSTILE_JOB_IDS)
@pytest.mark.parametrize("route", JOB_ROUTES, ids=[route.name for route in JOB_ROUTES])
def test_hostile_job_ids(hostile_server, job_id, route):
    method, path = route.method or "GET", fill_path(route.path, {"job_id": "{}"})[1:]
    params = JOB_ROUTE_PARAMS[route.name]
    server, base = hostile_server
    before = snapshot(base)
    params = dict(params)
    if "{}" in path:
        path = path.format(urllib.parse.quote(job_id, safe=""))
    else:
        params["job_id"] = job_id
    code, body = _request(server, method, path, params, data=b"EVIL" if method == "POST" else None)
    if code == 200 and method in ("GET", "PUT", "DELETE"):
        # The URL's "//" collapsed to a plain id (e.g. "etc"), which is simply unknown: its
        # status is "lost", cancelling or cleaning it is nothing to do (as Pulsar answers).
        if path == "jobs/../status":
            # the URL collapsed to /status, the administrators' status page: no job touched
            assert body.startswith(b"<!DOCTYPE html>"), body[:200]
        elif path.endswith("/status"):
            assert json.loads(body)["status"] == "lost", body
            assert b"/" not in json.loads(body)["job_id"].encode("utf-8")
        else:
            assert body == b"OK", body
    else:
        assert 400 <= code < 500, (code, body)
        if code != 404 or body.startswith(b"{"):
            assert json.loads(body)["error"]
    assert snapshot(base) == before
    assert not os.path.exists("/tmp/lwr-hostile-should-not-exist")
