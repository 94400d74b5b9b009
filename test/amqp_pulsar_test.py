"""The LWR daemon as a stock Pulsar client sees it on the real RabbitMQ: names, acks, status requests.

The "client" here publishes exactly as Pulsar's ``PulsarExchange`` (Galaxy's
``PulsarMQJobRunner``) does: to the exchange only, never declaring the queue,
so a message reaches the LWR only if the LWR declared and bound that queue.
Statuses are read with ``basic_get`` from the queues the LWR publishes to.
Galaxy itself drives the same server in ``galaxy_pulsar_mq_test.py``.
"""
import json
import os
import random
import string
import time
import uuid

from urllib.parse import quote

import kombu
import pytest

from lwr.lwr_client.amqp_exchange import LwrExchange, PublishFailed, queue_name
from lwr.lwr_client.staging.collection import DEFAULT_DYNAMIC_COLLECTION_PATTERN
from test.support.files_server import FilesServer
from test.amqp_harness_test import (
    BROKER_URL,
    DaemonProcess,
    RecordingClientManager,
    delete_queues,
    random_manager_name,
    require_broker,
)
from test.support.wait import wait_for

pytestmark = pytest.mark.amqp


def _random(prefix):
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


class PulsarWire:
    """Publishes and reads like a Pulsar 0.15/0.16 client on one key prefix."""

    def __init__(self, exchange="pulsar", manager="_default_", key_prefix=None):
        self.exchange_name = exchange
        self.manager = manager
        self.key_prefix = key_prefix
        self.connection = kombu.Connection(BROKER_URL, connect_timeout=5)
        self.channel = self.connection.channel()

    def name(self, kind):
        return queue_name(self.manager, kind, self.exchange_name, self.key_prefix)

    def exists(self, kind) -> bool:
        try:
            self.connection.channel().queue_declare(self.name(kind), passive=True)
            return True
        except Exception:
            return False

    def consumers(self, kind):
        """How many consumers the queue has, or None when it does not exist."""
        try:
            return self.connection.channel().queue_declare(self.name(kind), passive=True).consumer_count
        except Exception:
            return None

    def publish(self, kind, payload):
        exchange = kombu.Exchange(self.exchange_name, "direct", durable=True)
        producer = kombu.Producer(self.channel, exchange=exchange, serializer="json")
        producer.publish(payload, routing_key=self.name(kind), declare=[exchange], delivery_mode=2)

    def get_all(self, kind):
        """Every message waiting on the queue, removed from it (none while nobody declared the queue)."""
        bodies = []
        while True:
            try:
                message = self.channel.basic_get(self.name(kind), no_ack=True)
            except Exception:  # 404: not declared yet; the broker closed this channel
                self.channel = self.connection.channel()
                return bodies
            if message is None:
                return bodies
            bodies.append(json.loads(message.body))

    def collect(self, kind, into, predicate, timeout, message):
        def done():
            into.extend(self.get_all(kind))
            return predicate(into)
        wait_for(done, timeout, interval=0.1, message=message)
        return into

    def close(self):
        self.connection.release()


def _setup_body(job_id, command_line, **extra):
    """A setup message as Galaxy 26's MessageJobClient builds it (local setup, no remote staging)."""
    body = {"command_line": command_line, "job_id": job_id,
            "setup_params": {"job_id": job_id, "tool_id": "cat1", "tool_version": "1.0", "use_metadata": True,
                             "preserve_galaxy_python_environment": False},
            "dynamic_file_sources": None, "token_endpoint": "http://galaxy.invalid/api/jobs/x/oidc-tokens"}
    body.update(extra)
    return body


@pytest.fixture
def served(tmp_path):
    """``start(extra_conf, manager=None, wire_kwargs)`` -> (daemon, wire); queues removed afterwards."""
    require_broker()
    made = []

    def start(extra_conf=None, manager=None, exchange="pulsar", key_prefix=None):
        manager = manager or random_manager_name("pq")
        daemon = DaemonProcess(tmp_path / ("lwr%d" % len(made)), manager, extra_conf=extra_conf).start()
        wire = PulsarWire(exchange, manager, key_prefix)
        made.append((daemon, wire))
        wait_for(lambda: all(wire.exists(kind) for kind in ("setup", "kill", "status")), 20,
                 message="the LWR to declare its %s queues" % wire.name("*"))
        return daemon, wire

    yield start
    for daemon, wire in made:
        daemon.kill()
        wire.close()
        exchanges = [wire.exchange_name] + (["lwr"] if wire.exchange_name == "pulsar" else [])
        delete_queues(wire.manager, exchanges=exchanges, key_prefix=wire.key_prefix)


def _statuses(bodies, job_id):
    return [b["status"] for b in bodies if b.get("job_id") == job_id]


def test_default_serves_stock_pulsar_and_lwr_clients_each_on_its_own_exchange(served, tmp_path):
    daemon, wire = served()
    lwr_client = RecordingClientManager(BROKER_URL, manager=wire.manager)  # exchange lwr, like LWR 0.2.0
    try:
        assert lwr_client.wait_connected(15)
        wire.publish("setup", _setup_body("7001", "echo from-pulsar"))
        lwr_client.get_client({"jobs_directory": daemon.staging_directory}, "7002").launch("echo from-lwr",
                                                                                           job_config={})
        seen = wire.collect("status_update", [], lambda b: "complete" in _statuses(b, "7001"), 30,
                            "job 7001's complete status on %s" % wire.name("status_update"))
        terminal = wait_for(lambda: lwr_client.terminal("7002"), 30, message="job 7002 over exchange lwr")
        assert terminal[0]["stdout"] == "from-lwr\n"
        final = [b for b in seen if b["job_id"] == "7001" and b["status"] == "complete"][0]
        assert final["complete"] == "true" and final["returncode"] == 0
        time.sleep(0.5)
        seen.extend(wire.get_all("status_update"))
        assert _statuses(seen, "7002") == [] and not [b for b in lwr_client.raw if b["job_id"] == "7001"]
    finally:
        lwr_client.shutdown()


@pytest.mark.parametrize("naming", ["named_manager", "default_manager", "key_prefix"])
def test_queue_names_follow_the_exchange_manager_and_key_prefix(served, naming):
    exchange, manager, prefix = "pulsar", None, None
    conf = {}
    if naming == "default_manager":  # a test-only exchange, so the shared pulsar__setup is left alone
        exchange, manager = _random("pt"), "_default_"
        conf["amqp_exchange"] = exchange
    elif naming == "key_prefix":
        prefix = _random("gx")
        conf.update(amqp_exchange="pulsar", amqp_key_prefix=prefix)
    daemon, wire = served(conf, manager=manager, exchange=exchange, key_prefix=prefix)
    expected = {"named_manager": "pulsar_%s__setup" % wire.manager, "default_manager": "%s__setup" % exchange,
                "key_prefix": "%s_setup" % prefix}[naming]
    assert wire.name("setup") == expected and wire.exists("setup")
    # lwr is served by default only. Other tests leave lwr__setup on the shared broker, so
    # "served" means this server consumes from it, not merely that the queue exists.
    lwr_setup = PulsarWire("lwr", wire.manager)
    try:
        wait_for(lambda: wire.consumers("setup"), 20, message="the LWR to consume %s" % wire.name("setup"))
        if naming == "named_manager":
            wait_for(lambda: lwr_setup.consumers("setup"), 20, message="the LWR to consume lwr's setup queue")
        else:
            time.sleep(1)
            assert not lwr_setup.consumers("setup"), "an explicit amqp_exchange must not also serve lwr"
    finally:
        lwr_setup.close()
    wire.publish("setup", _setup_body("7101", "echo named"))
    wire.collect("status_update", [], lambda b: "complete" in _statuses(b, "7101"), 30, "job 7101 to complete")


def test_ack_requests_are_answered_and_a_republished_setup_runs_once(served, tmp_path):
    daemon, wire = served()
    runs = tmp_path / "runs.txt"
    ack_uuid = str(uuid.uuid1())
    acked = dict(acknowledge_uuid=ack_uuid, acknowledge_queue="setup_ack", acknowledge_submit_queue="setup")
    wire.publish("setup", _setup_body("7201", 'echo ran >> "%s"; sleep 30' % runs, **acked))
    answers = wire.collect("setup_ack", [], lambda b: b, 20, "the answer on %s" % wire.name("setup_ack"))
    assert answers == [{"acknowledge_uuid_response": ack_uuid}]
    # Pulsar republishes an unanswered message with force_noack and the same uuid.
    wire.publish("setup", _setup_body("7201", 'echo ran >> "%s"' % runs, force_noack=True, **acked))
    wire.collect("setup_ack", answers, lambda b: len(b) == 2, 20, "the republished setup to be answered")
    kill_uuid = str(uuid.uuid1())
    wait_for(lambda: runs.exists(), 20, message="job 7201 to run")
    wire.publish("kill", {"job_id": "7201", "acknowledge_uuid": kill_uuid, "acknowledge_queue": "kill_ack",
                          "acknowledge_submit_queue": "kill"})
    assert wire.collect("kill_ack", [], lambda b: b, 20, "the kill to be answered") == [
        {"acknowledge_uuid_response": kill_uuid}]
    final = os.path.join(daemon.staging_directory, "7201", "final_status")
    wait_for(lambda: os.path.exists(final), 20, message="job 7201 cancelled")
    assert runs.read_text() == "ran\n"
    assert "was handled before" in daemon.log()
    # An answer may only go to an *_ack queue: this request is refused, the job still runs.
    wire.publish("setup", _setup_body("7202", "true", acknowledge_uuid=str(uuid.uuid1()),
                                      acknowledge_queue="status_update"))
    wire.collect("status_update", [], lambda b: "complete" in _statuses(b, "7202"), 30, "job 7202 to complete")
    assert "not the name of an *_ack queue" in daemon.log()


def test_status_requests_are_answered_for_any_state(served, tmp_path):
    daemon, wire = served()
    wire.publish("setup", _setup_body("7301", "echo done"))
    seen = wire.collect("status_update", [], lambda b: "complete" in _statuses(b, "7301"), 30, "job 7301")
    wire.publish("setup", _setup_body("7302", "sleep 30"))
    wire.collect("status_update", seen, lambda b: "running" in _statuses(b, "7302"), 30, "job 7302 running")
    for job_id in ("7301", "7302", "never-submitted"):
        wire.publish("status", {"request": "status", "job_id": job_id, "force_noack": True})
    answers = wire.collect("status_update", [], lambda b: all(_statuses(b, j) for j in
                                                              ("7301", "7302", "never-submitted")),
                           20, "answers to three status requests")
    by_job = {b["job_id"]: b for b in answers}
    assert by_job["7301"]["status"] == "complete" and by_job["7301"]["stdout"] == "done\n"
    assert by_job["7302"] == {"complete": "false", "status": "running", "job_id": "7302"}
    assert by_job["never-submitted"]["status"] == "lost"
    wire.publish("kill", {"job_id": "7302"})


@pytest.mark.slow  # ~6 s: it waits for republications and for their end
def test_server_acknowledgements_republish_until_answered(served):
    daemon, wire = served({"amqp_acknowledge": "true", "amqp_ack_republish_time": "1"})
    assert wire.exists("status_update_ack")  # declared by the LWR's consumer, as Galaxy publishes blindly
    wire.publish("setup", _setup_body("7401", "echo acked"))
    seen = wire.collect("status_update", [], lambda b: _statuses(b, "7401").count("complete") >= 2, 20,
                        "job 7401's complete status, then its republication")
    complete = [b for b in seen if b["status"] == "complete"]
    first, again = complete[0], complete[1]
    assert first["acknowledge_queue"] == "status_update_ack" and first["acknowledge_submit_queue"] == "status_update"
    assert "force_noack" not in first and again["force_noack"] is True
    assert again["acknowledge_uuid"] == first["acknowledge_uuid"]
    # Once the terminal status went out, the unanswered "running" is not republished any more.
    time.sleep(1.5)
    later = wire.get_all("status_update")
    assert "running" not in _statuses(later, "7401"), later
    wire.publish("status_update_ack", {"acknowledge_uuid_response": first["acknowledge_uuid"]})
    outbox = os.path.join(daemon.persistence_directory, "%s-status-outbox" % wire.manager)
    wait_for(lambda: not os.listdir(outbox), 10, message="the acknowledged status to leave the outbox")
    wire.get_all("status_update")
    time.sleep(2.5)
    assert wire.get_all("status_update") == []


#: A tool's discover_datasets pattern as Galaxy 26 sends it (FilePatternDatasetCollectionDescription.to_dict()).
SPLIT_COLLECTOR = {"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt", "directory": "split",
                   "format": "txt", "visible": False, "assign_primary_output": False, "recurse": False,
                   "match_relative_path": False, "sort_key": "filename", "sort_comp": "lexical", "sort_reverse": False}
#: What the job does in working/: an output, its stdout in metadata/, a collector match, a galaxy.json reference.
GALAXY_SHAPED_COMMAND = ("cat {jobdir}/inputs/dataset_10.dat > {jobdir}/outputs/dataset_11.dat; "
                         "echo tool says hi > ../metadata/tool_stdout; mkdir -p split; echo c1 > split/c1.txt; "
                         "echo skipped > ignored.txt; echo named > named.txt; "
                         "echo '{{\"o\": {{\"filename\": \"named.txt\"}}}}' > galaxy.json")


def _remote_staging(files_url, galaxy_input, galaxy_output, working, metadata, sources):
    """``remote_staging`` as Galaxy's PulsarMQJobRunner builds it for remote_transfer."""
    input_url = "%s&path=%s&file_type=input" % (files_url, quote(galaxy_input))
    return {
        "setup": [{"name": "dataset_10.dat", "type": "input",
                   "action": {"action_type": "remote_transfer", "path": galaxy_input,
                              "source": {"path": galaxy_input}, "url": input_url}}],
        "action_mapper": {"default_action": "remote_transfer", "files_endpoint": files_url, "paths": []},
        "client_outputs": {"working_directory": str(working), "metadata_directory": str(metadata),
                           "job_directory": None, "work_dir_outputs": [], "output_files": [galaxy_output],
                           "version_file": None, "dynamic_outputs": DEFAULT_DYNAMIC_COLLECTION_PATTERN,
                           "dynamic_file_sources": sources, "dataset_collector_descriptions": [SPLIT_COLLECTOR]},
        "ssh_key": None}


def test_galaxy_shaped_job_stages_through_the_files_api_and_returns_what_galaxy_asks_for(served, tmp_path):
    """Inputs fetched, then outputs, metadata/ files, galaxy.json references and collector matches pushed."""
    daemon, wire = served()
    galaxy = tmp_path / "galaxy"
    files_dir, working, metadata = galaxy / "files", galaxy / "job" / "working", galaxy / "job" / "metadata"
    for directory in (files_dir, working, metadata):
        directory.mkdir(parents=True)
    (files_dir / "dataset_10.dat").write_bytes(b"input bytes \x00\xff\n")
    galaxy_input, galaxy_output = str(files_dir / "dataset_10.dat"), str(files_dir / "dataset_11.dat")
    sources = [{"path": "galaxy.json", "type": "galaxy"}]
    with FilesServer(str(galaxy)) as files:
        command = GALAXY_SHAPED_COMMAND.format(jobdir=os.path.join(daemon.staging_directory, "7501"))
        staging = _remote_staging(files.url, galaxy_input, galaxy_output, working, metadata, sources)
        wire.publish("setup", _setup_body("7501", command, remote_staging=staging, dynamic_file_sources=sources))
        seen = wire.collect("status_update", [], lambda b: {"complete", "failed"} & set(_statuses(b, "7501")), 60,
                            "job 7501 to finish")
        final = [b for b in seen if b["status"] in ("complete", "failed")][0]
        assert final["status"] == "complete", (final, daemon.log()[-4000:])
        posted = {r["query"]["path"][0] for r in files.requests if r["method"] == "POST"}
    assert (files_dir / "dataset_11.dat").read_bytes() == b"input bytes \x00\xff\n"
    assert (metadata / "tool_stdout").read_text() == "tool says hi\n"
    assert (working / "named.txt").read_text() == "named\n" and (working / "split" / "c1.txt").read_text() == "c1\n"
    assert {str(working / "galaxy.json"), str(working / "named.txt"), str(working / "split" / "c1.txt")} <= posted
    assert str(working / "ignored.txt") not in posted


def test_an_unroutable_message_is_a_publish_failure_not_silently_dropped():
    require_broker()
    exchange = LwrExchange(BROKER_URL, random_manager_name("nr"), exchange_name=_random("unroutable"))
    try:
        with pytest.raises(PublishFailed, match="to no queue"):
            exchange.publish("status_update", {"job_id": "1"}, declare=False)
        exchange.publish("status_update", {"job_id": "2"})  # declared: routed, and the connection still works
        wire = PulsarWire(exchange.exchange_name, exchange.manager_name)
        assert [b["job_id"] for b in wire.get_all("status_update")] == ["2"]
        wire.close()
    finally:
        exchange.close()
        delete_queues(exchange.manager_name, exchanges=(exchange.exchange_name,))
