"""Harness for the message-queue tests: a real ``lwr.daemon`` process, a Galaxy stand-in, MQ clients.

Every test uses its own random manager name, so its queues
(``lwr_<name>__setup`` ...) never collide with a parallel run on the shared
broker; queues are deleted again at teardown.
"""
import hashlib
import os
import random
import signal
import string
import subprocess
import sys
import time

import pytest

from lwr.lwr_client import ClientJobDescription, ClientOutputs, submit_job
from lwr.lwr_client.amqp_manager import MessageQueueClientManager
from test.support.files_server import FilesServer, _Handler
from test.support.server import REPO_ROOT
from test.support.services import port_open, require
from test.support.tcp_proxy import TcpProxy
from test.support.wait import wait_for

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
TERMINAL = ("complete", "failed", "lost", "cancelled")


def require_broker():
    require(port_open("127.0.0.1", 5672), "RabbitMQ is not listening on 127.0.0.1:5672")


def random_manager_name(prefix="t") -> str:
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(10))


#: Every queue a manager may have: consumed by the LWR, by its clients, and the acknowledgement queues.
QUEUE_KINDS = ("setup", "kill", "clean", "status", "status_update", "setup_ack", "kill_ack", "status_update_ack")


def delete_queues(manager_name, url=BROKER_URL, exchanges=("lwr", "pulsar"), key_prefix=None):
    """Remove a test manager's queues (on every exchange it may have used) from the shared broker."""
    import kombu
    from lwr.lwr_client.amqp_exchange import queue_name
    names = {queue_name(manager_name, kind, exchange) for exchange in exchanges for kind in QUEUE_KINDS}
    if key_prefix:
        names |= {queue_name(manager_name, kind, exchanges[0], key_prefix) for kind in QUEUE_KINDS}
    try:
        with kombu.Connection(url, connect_timeout=3) as connection:
            channel = connection.channel()
            for name in sorted(names):
                try:
                    channel.queue_delete(name)
                except Exception:
                    channel = connection.channel()
            for exchange in exchanges:
                if exchange not in ("lwr", "pulsar"):  # test-only exchanges go too
                    try:
                        channel.exchange_delete(exchange)
                    except Exception:
                        channel = connection.channel()
    except Exception:
        pass


class DaemonProcess:
    """``python -m lwr.daemon`` in the foreground, configured for one manager; SIGKILL-able."""

    def __init__(self, root, manager_name, url=BROKER_URL, extra_conf=None, manager_options=None):
        self.root = str(root)
        self.manager_name = manager_name
        self.staging_directory = os.path.join(self.root, "staging")
        self.persistence_directory = os.path.join(self.root, "persisted")
        self.log_path = os.path.join(self.root, "daemon.log")
        self.pid_file = os.path.join(self.root, "lwr.pid")
        self.process = None
        os.makedirs(self.root, exist_ok=True)
        manager_options = dict({"type": "queued_python", "num_concurrent_jobs": "4",
                                "min_polling_interval": "0.1"}, **(manager_options or {}))
        with open(os.path.join(self.root, "job_managers.ini"), "w") as handle:
            handle.write("[manager:%s]\n" % manager_name)
            for key, value in manager_options.items():
                handle.write("%s = %s\n" % (key, value))
        conf = {"staging_directory": self.staging_directory, "persistence_directory": self.persistence_directory,
                "job_managers_config": os.path.join(self.root, "job_managers.ini"),
                "message_queue_url": url, "amqp_consumer_timeout": "0.2", "amqp_reconnect_max": "2"}
        conf.update(extra_conf or {})
        with open(os.path.join(self.root, "server.ini"), "w") as handle:
            handle.write("[app:main]\npaste.app_factory = lwr.web.wsgi:app_factory\n")
            for key, value in conf.items():
                handle.write("%s = %s\n" % (key, str(value).replace("%", "%%")))

    def start(self) -> "DaemonProcess":
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lwr.daemon", "--root", self.root, "--ini_path", "server.ini",
             "--pid_file", self.pid_file], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: "lwr-daemon running" in self.log() or self.process.poll() is not None, 20,
                 message="lwr-daemon to start")
        assert self.process.poll() is None, "lwr-daemon exited:\n%s" % self.log()
        return self

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgements, outbox and job state left as they are."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class BrokerRelay(TcpProxy):
    """A TCP relay from ``port`` to the broker: "the broker comes up" when it starts, "goes away" at ``cut()``."""

    def __init__(self, port, target=("127.0.0.1", 5672)):
        super().__init__(target, port)


class SlowFilesServer(FilesServer):
    """The Galaxy stand-in, optionally slow, so a test can catch jobs mid-transfer."""

    def __init__(self, root, get_delay=0.0, post_delay=0.0):
        super().__init__(root)
        delays = {"GET": get_delay, "POST": post_delay}

        class Handler(_Handler):
            def do_GET(self):
                time.sleep(delays["GET"])
                super().do_GET()

            def do_POST(self):
                time.sleep(delays["POST"])
                super().do_POST()

        self.delays = delays
        self.httpd.RequestHandlerClass = Handler


class RecordingClientManager(MessageQueueClientManager):
    """Counts every raw status message too, so tests see what de-duplication dropped."""

    def __init__(self, *args, **kwds):
        super().__init__(*args, **kwds)
        self.raw = []
        self.delivered = []
        self.ensure_has_status_update_callback(self.delivered.append)

    def _record(self, body):
        self.raw.append(dict(body))
        return super()._record(body)

    def terminal(self, job_id):
        return [b for b in self.delivered if b["job_id"] == job_id and b["status"] in TERMINAL]

    def raw_terminal(self, job_id):
        return [b for b in self.raw if b["job_id"] == job_id and b["status"] in TERMINAL]


class MockTool:
    def __init__(self, tool_dir):
        self.id = "mq_test_tool"
        self.version = "1.0"
        self.tool_dir = tool_dir


class CopyJob:
    """A job copying a random input to its output via remote_transfer; knows the expected checksum."""

    def __init__(self, base, job_id, size=200 * 1024, sleep=0.5):
        self.job_id = str(job_id)
        self.directory = os.path.join(str(base), "job_%s" % job_id)
        os.makedirs(os.path.join(self.directory, "w"), exist_ok=True)
        os.makedirs(os.path.join(self.directory, "tool"), exist_ok=True)
        self.input = os.path.join(self.directory, "in_%s.dat" % job_id)
        self.output = os.path.join(self.directory, "out_%s.dat" % job_id)
        data = os.urandom(size)
        with open(self.input, "wb") as handle:
            handle.write(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.command_line = 'sleep %s && cp "%s" "%s"' % (sleep, self.input, self.output)

    def submit(self, client_manager, staging_directory, files_endpoint):
        client = client_manager.get_client({"jobs_directory": staging_directory,
                                            "default_file_action": "remote_transfer",
                                            "files_endpoint": files_endpoint}, self.job_id)
        outputs = ClientOutputs(working_directory=os.path.join(self.directory, "w"), output_files=[self.output])
        description = ClientJobDescription(tool=MockTool(os.path.join(self.directory, "tool")),
                                           command_line=self.command_line, config_files=[],
                                           input_files=[self.input], client_outputs=outputs,
                                           working_directory=os.path.join(self.directory, "w"))
        submit_job(client, description)
        return client

    def output_ok(self) -> bool:
        try:
            with open(self.output, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest() == self.sha256
        except FileNotFoundError:
            return False


def assert_exactly_one_complete(client_manager, jobs, timeout=60):
    """Every job: one delivered terminal status, ``complete``, and its output checksum matches."""
    wait_for(lambda: all(client_manager.terminal(job.job_id) for job in jobs), timeout,
             message="a terminal status for every job")
    time.sleep(0.5)  # anything republished late would arrive now and must be dropped
    for job in jobs:
        terminal = client_manager.terminal(job.job_id)
        assert len(terminal) == 1, (job.job_id, terminal)
        assert terminal[0]["status"] == "complete", (job.job_id, terminal[0].get("stderr"))
        assert terminal[0]["returncode"] == 0, terminal[0]
        assert job.output_ok(), "job %s: output missing or checksum differs" % job.job_id


@pytest.fixture
def mq_env(tmp_path):
    """``(daemon, client_manager, files_server)`` for a fresh manager name; everything stopped after."""
    require_broker()
    name = random_manager_name()
    created = {"daemons": [], "managers": [], "files": []}

    def build(daemon_kwargs=None, get_delay=0.0, post_delay=0.0, start=True, client=True, files_root=None):
        daemon = DaemonProcess(tmp_path / "lwr", name, **(daemon_kwargs or {}))
        created["daemons"].append(daemon)
        files = SlowFilesServer(files_root or tmp_path, get_delay=get_delay, post_delay=post_delay).start()
        created["files"].append(files)
        client_manager = None
        if client:
            client_manager = RecordingClientManager(BROKER_URL, manager=name, amqp_reconnect_max="2")
            created["managers"].append(client_manager)
            assert client_manager.wait_connected(15), "status consumer did not connect"
        if start:
            daemon.start()
        return daemon, client_manager, files

    build.manager_name = name
    yield build
    for daemon in created["daemons"]:
        daemon.kill()
    for client_manager in created["managers"]:
        client_manager.shutdown()
    for files in created["files"]:
        files.stop()
    delete_queues(name)


@pytest.mark.amqp
def test_daemon_runs_a_remote_transfer_job_and_publishes_running_then_complete(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    job = CopyJob(tmp_path, 1001, sleep=1)
    job.submit(client_manager, daemon.staging_directory, files.url)
    assert_exactly_one_complete(client_manager, [job], timeout=30)
    statuses = [b["status"] for b in client_manager.raw if b["job_id"] == job.job_id]
    assert statuses == ["running", "complete"], statuses
    body = client_manager.terminal(job.job_id)[0]
    assert body["complete"] == "true" and "out_1001.dat" in body["outputs_directory_contents"]
    assert any(r["method"] == "GET" for r in files.requests) and any(r["method"] == "POST" for r in files.requests)
