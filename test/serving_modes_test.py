"""Every documented way to serve the LWR runs real jobs, started the documented way
(``./run.sh [--mode MODE] --config FILE``) from ``server.ini.sample`` changed only where the
docs say: paster with LWR's runner (the default), paster with ``use = egg:lwr#waitress``,
``--mode gunicorn`` and ``--mode uwsgi`` (real uWSGI from PyPI, the sample's [uwsgi] section).

Each mode runs the complete client check job, a job whose command line makes a submit
request line of ~10 KiB (uWSGI's default buffer dropped those) and one of ~140 KB (sent as
a form body), and writes no private key into its log.
"""
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request

import pytest

from lwr.lwr_client import build_client_manager
from lwr.scripts.lwr_config import set_option
from test.support.server import REPO_ROOT, free_port
from test.support.services import require
from test.uwsgi_logging_test import UWSGI_VENV, _uwsgi

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOKEN = "serving-modes-T0ken-4f2a9c"
RUN_SH = os.path.join(REPO_ROOT, "run.sh")


def _config(directory, port, use=None, uwsgi_http=False, extra_server=(), token=TOKEN):
    with open(os.path.join(REPO_ROOT, "server.ini.sample")) as handle:
        text = handle.read()
    settings = [("server:main", "host", "127.0.0.1"), ("server:main", "port", str(port)),
                ("app:main", "private_key", token),
                ("app:main", "staging_directory", os.path.join(directory, "staging")),
                ("app:main", "persistence_directory", os.path.join(directory, "persisted"))]
    if use:
        settings.append(("server:main", "use", use))
    settings += [("server:main", key, value) for key, value in extra_server]
    if uwsgi_http:
        settings += [("uwsgi", "socket", None), ("uwsgi", "http-socket", "127.0.0.1:%d" % port)]
    for section, option, value in settings:
        text = set_option(text, section, option, value)
    path = os.path.join(directory, "server.ini")
    with open(path, "w") as handle:
        handle.write(text)
    return path


class Served:
    """``run.sh`` in the foreground, its output in ``directory/run.log``."""

    def __init__(self, directory, port, args, env=None):
        self.port = port
        self.log_path = os.path.join(directory, "run.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([RUN_SH] + args, stdout=log, stderr=subprocess.STDOUT,
                                            env=env or dict(os.environ), start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz?private_key=%s" % (port, TOKEN), timeout=5) as response:
                    assert response.status == 200
                return
            except OSError:
                assert self.process.poll() is None, "server exited: %s" % self.log()
                assert time.monotonic() < deadline, "no answer within 60s: %s" % self.log()
                time.sleep(0.2)

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def log(self):
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def cmdline(self):
        with open("/proc/%d/cmdline" % self.process.pid, "rb") as handle:
            return handle.read().split(b"\0")

    def stop(self):
        """SIGTERM, as systemd and supervisor stop it (uWSGI too, with die-on-term)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
                raise AssertionError("did not stop on SIGTERM: %s" % self.log())


def _wait_complete(client, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        status = client.full_status()
        if status["complete"] == "true":
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def _run_jobs(served):
    check = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"), "--url", served.url,
                            "--private_token", TOKEN], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "All checks passed" in check.stdout, check.stdout + check.stderr
    manager = build_client_manager()
    for words in (1400, 20000):  # ~10 KiB in the request line; ~140 KB as a form body
        client = manager.get_client({"url": served.url, "private_token": TOKEN}, "long%d" % words)
        client.setup("t", "1")
        client.launch("echo %s | wc -w" % " ".join("w%05d" % i for i in range(words)))
        status = _wait_complete(client)
        assert (status["status"], status["stdout"].strip()) == ("complete", str(words)), status
        client.clean()


def _check_log(served):
    text = served.log()
    assert text.count("[lwr.access]") >= 10, text[-3000:]
    assert TOKEN not in text, text[-3000:]


def test_default_mode_is_paster_with_lwrs_runner_even_with_uwsgi_on_path(tmp_path):
    port = free_port()
    config = _config(str(tmp_path), port)
    env = dict(os.environ)
    uwsgi = _uwsgi()
    if uwsgi:  # uwsgi on PATH used to make run.sh pick uwsgi mode by itself
        env["PATH"] = os.path.dirname(uwsgi) + os.pathsep + env["PATH"]
    served = Served(str(tmp_path), port, ["--config", config], env)
    try:
        assert any(part.endswith(b"paster") for part in served.cmdline()), served.cmdline()
        _run_jobs(served)
    finally:
        served.stop()
    _check_log(served)


def test_waitress_is_a_one_line_swap(tmp_path):
    port = free_port()
    config = _config(str(tmp_path), port, use="egg:lwr#waitress")
    served = Served(str(tmp_path), port, ["--config", config])
    try:
        _run_jobs(served)
    finally:
        served.stop()
    _check_log(served)
    assert "waitress" in served.log()


@pytest.mark.parametrize("option, expected", [
    ("ssl_pem = /etc/lwr/host.pem", "[server:main] ssl_pem: not supported with use = egg:lwr#waitress"),
    ("min_rate = 1024", "[server:main] min_rate: not supported with use = egg:lwr#waitress"),
    ("threadpool_kill_thread_limit = 1800", "[server:main] threadpool_kill_thread_limit: Paste thread-pool option"),
    ("channel_timeout = soon", "[server:main] invalid waitress setting"),
    ("threads = 4", "[server:main] threadpool_workers and threads are both set"),
])
def test_waitress_refuses_options_it_cannot_honour_in_one_line(tmp_path, option, expected):
    name, value = option.split(" = ")
    config = _config(str(tmp_path), free_port(), use="egg:lwr#waitress", extra_server=[(name, value)])
    try:
        result = subprocess.run([RUN_SH, "--config", config], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("the server started: %s" % exc.stderr)
    output = result.stdout + result.stderr
    assert expected in output, output
    assert "Traceback" not in output, output
    assert "[lwr." not in output, output  # refused before the application was built
    assert result.returncode != 0


def test_gunicorn_mode_runs_one_threaded_worker(tmp_path):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    require(os.path.exists(gunicorn), "gunicorn is not installed in %s (./setup_venv.sh --dev)" % sys.prefix)
    port = free_port()
    config = _config(str(tmp_path), port)
    served = Served(str(tmp_path), port, ["--mode", "gunicorn", "--config", config])
    try:
        _run_jobs(served)
        import psutil
        workers = psutil.Process(served.process.pid).children()
        assert len(workers) == 1, workers  # one worker: jobs and queues live in its memory
    finally:
        served.stop()
    _check_log(served)
    assert "gthread" in served.log()


def test_uwsgi_mode_with_the_sample_section(tmp_path):
    uwsgi = _uwsgi()
    require(uwsgi is not None, "uwsgi (pyuwsgi) could not be installed into %s" % UWSGI_VENV)
    port = free_port()
    config = _config(str(tmp_path), port, uwsgi_http=True)
    env = dict(os.environ, PATH=os.path.dirname(uwsgi) + os.pathsep + os.environ["PATH"])
    # uWSGI's embedded Python is UWSGI_VENV's: LWR and its requirements come from this
    # checkout and the test's own environment.
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, sysconfig.get_paths()["purelib"]])
    served = Served(str(tmp_path), port, ["--mode", "uwsgi", "--config", config], env)
    try:
        _run_jobs(served)
    finally:
        served.stop()
    _check_log(served)
    # lazy-apps: the application (and its queue threads) was built in the worker, after the fork.
    text = served.log()
    worker = re.search(r"spawned uWSGI worker 1 \(pid: (\d+)", text).group(1)
    assert re.search(r"WSGI app 0 .* ready .* pid: %s " % worker, text), text[:5000]
