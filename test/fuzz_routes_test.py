"""Seeded random hostile requests against every route: never a 500, never a file outside a job."""
import os
import random
import socket

import pytest

from lwr.lwr_client.route_table import MANAGER_PREFIX, ROUTES, fill_path

pytestmark = pytest.mark.server



def _paths(object_store):
    """Each declared path once, in table order, with ``{id}`` for its path parameter."""
    paths = []
    for route in ROUTES:
        if route.name.startswith("object_store_") == object_store:
            path = fill_path(route.path, {"job_id": "{id}", "object_id": "{id}"})
            if path not in paths:
                paths.append(path)
    return paths


PATHS = _paths(object_store=False)
PATHS += [MANAGER_PREFIX.replace("{manager_name}", "{m}") + path for path in PATHS]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
PARAMS = ["job_id", "name", "type", "command_line", "params", "env", "setup_params", "remote_staging",
          "dependencies_description", "cache_token", "path", "tool_id", "private_key"]
NASTY = ["..", "../../etc/passwd", "%2e%2e%2f", "%00", "%ff%fe", "%C3%28", "a" * 3000, "{", "[1,", "null",
         '{"setup": [{"name": "../x", "type": "input", "action": {"action_type": "message", "contents": "x"}}]}',
         '[{"name": "A", "value": 1}]', "%", "%%", "+", "=", "&", "\\x", "/", "output", "input", "jobdir",
         "123", "fuzz", "~root", "$(id)", "`id`", "%0d%0aX: y"]


def _raw(port, method, target, body=b""):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
            method, target, len(body))
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None


def test_random_hostile_requests_never_500(lwr_server, tmp_path):
    rng = random.Random(20261122)
    lwr_server.json("POST", "jobs", {"job_id": "fuzz"})
    outside_before = set(os.listdir(os.path.dirname(lwr_server.staging_directory)))
    statuses = {}
    for _ in range(400):
        path = rng.choice(PATHS).replace("{id}", rng.choice(["fuzz", "123", rng.choice(NASTY)]))
        path = path.replace("{m}", rng.choice(["_default_", "nope", rng.choice(NASTY)]))
        query = "&".join("%s=%s" % (rng.choice(PARAMS), rng.choice(NASTY))
                         for _ in range(rng.randint(0, 5)))
        target = path + ("?" + query if query else "")
        body = rng.choice([b"", b"data", os.urandom(100)])
        status = _raw(lwr_server.port, rng.choice(METHODS), target, body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status is not None and status < 500, (target, status, lwr_server.log()[-3000:])
    assert set(os.listdir(os.path.dirname(lwr_server.staging_directory))) == outside_before
    assert "Traceback" not in lwr_server.log()


OBJECT_PATHS = _paths(object_store=True)
OBJECT_PARAMS = ["base_dir", "dir_only", "extra_dir", "extra_dir_at_root", "alt_name", "start", "count",
                 "file_name", "create", "entire_dir"]
OBJECT_VALUES = NASTY + ["True", "False", "true", "job_work", "temp", "-1", "0", "5", "/etc/passwd",
                         "a/b", "x" * 300]


def test_random_hostile_object_store_requests_never_500(lwr_server_factory, tmp_path):
    store_root = tmp_path / "store"
    conf = tmp_path / "object_store_conf.xml"
    conf.write_text('<object_store type="disk"><files_dir path="%s/files"/>'
                    '<extra_dir type="job_work" path="%s/job_work"/><extra_dir type="temp" path="%s/tmp"/>'
                    '</object_store>' % (store_root, store_root, store_root))
    server = lwr_server_factory(app_conf={"object_store_config_file": str(conf)})
    rng = random.Random(20261201)
    statuses = {}
    before = set(os.listdir(tmp_path))
    for _ in range(400):
        path = rng.choice(OBJECT_PATHS).replace("{id}", rng.choice(["1", "1234", rng.choice(NASTY)]))
        query = "&".join("%s=%s" % (rng.choice(OBJECT_PARAMS), rng.choice(OBJECT_VALUES))
                         for _ in range(rng.randint(0, 5)))
        target = path + ("?" + query if query else "")
        status = _raw(server.port, rng.choice(METHODS), target, rng.choice([b"", b"data"]))
        assert status is not None and status < 500, (target, status, server.log()[-3000:])
        statuses[status] = statuses.get(status, 0) + 1
    assert set(os.listdir(tmp_path)) == before
    assert sorted(os.listdir(store_root)) == ["files", "job_work", "tmp"]
    assert statuses.get(200, 0) > 50 and statuses.get(400, 0) > 50, statuses  # the store was exercised
    assert "Traceback" not in server.log()
