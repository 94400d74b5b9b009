"""Job directories of message-queue jobs are reaped by ``cleanup_after``, never before their status is out.

Galaxy's stock ``PulsarMQJobRunner`` never sends ``clean``, so the retention
options (``cleanup_after``, ``cleanup_interval``) are what removes its jobs.  A
job counts as finished for them only once its terminal status was confirmed
by the broker: here the LWR reaches the real broker through a relay that is
cut while a job ends, so its ``complete`` cannot be published until the relay
is back, and its directory must survive until then.
"""
import os
import time

import pytest

from test.amqp_harness_test import (
    BROKER_URL,
    BrokerRelay,
    DaemonProcess,
    RecordingClientManager,
    delete_queues,
    random_manager_name,
    require_broker,
)
from test.support.server import free_port
from test.support.wait import wait_for

pytestmark = [pytest.mark.amqp, pytest.mark.slow]


def test_mq_job_directories_are_reaped_only_after_their_terminal_status_was_published(tmp_path):
    require_broker()
    port = free_port()
    name = random_manager_name("ret")
    relay = BrokerRelay(port).start()
    daemon = DaemonProcess(tmp_path / "lwr", name, url="amqp://guest:guest@127.0.0.1:%d//" % port,
                           extra_conf={"cleanup_after": "2s", "cleanup_interval": "1s"})
    client_manager = RecordingClientManager(BROKER_URL, manager=name)
    pending = os.path.join(daemon.persistence_directory, "%s-terminal-pending" % name)
    try:
        assert client_manager.wait_connected(15)
        daemon.start()
        staging = daemon.staging_directory
        client_manager.get_client({"jobs_directory": staging}, "8001").launch("echo published", job_config={})
        terminal = wait_for(lambda: client_manager.terminal("8001"), 30, message="job 8001 to complete")
        assert terminal[0]["status"] == "complete", (terminal, daemon.log()[-3000:])
        wait_for(lambda: not os.path.exists(os.path.join(staging, "8001")), 20,
                 message="job 8001's directory to be reaped once its status was out")

        client_manager.get_client({"jobs_directory": staging}, "8002").launch("sleep 3; echo late", job_config={})
        running = wait_for(lambda: [b for b in client_manager.delivered if b["job_id"] == "8002"], 30,
                           message="8002 running")
        assert running[0]["status"] == "running", running
        relay.cut()  # the broker "goes away" while the job runs
        wait_for(lambda: os.path.exists(os.path.join(staging, "8002", "final_status")), 30, message="8002 ends")
        time.sleep(5)  # cleanup_after and two retention passes have gone by
        assert os.path.isdir(os.path.join(staging, "8002")), "reaped before its status was published"
        assert os.listdir(pending) == ["8002"] and not client_manager.terminal("8002")
        assert "removed by retention" in daemon.log()

        relay.start()  # the broker is back: the status goes out, then the directory may go
        terminal = wait_for(lambda: client_manager.terminal("8002"), 40, message="8002's status after the outage")
        assert terminal[0]["status"] == "complete" and terminal[0]["stdout"] == "late\n"
        wait_for(lambda: not os.path.exists(os.path.join(staging, "8002")), 20, message="8002 reaped")
        assert os.listdir(pending) == []
    finally:
        daemon.kill()
        relay.cut()
        client_manager.shutdown()
        delete_queues(name)
