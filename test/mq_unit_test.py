"""Message-queue pieces without a broker: names, options, outbox, de-duplication, handlers, memory://."""
import json
import os
import ssl
import threading
import time
import uuid

import pytest

from lwr.core import LwrApp
from lwr.lwr_client import build_client_manager
from lwr.lwr_client.amqp_acks import InvalidAckRequest, ack_request
from lwr.lwr_client.amqp_exchange import LwrExchange, parse_amqp_options, queue_name
from lwr.lwr_client.amqp_manager import MessageQueueClientManager
from lwr.lwr_client.exceptions import LwrClientError
from lwr.messaging.handlers import SetupHandler
from lwr.messaging.outbox import StatusOutbox
from lwr.messaging.routes import RouteBook, parse_exchanges
from test.support.wait import wait_for


@pytest.mark.parametrize("manager, name, expected", [
    ("_default_", "setup", "lwr__setup"), ("_default_", "kill", "lwr__kill"),
    ("_default_", "status_update", "lwr__status_update"), (None, "setup", "lwr__setup"),
    ("cluster", "setup", "lwr_cluster__setup"), ("cluster", "status_update", "lwr_cluster__status_update"),
])
def test_queue_names_match_the_spec(manager, name, expected):
    assert queue_name(manager, name) == expected


@pytest.mark.parametrize("manager, name, exchange, prefix, expected", [
    ("_default_", "setup", "pulsar", None, "pulsar__setup"),
    ("_default_", "status", "pulsar", None, "pulsar__status"),
    ("cluster", "status_update_ack", "pulsar", None, "pulsar_cluster__status_update_ack"),
    ("cluster", "setup", "pulsar", "gx", "gx_setup"),           # Pulsar's amqp_key_prefix, used verbatim
    ("_default_", "kill", "lwr", "site_", "site__kill"),
])
def test_queue_names_for_other_exchanges_and_key_prefixes(manager, name, exchange, prefix, expected):
    assert queue_name(manager, name, exchange, prefix) == expected
    assert LwrExchange("memory://", manager, exchange_name=exchange, amqp_key_prefix=prefix).queue_name(name) \
        == expected


@pytest.mark.parametrize("conf, expected", [
    ({}, [("pulsar", None), ("lwr", None)]),
    ({"amqp_exchange": "lwr"}, [("lwr", None)]),
    ({"amqp_exchange": " lwr , pulsar "}, [("lwr", None), ("pulsar", None)]),
    ({"amqp_key_prefix": "gx"}, [("pulsar", "gx"), ("lwr", None)]),  # the prefix applies to the first only
    ({"amqp_exchange": "pulsar", "amqp_key_prefix": ""}, [("pulsar", None)]),
])
def test_served_exchanges_from_the_configuration(conf, expected):
    routes = parse_exchanges(conf, ["_default_", "cluster"])
    assert [(r["exchange_name"], r["amqp_key_prefix"]) for r in routes] == expected


@pytest.mark.parametrize("conf, message", [
    ({"amqp_exchange": "pulsar, pulsar"}, "twice"),
    ({"amqp_exchange": " , "}, "at least one"),
    ({"amqp_exchange": "bad name"}, "amqp_exchange"),
    ({"amqp_key_prefix": "../x"}, "amqp_key_prefix"),
    ({"amqp_key_prefix": "lwr_"}, "same queue names"),  # pulsar with prefix lwr_ = the lwr exchange's names
])
def test_bad_exchange_configuration_is_refused_naming_the_option(conf, message):
    with pytest.raises(ValueError, match=message):
        parse_exchanges(conf, ["_default_"])


@pytest.mark.parametrize("body, expected", [
    ({"job_id": "1"}, None),
    ("not a dict", None),
    ({"acknowledge_uuid": "0f1e2d3c-4b5a-11ef-8000-0242ac120002", "acknowledge_queue": "setup_ack"},
     ("0f1e2d3c-4b5a-11ef-8000-0242ac120002", "setup_ack")),
    ({"acknowledge_uuid": "0f1e2d3c-4b5a", "acknowledge_queue": "setup"}, InvalidAckRequest),   # not *_ack
    ({"acknowledge_uuid": "../../etc/passwd", "acknowledge_queue": "setup_ack"}, InvalidAckRequest),
    ({"acknowledge_uuid": 7, "acknowledge_queue": "setup_ack"}, InvalidAckRequest),
    ({"acknowledge_uuid": "0f1e2d3c-4b5a", "acknowledge_queue": None}, InvalidAckRequest),
    ({"acknowledge_uuid": "0f1e2d3c-4b5a", "acknowledge_queue": "x" * 200 + "_ack"}, InvalidAckRequest),
])
def test_ack_requests_are_checked_before_answering(body, expected):
    if expected is InvalidAckRequest:
        with pytest.raises(InvalidAckRequest):
            ack_request(body)
    else:
        assert ack_request(body) == expected


def test_outbox_keeps_published_entries_until_acknowledged_and_drops_superseded_ones(tmp_path):
    outbox = StatusOutbox(str(tmp_path / "box"))
    outbox.put("1", "running", {"n": 1}, route="lwr")
    outbox.put("1", "complete", {"n": 2})
    running, complete = outbox.pending()
    assert running.route == "lwr" and complete.route is None and running.ack_uuid != complete.ack_uuid
    outbox.mark_published(running, when=100.0)
    reopened = StatusOutbox(str(tmp_path / "box"))  # the marks survive a restart
    assert [(e.status, e.published_at, e.ack_uuid) for e in reopened.pending()] == [
        ("running", 100.0, running.ack_uuid), ("complete", None, complete.ack_uuid)]
    assert not outbox.put("1", "running", {"n": 3})  # still waiting for its acknowledgement
    assert [e.status for e in outbox.drop_superseded("1")] == ["running"]
    outbox.mark_published(complete)
    assert outbox.acknowledged("no-such-uuid") is None
    assert outbox.acknowledged(complete.ack_uuid).status == "complete"
    assert len(outbox) == 0 and len(StatusOutbox(str(tmp_path / "box"))) == 0


def test_route_book_remembers_other_exchanges_and_forgets_jobs_that_are_gone(tmp_path):
    book = RouteBook(str(tmp_path / "routes"), "pulsar")
    book.remember("1", "lwr")
    book.remember("2", "pulsar")  # the default needs no file
    assert (book.lookup("1"), book.lookup("2"), book.lookup("../x")) == ("lwr", "pulsar", "pulsar")
    assert book.job_ids() == ["1"]
    with pytest.raises(ValueError):
        book.remember("../escape", "lwr")
    assert book.sweep(lambda job_id: False) == 1 and book.lookup("1") == "pulsar"


def test_amqp_options_are_typed():
    options = parse_amqp_options({
        "amqp_consumer_timeout": "1.5", "amqp_publish_retry": "false", "amqp_publish_priority": "2",
        "amqp_connect_ssl_ca_certs": "/ca.pem", "amqp_connect_ssl_cert_reqs": "cert_required",
        "amqp_heartbeat": "30"})
    assert options["timeout"] == 1.5 and options["heartbeat"] == 30
    assert options["publish_kwds"] == {"retry": False, "priority": 2}
    assert options["connect_ssl"] == {"ca_certs": "/ca.pem", "cert_reqs": ssl.CERT_REQUIRED}
    retrying = parse_amqp_options({"amqp_publish_retry": "True", "amqp_publish_retry_interval_start": "0.5"})
    assert retrying["publish_kwds"]["retry_policy"] == {"interval_start": 0.5, "max_retries": 3}
    assert parse_amqp_options({"amqp_consumer_timeout": "None"})["timeout"] is None


@pytest.mark.parametrize("conf", [{"amqp_consumer_timeout": "soon"}, {"amqp_connect_ssl_cert_reqs": "always"},
                                  {"amqp_publish_retry": "maybe"}])
def test_bad_amqp_options_are_refused(conf):
    with pytest.raises(ValueError):
        parse_amqp_options(conf)


def test_outbox_survives_a_restart_in_order_and_dedupes_terminal_statuses(tmp_path):
    outbox = StatusOutbox(str(tmp_path / "box"))
    assert outbox.put("1", "running", {"n": 1})
    assert outbox.put("1", "complete", {"n": 2})
    assert not outbox.put("1", "complete", {"n": 3})
    assert not outbox.put("1", "failed", {"n": 4})  # one terminal status per job
    assert not outbox.put("2", "failed", {"n": 5}, still_pending=lambda: False)  # already confirmed
    assert outbox.put("2", "failed", {"n": 6}, still_pending=lambda: True)
    (tmp_path / "box" / ".half-written.json.tmp").write_text("{")
    reopened = StatusOutbox(str(tmp_path / "box"))
    assert [(e.job_id, e.status, e.payload["n"]) for e in reopened.pending()] == [
        ("1", "running", 1), ("1", "complete", 2), ("2", "failed", 6)]
    assert not os.path.exists(tmp_path / "box" / ".half-written.json.tmp")
    confirmed = []
    reopened.remove(reopened.pending()[0], before_remove=confirmed.append)
    assert len(StatusOutbox(str(tmp_path / "box"))) == 2 and confirmed[0].status == "running"


class _Message:
    def __init__(self, body):
        self.body = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.acked = False

    def ack(self):
        self.acked = True


def test_client_delivers_running_once_and_exactly_one_terminal_status():
    manager = MessageQueueClientManager("memory://%s" % uuid.uuid4().hex, manager="dedupe")
    delivered = []
    manager.callback = delivered.append
    sequence = [("1", "running"), ("1", "running"), ("1", "complete"), ("1", "complete"), ("1", "failed"),
                ("1", "running"), ("2", "failed")]
    messages = [_Message({"job_id": job_id, "status": status}) for job_id, status in sequence]
    messages.append(_Message(b"garbage"))
    for message in messages:
        manager._on_message(message)
    assert [(b["job_id"], b["status"]) for b in delivered] == [("1", "running"), ("1", "complete"), ("2", "failed")]
    assert all(m.acked for m in messages)
    assert manager.status_cache["1"]["status"] == "complete"


def test_build_client_manager_with_an_amqp_url_gives_the_message_queue_manager(tmp_path):
    manager = build_client_manager(url="memory://%s" % uuid.uuid4().hex, manager="m1")
    assert isinstance(manager, MessageQueueClientManager) and manager.manager_name == "m1"
    with pytest.raises(LwrClientError, match="jobs_directory"):
        manager.get_client({}, "1")
    client = manager.get_client({"jobs_directory": str(tmp_path)}, "1")
    with pytest.raises(LwrClientError):
        client.full_status()  # nothing launched, nothing received


def _app(tmp_path, **conf):
    conf.setdefault("staging_directory", str(tmp_path / "staging"))
    conf.setdefault("persistence_directory", str(tmp_path / "persisted"))
    return LwrApp(**conf).start()


def test_setup_handler_ignores_duplicates_and_finishes_an_interrupted_setup(tmp_path):
    app = _app(tmp_path)
    failed = []
    try:
        manager = app.managers["_default_"]
        handler = SetupHandler(manager, lambda job_id, status, payload, route: failed.append((job_id, payload)))
        body = {"job_id": "7", "command_line": "echo seven", "setup_params": {"job_id": "7"}}
        assert handler.handle(json.dumps(body).encode()) == "submitted"
        assert handler.handle(json.dumps(body).encode()) == "duplicate"
        manager.setup_job("8", None, None)  # a crash left the directory but no launch record
        assert handler.handle(dict(body, job_id="8", setup_params={"job_id": "8"})) == "submitted"
        wait_for(lambda: manager.get_status("8") == "complete")
        assert manager.stdout_contents("8") == "seven\n"
        assert handler.handle(b"{not json") == "rejected"
        assert handler.handle({"job_id": "9", "command_line": "x", "env": [{"name": "BAD NAME", "value": "1"}],
                               "setup_params": {"job_id": "9"}}) == "rejected"
        assert [job_id for job_id, _ in failed] == ["9"]
        assert failed[0][1]["status"] == "failed" and failed[0][1]["complete"] == "true"
        assert manager.get_status("9") == "failed"
    finally:
        app.shutdown()


def test_consume_and_publish_flags_are_booleans(tmp_path):
    url = "memory://%s" % uuid.uuid4().hex
    app = _app(tmp_path, message_queue_url=url, message_queue_consume="false", message_queue_publish="False")
    try:
        binding = app.message_queue_binding.bindings[0]
        assert not binding.consume and not binding.publish and binding.outbox is None
        assert not [t for t in threading.enumerate() if t.name.startswith("lwr-mq-_default_")]
    finally:
        app.shutdown()


def test_memory_broker_round_trip_and_restart_republishes_unconfirmed_terminal_status(tmp_path):
    url = "memory://%s" % uuid.uuid4().hex
    # 1. A job finishes while the LWR runs without the queue: its terminal status is pending.
    app = _app(tmp_path)
    manager = app.managers["_default_"]
    manager.setup_job("11", None, None)
    manager.launch("11", "echo offline")
    wait_for(lambda: manager.get_status("11") == "complete")
    assert manager.terminal_status_pending_job_ids() == ["11"]
    app.shutdown()
    # 2. Started with the queue: the pending status is published, then no longer pending.  The job
    #    did not come over a queue, so its statuses go to the first exchange served (pulsar).
    client_manager = MessageQueueClientManager(url, amqp_exchange="pulsar")
    delivered = []
    client_manager.ensure_has_status_update_callback(delivered.append)
    app = _app(tmp_path, message_queue_url=url)
    try:
        manager = app.managers["_default_"]
        wait_for(lambda: [b for b in delivered if b["job_id"] == "11"])
        assert delivered[0]["status"] == "complete" and delivered[0]["stdout"] == "offline\n"
        wait_for(lambda: manager.terminal_status_pending_job_ids() == [])
        # 3. A new job over the memory transport.
        client = client_manager.get_client({"jobs_directory": str(tmp_path / "staging")}, "12")
        client.launch("echo online", job_config={})
        wait_for(lambda: client.full_status()["status"] == "complete")
        assert client.full_status()["stdout"] == "online\n"
    finally:
        app.shutdown()
        client_manager.shutdown()


def test_queue_isolation_on_the_memory_transport():
    url = "memory://%s" % uuid.uuid4().hex
    names = ["a1", "b2", "_default_"]
    received = {name: [] for name in names}
    stop = threading.Event()
    threads = []
    for name in names:
        exchange = LwrExchange(url, name, timeout=0.05)

        def on_message(message, name=name):
            received[name].append(json.loads(message.body))
            message.ack()
        thread = threading.Thread(target=exchange.consume, args=("setup", on_message),
                                  kwargs={"check": lambda: not stop.is_set()}, daemon=True)
        thread.start()
        threads.append(thread)
    try:
        for name in names:
            LwrExchange(url, name).publish("setup", {"job_id": name})
        wait_for(lambda: all(received.values()))
        time.sleep(0.2)
        assert received == {name: [{"job_id": name}] for name in names}
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


def test_galaxy_typed_options_and_kombu_retry_publish_on_memory():
    # Galaxy's runner passes typed values (None, int, bool) rather than ini strings.
    options = parse_amqp_options({"amqp_consumer_timeout": None, "amqp_publish_delivery_mode": 2,
                                  "amqp_publish_retry": True, "amqp_publish_retry_max_retries": 2,
                                  "amqp_publish_routing_key": "elsewhere"})
    assert options["timeout"] is None and options["publish_kwds"]["retry_policy"] == {"max_retries": 2}
    url = "memory://%s" % uuid.uuid4().hex
    exchange = LwrExchange(url, "typed", **options)
    exchange.publish("setup", {"job_id": "1"})  # routing_key override ignored, delivery_mode not doubled
    received = []
    stop = threading.Event()

    def on_message(message):
        received.append(json.loads(message.body))
        message.ack()
        stop.set()
    exchange.consume("setup", on_message, check=lambda: not stop.is_set())
    assert received == [{"job_id": "1"}]


@pytest.mark.parametrize("conf, option", [({"amqp_exchange": "no spaces"}, "amqp_exchange"),
                                          ({"amqp_acknowledge": "maybe"}, "amqp_acknowledge"),
                                          ({"amqp_ack_republish_time": "0"}, "amqp_ack_republish_time")])
def test_a_bad_message_queue_option_stops_the_app_naming_it(tmp_path, conf, option):
    with pytest.raises(ValueError, match=option):
        _app(tmp_path, message_queue_url="memory://%s" % uuid.uuid4().hex, **conf)


def test_this_client_answers_the_servers_acknowledgement_requests(tmp_path):
    from test.amqp_harness_test import RecordingClientManager  # counts what de-duplication drops

    url = "memory://%s" % uuid.uuid4().hex
    assert build_client_manager(url=url, amqp_exchange="pulsar").exchange.queue_name("setup") == "pulsar__setup"
    client_manager = RecordingClientManager(url, amqp_exchange="pulsar")
    app = _app(tmp_path, message_queue_url=url, amqp_exchange="pulsar", amqp_acknowledge="true",
               amqp_ack_republish_time="0.5")
    try:
        client = client_manager.get_client({"jobs_directory": str(tmp_path / "staging")}, "21")
        client.launch("echo acknowledged", job_config={})
        wait_for(lambda: client_manager.terminal("21"))
        assert client.full_status()["acknowledge_queue"] == "status_update_ack"
        outbox = app.message_queue_binding.bindings[0].outbox
        wait_for(lambda: len(outbox) == 0)  # every status answered, so none is published again
        time.sleep(1.0)
        assert [b["status"] for b in client_manager.raw_terminal("21")] == ["complete"]
    finally:
        app.shutdown()
        client_manager.shutdown()
