"""Message-queue mode against the real RabbitMQ: the client sequence, bad input, refusals, isolation."""
import json
import os
import tempfile
import threading
import time

import kombu
import pytest

from lwr.lwr_client.amqp_exchange import LwrExchange, queue_name
from lwr.lwr_client.test import check
from test.amqp_harness_test import (
    BROKER_URL,
    CopyJob,
    RecordingClientManager,
    assert_exactly_one_complete,
    delete_queues,
    mq_env,
    random_manager_name,
    require_broker,
)
from test.support.wait import wait_for

pytestmark = pytest.mark.amqp

assert mq_env  # the fixture, imported for use here


def _queue_depth(manager_name, name):
    with kombu.Connection(BROKER_URL) as connection:
        declared = connection.default_channel.queue_declare(queue_name(manager_name, name), passive=True)
        return declared.message_count


def test_client_check_sequence_over_the_broker_with_remote_transfer(mq_env, monkeypatch):
    daemon, _, files = mq_env(client=False, files_root=tempfile.gettempdir())
    created = []

    def message_queue_client_manager(**kwds):
        # check.py builds HTTP client managers; route it to the broker for the same sequence.
        manager = RecordingClientManager(BROKER_URL, manager=mq_env.manager_name)
        created.append(manager)
        return manager

    monkeypatch.setattr(check, "build_client_manager", message_queue_client_manager)
    check.run({"manager_url": BROKER_URL, "jobs_directory": daemon.staging_directory,
               "default_file_action": "remote_transfer", "files_endpoint": files.url, "job_id": "4242",
               "suppress_output": True, "timeout": 60})
    manager = created[0]
    assert [b["status"] for b in manager.raw_terminal("4242")] == ["complete"]
    posted = sorted(os.path.basename(r["query"]["path"][0]) for r in files.requests if r["method"] == "POST")
    for name in ("dataset_1.dat", "dataset_2.dat", "galaxy.json", "GALAXY_VERSION_1234"):
        assert name in posted, posted


def test_duplicate_setup_message_runs_the_job_once(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    runs = tmp_path / "runs.txt"
    client = client_manager.get_client({"jobs_directory": daemon.staging_directory}, "2001")
    message = client.setup_message('echo ran >> "%s"' % runs, job_config={"tool_id": "t"})
    client_manager.exchange.publish("setup", message)
    client_manager.exchange.publish("setup", message)
    wait_for(lambda: client_manager.terminal("2001"), 30, message="job 2001 to finish")
    time.sleep(1.0)  # a second run would have been started by now
    assert runs.read_text() == "ran\n"
    assert [b["status"] for b in client_manager.raw_terminal("2001")] == ["complete"]
    assert "duplicate setup message ignored" in daemon.log()
    assert _queue_depth(mq_env.manager_name, "setup") == 0


def test_files_endpoint_503_twice_then_success_completes(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    files.fail_next = 2
    job = CopyJob(tmp_path, 2101, sleep=0.2)
    job.submit(client_manager, daemon.staging_directory, files.url)
    assert_exactly_one_complete(client_manager, [job], timeout=30)
    assert files.fail_next == 0
    gets = [r for r in files.requests if r["method"] == "GET"]
    assert len(gets) == 3  # two 503s, then the input


@pytest.mark.parametrize("refusal", ["missing_input_404", "output_outside_root_403"])
def test_files_endpoint_refusal_fails_the_job_with_the_message(mq_env, tmp_path, refusal):
    daemon, client_manager, files = mq_env(files_root=tmp_path / "galaxy")
    (tmp_path / "galaxy").mkdir(exist_ok=True)
    job = CopyJob(tmp_path / "galaxy", 2201, sleep=0.1)
    if refusal == "output_outside_root_403":
        job.output = str(tmp_path / "elsewhere" / "out.dat")
        job.command_line = 'cp "%s" "%s"' % (job.input, job.output)
    if refusal == "missing_input_404":
        files.delays["GET"] = 1.0  # so the input is gone before the LWR asks for it
    client = job.submit(client_manager, daemon.staging_directory, files.url)
    if refusal == "missing_input_404":
        os.unlink(job.input)  # Galaxy now answers 404 for it
    terminal = wait_for(lambda: client_manager.terminal(job.job_id), 30, message="job to fail")
    assert terminal[0]["status"] == "failed"
    expected = "404" if refusal == "missing_input_404" else "403"
    assert expected in terminal[0]["stderr"], terminal[0]["stderr"]
    assert client.full_status()["status"] == "failed"
    assert len(client_manager.raw_terminal(job.job_id)) == 1


def test_malformed_messages_are_acknowledged_and_answered_when_a_job_id_is_known(mq_env):
    daemon, client_manager, files = mq_env()
    exchange = client_manager.exchange
    with kombu.Connection(BROKER_URL) as connection:
        producer = connection.Producer()
        key = queue_name(mq_env.manager_name, "setup")
        producer.publish(b"this is not json", exchange="lwr", routing_key=key, content_type="text/plain",
                         content_encoding="binary", delivery_mode=2, declare=[exchange.queue("setup")])
    exchange.publish("setup", {"command_line": "true"})
    exchange.publish("setup", {"job_id": "2301", "command_line": "true", "manager": "no_such_manager"})
    exchange.publish("setup", {"job_id": "../../etc", "command_line": "true"})
    exchange.publish("kill", {"job_id": "never-heard-of-it"})
    terminal = wait_for(lambda: client_manager.terminal("2301"), 20, message="failed status for 2301")
    assert terminal[0]["status"] == "failed" and "no_such_manager" in terminal[0]["stderr"]
    bad_id = wait_for(lambda: client_manager.terminal("../../etc"), 20, message="failed status for the bad id")
    assert bad_id[0]["status"] == "failed" and "job_id" in bad_id[0]["stderr"]
    wait_for(lambda: _queue_depth(mq_env.manager_name, "setup") == 0, 10, message="setup queue drained")
    log = daemon.log()
    assert "body is not JSON" in log and "no job_id in the message" in log
    assert "kill for unknown job never-heard-of-it ignored" in log
    assert not os.path.exists(os.path.join(daemon.staging_directory, "2301"))


def test_kill_message_cancels_a_running_job(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    client = client_manager.get_client({"jobs_directory": daemon.staging_directory}, "2401")
    client.launch("sleep 30", job_config={})
    wait_for(lambda: [b for b in client_manager.delivered if b["job_id"] == "2401"], 20, message="running")
    client.kill()
    final = os.path.join(daemon.staging_directory, "2401", "final_status")
    wait_for(lambda: os.path.exists(final), 20, message="job cancelled")
    with open(final) as handle:
        assert json.load(handle) == "cancelled"


def test_clean_message_removes_the_finished_job_directory(mq_env):
    daemon, client_manager, files = mq_env()
    client = client_manager.get_client({"jobs_directory": daemon.staging_directory}, "2501")
    client.launch("echo done", job_config={})
    wait_for(lambda: client_manager.terminal("2501"), 20, message="job 2501 to finish")
    job_directory = os.path.join(daemon.staging_directory, "2501")
    assert os.path.isdir(job_directory)
    client.clean()  # Galaxy's cleanup_job policy, carried over the queue
    wait_for(lambda: not os.path.exists(job_directory), 20, message="job directory removed")
    client_manager.get_client({"jobs_directory": daemon.staging_directory}, "2501").clean()  # twice: harmless
    wait_for(lambda: "clean for unknown job 2501 ignored" in daemon.log(), 20, message="second clean logged")


def test_queue_isolation_between_named_managers_on_the_broker():
    require_broker()
    names = [random_manager_name("iso") for _ in range(3)]
    received = {name: [] for name in names}
    exchanges = {name: LwrExchange(BROKER_URL, name, timeout=0.1) for name in names}
    stop = threading.Event()
    threads = []
    try:
        for name, exchange in exchanges.items():
            def on_message(message, name=name):
                received[name].append(json.loads(message.body))
                message.ack()
            thread = threading.Thread(target=exchange.consume, args=("setup", on_message),
                                      kwargs={"check": lambda: not stop.is_set()}, daemon=True)
            thread.start()
            threads.append(thread)
        for name, exchange in exchanges.items():
            exchange.publish("setup", {"job_id": name})
        wait_for(lambda: all(received.values()), 10, message="every consumer to get its message")
        time.sleep(0.3)
        for name in names:
            assert received[name] == [{"job_id": name}]
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        for name, exchange in exchanges.items():
            exchange.close()
            delete_queues(name)
