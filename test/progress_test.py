"""Transfer progress: the client library's callback against a real server, and the display."""
import base64
import doctest
import hashlib
import io
import json
import os
import subprocess
import sys

import pytest

from lwr.lwr_client import build_client_manager
from lwr.lwr_client import progress as progress_module
from lwr.lwr_client.progress import ProgressDisplay, display_for, set_default_progress
from lwr.lwr_client.transport import get_transport, pycurl_available
from test.support.files_server import FilesServer
from test.support.server import REPO_ROOT

SIZE = 6 * 1024 * 1024 + 17  # several 1 MiB blocks and a ragged end
TRANSPORTS = ["urllib", pytest.param("curl", marks=pytest.mark.skipif(not pycurl_available(),
                                                                       reason="pycurl is not installed"))]


class Recorder:
    """A progress factory keeping every call: ``files[(path, direction)] = [(done, total), ...]``."""

    def __init__(self):
        self.files = {}

    def __call__(self, path, direction):
        calls = self.files.setdefault((path, direction), [])
        return lambda done, total: calls.append((done, total))


def _check_calls(calls, size):
    assert len(calls) >= 3, calls  # reported along the way, not only at the end
    assert calls[-1] == (size, size)
    assert calls[0][0] == 0
    done = [call[0] for call in calls]
    assert done == sorted(done), calls
    assert all(total in (size, None) for _, total in calls), calls


def _big_file(path, size=SIZE):
    data = os.urandom(size)
    with open(path, "wb") as handle:
        handle.write(data)
    return hashlib.sha256(data).hexdigest()


def _sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.mark.server
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_upload_and_download_report_each_file(lwr_server, tmp_path, transport):
    recorder = Recorder()
    manager = build_client_manager(transport=transport, progress=recorder)
    client = manager.get_client({"url": lwr_server.url}, "prog1")
    client.setup()
    source = str(tmp_path / "big.dat")
    digest = _big_file(source)
    client.put_file(source, "input")
    _check_calls(recorder.files.pop((source, "upload")), SIZE)

    # The server sends it back as an output of the job.
    outputs = os.path.join(lwr_server.staging_directory, "prog1", "outputs")
    os.makedirs(outputs, exist_ok=True)
    os.link(os.path.join(lwr_server.staging_directory, "prog1", "inputs", "big.dat"),
            os.path.join(outputs, "big.out"))
    target = str(tmp_path / "back" / "big.out")
    client.fetch_output(target, name="big.out")
    assert _sha256(target) == digest
    _check_calls(recorder.files.pop((target, "download")), SIZE)
    assert recorder.files == {}  # small JSON answers (setup) are not reported


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_process_default_covers_remote_transfers(tmp_path, transport):
    """``remote_transfer`` actions (the server fetching from Galaxy) use module-level helpers:
    the process-wide factory sees them, both ways (the POST is Galaxy's multipart form)."""
    root = tmp_path / "galaxy"
    root.mkdir()
    source = str(root / "in.dat")
    digest = _big_file(source)
    recorder = Recorder()
    set_default_progress(recorder)
    try:
        with FilesServer(root) as files:
            transport_ = get_transport(transport)
            fetched = str(tmp_path / "fetched.dat")
            transport_.get_file(files.url + "&path=%s&file_type=input" % source, fetched)
            assert _sha256(fetched) == digest
            transport_.post_file(files.url + "&path=%s&file_type=output" % (root / "out.dat"), fetched)
            assert _sha256(str(root / "out.dat")) == digest
    finally:
        set_default_progress(None)
    _check_calls(recorder.files.pop((fetched, "download")), SIZE)
    _check_calls(recorder.files.pop((fetched, "upload")), SIZE)
    assert recorder.files == {}


def test_transport_factory_wins_over_the_default_and_none_means_nothing(tmp_path):
    mine, default = Recorder(), Recorder()
    set_default_progress(default)
    try:
        assert progress_module.callback_for(mine, "/x", "upload") is not None
        assert ("/x", "upload") in mine.files and default.files == {}
        assert progress_module.callback_for(None, "/y", "download") is not None
        assert ("/y", "download") in default.files
    finally:
        set_default_progress(None)
    assert progress_module.callback_for(None, "/z", "upload") is None


@pytest.mark.server
def test_a_failing_callback_aborts_the_transfer(lwr_server, tmp_path):
    def factory(path, direction):
        def callback(done, total):
            if done > 2 * 1024 * 1024:
                raise RuntimeError("stop here")
        return callback

    client = build_client_manager(transport="urllib", progress=factory).get_client({"url": lwr_server.url},
                                                                                    "prog2")
    client.setup()
    source = str(tmp_path / "big.dat")
    _big_file(source)
    with pytest.raises(RuntimeError, match="stop here"):
        client.put_file(source, "input")


# -- the display ---------------------------------------------------------------------------------
def test_formatting_doctests():
    failures, tried = doctest.testmod(progress_module)
    assert tried > 0 and failures == 0


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


MIB = 1024 * 1024


def _feed(display, clock, path, direction, total, steps, seconds_per_step):
    callback = display(path, direction)
    for index in range(steps + 1):
        callback(min(total, index * total // steps), total)
        clock.now += seconds_per_step
    return callback


def test_terminal_line_shows_rate_and_eta_then_a_summary():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=True, interval=0.25, clock=clock, width=200)
    callback = display("/data/big.dat", "upload")
    callback(0, 80 * MIB)
    for second in range(1, 4):  # 8 MiB/s
        clock.now += 1
        callback(second * 8 * MIB, 80 * MIB)
    drawn = stream.getvalue()
    assert drawn.startswith("\r\x1b[K")
    assert "\r\x1b[Kupload big.dat  24.0 MiB / 80.0 MiB  30%  8.0 MiB/s  ETA 0:07" in drawn
    clock.now += 7
    callback(80 * MIB, 80 * MIB)
    assert stream.getvalue().endswith("\r\x1b[Kupload big.dat  80.0 MiB in 10.0s (8.0 MiB/s)\n")


def test_terminal_forgets_quick_transfers_and_sums_up_parallel_ones():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=True, interval=0.25, clock=clock, width=200)
    _feed(display, clock, "/a/small", "upload", 1000, 2, 0.1)  # 0.3 s: never drawn, no line left
    assert stream.getvalue() == ""
    first, second = display("/a/one", "download"), display("/a/two", "download")
    first(0, 10 * MIB)
    second(0, None)
    clock.now += 1
    first(4 * MIB, 10 * MIB)
    second(2 * MIB, None)
    clock.now += 1
    first(6 * MIB, 10 * MIB)
    assert stream.getvalue().endswith("\r\x1b[K2 transfers  8.0 MiB  5.0 MiB/s")  # 3 + 2 MiB/s; one total unknown
    display.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_terminal_line_fits_the_width():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=True, clock=clock, width=40, show_after=0)
    display("/" + "x" * 100, "upload")(0, MIB)
    line = stream.getvalue().split("\r\x1b[K")[-1]
    assert len(line) == 39 and line.endswith("…")


def test_not_a_terminal_prints_lines_now_and_then_and_one_per_file():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=False, interval=5.0, clock=clock)
    _feed(display, clock, "/d/in.dat", "download", 100 * MIB, 10, 1.0)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert lines[-1] == "download in.dat  100.0 MiB in 10.0s (10.0 MiB/s)"
    progress_lines = lines[:-1]
    assert 2 <= len(progress_lines) <= 3, lines  # every 5 s, not every block
    assert progress_lines[1].startswith("download in.dat  50.0 MiB / 100.0 MiB  50%  10.0 MiB/s  ETA 0:05")


def test_a_retried_transfer_starts_over():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=False, interval=100, clock=clock)
    callback = display("/d/x", "upload")
    callback(0, 10 * MIB)
    clock.now += 50
    callback(5 * MIB, 10 * MIB)  # ... the connection fails, the transport retries
    callback(0, 10 * MIB)
    clock.now += 2
    callback(10 * MIB, 10 * MIB)
    assert stream.getvalue().splitlines()[-1] == "upload x  10.0 MiB in 2.0s (5.0 MiB/s)"


def test_display_only_on_a_terminal_unless_forced():
    assert display_for(io.StringIO()) is None
    assert display_for(io.StringIO(), force=True) is not None
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as terminal:
            display = display_for(terminal)
            assert display is not None and display.tty
    finally:
        os.close(master)
        os.close(slave)


# -- the commands --------------------------------------------------------------------------------
def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.server
def test_run_client_tests_shows_transfers_with_progress(lwr_server):
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"), "--url", lwr_server.url,
                             "--transfer_size", "5M", "--progress"],
                            cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    assert "upload transfer_check.bin  5.0 MiB in " in result.stderr, result.stderr
    assert "download transfer_check_back.bin  5.0 MiB in " in result.stderr, result.stderr


@pytest.mark.server
def test_run_client_tests_is_quiet_without_a_terminal(lwr_server):
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"), "--url", lwr_server.url,
                             "--transfer_size", "1M"],
                            cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "transfer_check" not in result.stderr


def test_lwr_submit_shows_the_remote_transfers(tmp_path):
    root = tmp_path / "galaxy"
    root.mkdir()
    source = root / "big.dat"
    _big_file(str(source), 3 * MIB)
    ini = tmp_path / "server.ini"
    ini.write_text("[app:main]\npaste.app_factory = lwr.web.wsgi:app_factory\nstaging_directory = %s\n"
                   "persistence_directory = %s\n" % (tmp_path / "staging", tmp_path / "persisted"))
    with FilesServer(root) as files:
        url = files.url + "&path=%s&file_type=input" % source
        job = {"job_id": "7001", "command_line": "cat ../inputs/big.dat | wc -c",
               "setup_params": {"job_id": "7001"},
               "remote_staging": {"setup": [{"name": "big.dat", "type": "input",
                                             "action": {"action_type": "remote_transfer", "path": str(source),
                                                        "url": url}}]}}
        encoded = base64.b64encode(json.dumps(job).encode()).decode()
        result = subprocess.run([os.path.join(REPO_ROOT, "scripts", "submit.bash"), "--ini_path", str(ini),
                                 "--base64", encoded, "--poll_interval", "0.1", "--progress"],
                                env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "job 7001: complete" in result.stdout
    assert "download big.dat  3.0 MiB in " in result.stderr, result.stderr
    stdout = (tmp_path / "staging" / "7001" / "metadata" / "job_stdout").read_text()
    assert stdout.strip() == str(3 * MIB)
