"""``/healthz``: each component reported; 503 with the reasons while one is down, 200 again after."""
import json
import shutil
import time

import pytest

from lwr.health import HealthCheck, parse_bytes
from test.support.server import LwrServer, free_port

TOKEN = "healthz-token-5678"


def _healthz(server, token=True):
    status, body = server.request("GET", "healthz", token=token)
    return status, json.loads(body.decode("utf-8"))


def _wait_for(server, wanted_status, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        status, body = _healthz(server)
        if status == wanted_status or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


@pytest.mark.server
def test_all_components_ok(lwr_server):
    status, body = _healthz(lwr_server)
    assert status == 200, body
    assert body["status"] == "ok" and body["version"] and body["pulsar_version"]
    assert body["components"]["managers"] == {"_default_": {"status": "ok", "type": "queued_python"}}
    disk = body["components"]["disk"]
    assert disk["status"] == "ok" and disk["free_bytes"] > 0 and disk["min_free_bytes"] == 100 * 1024 ** 2
    assert "broker" not in body["components"]  # no message_queue_url
    assert "reasons" not in body


@pytest.mark.server
def test_disk_below_threshold_answers_503_and_keeps_the_token_check(lwr_server_factory):
    server = lwr_server_factory(app_conf={"private_key": TOKEN, "healthz_min_free_bytes": "1000000T"})
    status, body = _healthz(server)
    assert status == 503, body
    assert body["status"] == "down"
    assert body["components"]["disk"]["status"] == "down"
    assert body["components"]["disk"]["min_free_bytes"] == 1000000 * 1024 ** 4
    (reason,) = body["reasons"]
    assert reason.startswith("disk: staging_directory has ") and "below healthz_min_free_bytes" in reason
    assert body["error"] == reason
    assert body["components"]["managers"]["_default_"]["status"] == "ok"
    assert _healthz(server, token=False)[0] == 401  # down or not, the token is still needed


@pytest.mark.server
def test_bad_threshold_refuses_to_start(tmp_path):
    server = LwrServer(tmp_path, app_conf={"healthz_min_free_bytes": "lots"})
    with pytest.raises(RuntimeError) as raised:
        server.start(timeout=20)
    assert "[app:main] healthz_min_free_bytes = 'lots': expected a number of bytes" in str(raised.value)
    assert "'lots'" in str(raised.value)


@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("1048576", 1048576), ("100M", 100 * 1024 ** 2), ("2g", 2 * 1024 ** 3), ("1T", 1024 ** 4),
    ("5GiB", 5 * 1024 ** 3), ("512k", 512 * 1024), (" 7 ", 7), ("10b", 10),
])
def test_parse_bytes(text, expected):
    assert parse_bytes(text, "healthz_min_free_bytes") == expected


@pytest.mark.parametrize("text", ["", "lots", "-1", "1.5G", "G", "1X", "1 G B"])
def test_parse_bytes_refuses_with_the_option_name(text):
    with pytest.raises(ValueError, match="healthz_min_free_bytes must be a number of bytes"):
        parse_bytes(text, "healthz_min_free_bytes")


def test_a_manager_whose_worker_stopped_is_down(tmp_path):
    """A real app: its queue workers stopped -> the manager, named, is down."""
    from lwr.core import LwrApp

    app = LwrApp(staging_directory=str(tmp_path / "staging"),
                 persistence_directory=str(tmp_path / "persisted"),
                 tool_dependency_dir=str(tmp_path / "deps"), healthz_min_free_bytes="0").start()
    try:
        ok, body = app.health.report()
        assert ok, body
        app.managers["_default_"].proxied_manager.shutdown(timeout=5)  # the worker threads end
        ok, body = app.health.report()
        assert not ok
        entry = body["components"]["managers"]["_default_"]
        assert entry["status"] == "down"
        assert entry["problems"] == ["thread lwr-_default_-worker-0 has stopped"]
        assert body["reasons"] == ["manager _default_: thread lwr-_default_-worker-0 has stopped"]
        assert body["components"]["disk"]["status"] == "ok"
        shutil.rmtree(app.persistence_directory)  # where the managers record their jobs
        ok, body = app.health.report()
        assert body["components"]["disk"]["status"] == "down"
        assert "disk: persistence_directory is missing or not writable" in body["reasons"]
    finally:
        app.shutdown(timeout=5)


class _App:
    """Only what the health check reads; the managers below are the parts under test."""

    def __init__(self, managers, staging_directory):
        self.managers = managers
        self.staging_directory = staging_directory


class _ManagerWithItsOwnCheck:
    manager_type = "queued_custom"

    def __init__(self, problems):
        self.problems = problems

    def health_problems(self):
        if isinstance(self.problems, Exception):
            raise self.problems
        return self.problems


def test_a_manager_may_add_its_own_checks(tmp_path):
    app = _App({"a": _ManagerWithItsOwnCheck([]), "b": _ManagerWithItsOwnCheck(["scheduler unreachable"]),
                "c": _ManagerWithItsOwnCheck(OSError("no such command"))}, str(tmp_path))
    ok, body = HealthCheck(app, 0).report()
    assert not ok
    managers = body["components"]["managers"]
    assert managers["a"] == {"status": "ok", "type": "queued_custom"}
    assert managers["b"]["problems"] == ["scheduler unreachable"]
    assert managers["c"]["problems"] == ["its own check failed: OSError: no such command"]
    assert body["reasons"] == ["manager b: scheduler unreachable",
                               "manager c: its own check failed: OSError: no such command"]


def test_a_missing_staging_directory_is_down(tmp_path):
    app = _App({}, str(tmp_path / "gone"))
    ok, body = HealthCheck(app, 0).report()
    assert not ok
    assert body["reasons"][0].startswith("disk: staging_directory cannot be read")


# -- the broker, through a relay that can be cut (the shared RabbitMQ itself stays up) ----------
@pytest.mark.server
@pytest.mark.amqp
def test_broker_unreachable_answers_503_then_200_when_it_returns(lwr_server_factory):
    from test.amqp_harness_test import BROKER_URL, BrokerRelay, delete_queues, random_manager_name, require_broker

    require_broker()
    name = random_manager_name("hz")
    relay = BrokerRelay(free_port()).start()
    try:
        server = lwr_server_factory(
            app_conf={"message_queue_url": "amqp://guest:guest@127.0.0.1:%d//" % relay.port},
            job_managers_ini="[manager:%s]\ntype = queued_python\n" % name)
        status, body = _wait_for(server, 200)
        assert status == 200, body
        broker = body["components"]["broker"]
        assert broker["connected"] is True and broker["status"] == "ok"
        assert broker["url"] == "amqp://guest:***@127.0.0.1:%d//" % relay.port

        relay.cut()
        status, body = _wait_for(server, 503)
        assert status == 503, body
        broker = body["components"]["broker"]
        assert broker["connected"] is False and broker["status"] == "down"
        assert "Connection refused" in broker["error"], broker
        assert body["reasons"] == ["broker: not connected to amqp://guest:***@127.0.0.1:%d//: %s"
                                   % (relay.port, broker["error"])]
        assert body["components"]["managers"][name]["status"] == "ok"  # only the broker is down

        relay.start()
        status, body = _wait_for(server, 200)
        assert status == 200, body
        assert body["components"]["broker"]["connected"] is True
    finally:
        relay.cut()
        delete_queues(name, BROKER_URL)


def test_a_silent_broker_is_reported_within_the_timeout(tmp_path):
    """A host that accepts the connection and never answers (a firewall half-open, a hung
    broker): the check gives up after BROKER_TIMEOUT, and answers from then on without waiting."""
    import socket
    import threading
    from types import SimpleNamespace

    from lwr.health import BROKER_TIMEOUT

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    url = "amqp://guest:guest@127.0.0.1:%d//" % listener.getsockname()[1]
    binding = SimpleNamespace(bindings=[SimpleNamespace(exchange=SimpleNamespace(url=url, connect_ssl=None),
                                                        _threads=[], outbox=None)])
    app = _App({}, str(tmp_path))
    app.message_queue_binding = binding
    check = HealthCheck(app, 0)
    try:
        started = time.monotonic()
        ok, body = check.report()
        elapsed = time.monotonic() - started
        assert not ok
        assert body["components"]["broker"]["connected"] is False
        assert "timed out" in body["components"]["broker"]["error"]
        assert BROKER_TIMEOUT * 0.9 <= elapsed <= BROKER_TIMEOUT + 2, elapsed
        started = time.monotonic()
        check.report()  # within the second: the same answer, at once
        assert time.monotonic() - started < 0.5
    finally:
        check.close()
        listener.close()
        for connection, _ in accepted:
            connection.close()
