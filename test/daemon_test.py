"""``lwr.daemon`` and ``lwr_submit`` (scripts/submit.bash): real processes, pid and log files."""
import base64
import json
import os
import re
import signal
import subprocess
import sys

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
from test.support.server import REPO_ROOT, free_port
from test.support.wait import wait_for

SUBMIT = os.path.join(REPO_ROOT, "scripts", "submit.bash")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _daemon(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "lwr.daemon"] + list(args), cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _write_ini(directory, **conf):
    conf.setdefault("staging_directory", str(directory / "staging"))
    conf.setdefault("persistence_directory", str(directory / "persisted"))
    path = directory / "server.ini"
    path.write_text("[app:main]\npaste.app_factory = lwr.web.wsgi:app_factory\n"
                    + "".join("%s = %s\n" % item for item in conf.items()))
    return path


@pytest.mark.parametrize("command", [[sys.executable, "-m", "lwr.daemon", "--help"], [SUBMIT, "--help"]])
def test_scripts_have_help(command):
    result = subprocess.run(command, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "--ini_path" in result.stdout and "--app" in result.stdout


def test_missing_ini_is_a_one_line_error(tmp_path):
    result = _daemon("--root", str(tmp_path), "--ini_path", "nope.ini")
    assert result.returncode == 1
    assert "nope.ini not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # ~11 s: it waits through the reconnect backoff
def test_daemonize_writes_pid_and_log_waits_for_a_down_broker_with_backoff_and_stops(tmp_path):
    port = free_port()  # nothing listens here: the broker is "down"
    _write_ini(tmp_path, message_queue_url="amqp://guest:guest@127.0.0.1:%d//" % port, amqp_reconnect_max="2")
    result = _daemon("--root", str(tmp_path), "--daemonize", "--pid_file", "d.pid", "--log_file", "d.log")
    assert result.returncode == 0, result.stderr
    pid_file, log_file = tmp_path / "d.pid", tmp_path / "d.log"
    pid = wait_for(lambda: pid_file.exists() and int(pid_file.read_text()), 15, message="pid file")
    try:
        # One consumer per queue and exchange; follow the setup consumer of exchange pulsar.
        wait_for(lambda: len(re.findall(r"of pulsar__setup: .* unavailable .*attempt \d+ failed",
                                        log_file.read_text())) >= 3,
                 20, interval=0.2, message="three logged reconnect attempts")
        delays = [float(d) for d in re.findall(r"of pulsar__setup: .*attempt \d+ failed, retrying in ([\d.]+)s",
                                               log_file.read_text())]
        assert delays[:3] == [1.0, 2.0, 2.0]  # doubling, capped by amqp_reconnect_max
        os.kill(pid, 0)  # still running: a down broker is waited for, not fatal
        stopped = _daemon("--root", str(tmp_path), "--stop", "--pid_file", "d.pid")
        assert stopped.returncode == 0, stopped.stderr
        assert not pid_file.exists()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert "lwr-daemon stopping" in log_file.read_text()
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_stop_without_a_running_daemon_says_so(tmp_path):
    result = _daemon("--root", str(tmp_path), "--stop")
    assert result.returncode == 0 and "not running" in result.stderr


@pytest.mark.amqp
@pytest.mark.slow  # ~9 s
def test_daemon_started_before_the_broker_takes_jobs_once_it_is_reachable(tmp_path):
    require_broker()
    port = free_port()
    name = random_manager_name("late")
    daemon = DaemonProcess(tmp_path / "lwr", name, url="amqp://guest:guest@127.0.0.1:%d//" % port)
    client_manager = RecordingClientManager(BROKER_URL, manager=name)
    forwarder = BrokerRelay(port)
    try:
        daemon.start()
        wait_for(lambda: "attempt 2 failed" in daemon.log(), 20, message="two failed connection attempts")
        forwarder.start()
        assert client_manager.wait_connected(15)
        client = client_manager.get_client({"jobs_directory": daemon.staging_directory}, "5001")
        client.launch("echo late-broker", job_config={})
        terminal = wait_for(lambda: client_manager.terminal("5001"), 30, message="job 5001 to complete")
        assert terminal[0]["status"] == "complete" and terminal[0]["stdout"] == "late-broker\n"
    finally:
        daemon.kill()
        client_manager.shutdown()
        forwarder.stop()
        delete_queues(name)


def test_lwr_submit_runs_one_job_from_base64_without_a_broker(tmp_path):
    ini = _write_ini(tmp_path)
    job = {"job_id": "6001", "command_line": "echo submitted", "setup_params": {"job_id": "6001"}}
    encoded = base64.b64encode(json.dumps(job).encode()).decode()
    result = subprocess.run([SUBMIT, "--ini_path", str(ini), "--base64", encoded, "--poll_interval", "0.1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "job 6001: complete" in result.stdout
    assert (tmp_path / "staging" / "6001" / "metadata" / "job_stdout").read_text() == "submitted\n"


def test_lwr_submit_rejects_a_bad_description(tmp_path):
    ini = _write_ini(tmp_path)
    (tmp_path / "job.json").write_text("[1, 2]")
    result = subprocess.run([SUBMIT, "--ini_path", str(ini), "--file", str(tmp_path / "job.json")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "job_id" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.amqp
def test_message_cli_client_starts_submit_bash_and_the_status_arrives_over_the_broker(tmp_path):
    require_broker()
    name = random_manager_name("cli")
    (tmp_path / "jobs.ini").write_text("[manager:%s]\ntype = queued_python\n" % name)
    ini = _write_ini(tmp_path, message_queue_url=BROKER_URL, job_managers_config=str(tmp_path / "jobs.ini"))
    client_manager = RecordingClientManager(BROKER_URL, manager=name)
    try:
        client = client_manager.get_client({"jobs_directory": str(tmp_path / "staging"), "shell_plugin": "LocalShell",
                                            "remote_lwr_path": REPO_ROOT, "remote_lwr_ini_path": str(ini)}, "6101")
        assert "--manager %s" % name in client.launch_command({"job_id": "6101"})
        client.launch("echo via-cli", job_config={})
        terminal = wait_for(lambda: client_manager.terminal("6101"), 40, interval=0.2, message="job 6101")
        assert terminal[0]["status"] == "complete" and terminal[0]["stdout"] == "via-cli\n"
        assert [b["status"] for b in client_manager.raw_terminal("6101")] == ["complete"]
    finally:
        client_manager.shutdown()
        delete_queues(name)
