"""Failures that used to be swallowed now fail the job with its reason, or are retried with
backoff (issue 12): a pid that cannot be stored, an unknown job vs. any ValueError in the
message-queue handlers, a monitor failing on the same job again and again."""
import errno
import json
import logging
import os
import time

import pytest

from lwr.locks import LockManager
from lwr.manager_endpoint_util import submit_job
from lwr.managers import status
from lwr.managers.job_state import store
from lwr.managers.monitor import JobMonitor
from lwr.managers.queued import QueueManager
from lwr.managers.stateful import StatefulManagerProxy
from lwr.managers.util.process import ProcessHandle, WaitInterrupted
from lwr.messaging.handlers import CleanHandler, KillHandler


class FakeProcessOps:
    """The OS edge: processes that run until killed."""

    def __init__(self):
        self.alive = set()
        self.killed = []

    def spawn(self, script_path, cwd, stdout_path, stderr_path):
        pid = 4000 + len(self.alive) + len(self.killed)
        self.alive.add(pid)
        return ProcessHandle(pid, 1.0)

    def wait(self, handle, poll_interval=0.5, stopping=None):
        while handle.pid in self.alive:
            if stopping is not None and stopping.wait(0.01):
                raise WaitInterrupted(handle.pid)
        return None

    def is_alive(self, handle):
        return handle.pid in self.alive

    def find_script_process(self, script_path):
        return None

    def kill_tree(self, handle, grace=1.0):
        self.alive.discard(handle.pid)
        self.killed.append(handle.pid)


class _App:
    def __init__(self, staging):
        self.staging_directory = staging
        self.lock_manager = LockManager()
        self.authorizer = _AllowAll()
        self.dependency_manager = None


class _AllowAll:
    def get_authorization(self, tool_id):
        return self

    def __getattr__(self, name):  # authorize_setup, authorize_execution, ... all allow
        return lambda *args, **kwds: (args[1] if name == "authorize_env" else None)


@pytest.fixture
def proxy(tmp_path):
    ops = FakeProcessOps()
    manager = QueueManager("q", _App(str(tmp_path / "staging")), process_ops=ops, num_concurrent_jobs="1")
    built = StatefulManagerProxy(manager, persistence_directory=str(tmp_path / "persisted"),
                                 min_polling_interval="0.05")
    built.start()
    yield built, ops
    built.shutdown(5)
    manager.threads.shutdown(5)


def _disk_full_for(monkeypatch, names):
    """Writes of the job facts ``names`` fail as on a full disk (ENOSPC); returns a switch off."""
    real = store.write_value
    state = {"full": True}

    def write_value(path, value):
        if state["full"] and os.path.basename(path) in names:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(path, value)
    monkeypatch.setattr(store, "write_value", write_value)
    return lambda: state.update(full=False)


def _wait(proxy, job_id, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    current = None
    while time.monotonic() < deadline:
        current = proxy.get_status(job_id)
        if current in wanted:
            return current
        time.sleep(0.02)
    raise AssertionError("job %s stuck in %s" % (job_id, current))


def test_a_pid_that_cannot_be_stored_fails_the_job_and_stops_its_process(proxy, monkeypatch):
    proxy, ops = proxy
    _disk_full_for(monkeypatch, {"pid"})
    proxy.setup_job("j1", "tool", "1.0")
    submit_job(proxy, {"job_id": "j1", "command_line": "sleep 100"})
    assert _wait(proxy, "j1", status.TERMINAL_STATES) == status.FAILED
    assert "could not record the job's process" in proxy.failure_reason("j1")
    assert "No space left on device" in proxy.failure_reason("j1")
    assert ops.killed and not ops.alive  # not left running untracked
    assert not proxy.is_active("j1")


def test_a_disk_full_for_every_fact_still_reads_failed_and_is_written_once_there_is_room(proxy, monkeypatch):
    proxy, ops = proxy
    room = _disk_full_for(monkeypatch, {"pid", "failure_reason", "final_status", "launching"})
    proxy.setup_job("j1", "tool", "1.0")
    submit_job(proxy, {"job_id": "j1", "command_line": "sleep 100"})
    assert _wait(proxy, "j1", status.TERMINAL_STATES) == status.FAILED  # from memory
    assert "could not record the start of the job" in proxy.failure_reason("j1")
    directory = proxy.job_directory("j1")
    assert not directory.has_metadata("final_status") and proxy.is_active("j1")
    room()  # the monitor retries with backoff and records it now
    deadline = time.monotonic() + 10
    while proxy.is_active("j1") and time.monotonic() < deadline:
        proxy.monitor.wake()
        time.sleep(0.05)
    assert directory.load_metadata("final_status") == status.FAILED
    assert "could not record the start of the job" in directory.load_metadata("failure_reason")
    assert not proxy.is_active("j1") and not ops.alive


class _Manager:
    name = "m"

    def __init__(self, error):
        self.error = error

    def kill(self, job_id):
        raise self.error

    clean = kill


@pytest.mark.parametrize("handler_class", [KillHandler, CleanHandler])
def test_handlers_answer_unknown_only_for_an_unknown_job(handler_class):
    from lwr.managers.job_state import NotCancelled, UnknownJob
    body = json.dumps({"job_id": "j1"}).encode()
    assert handler_class(_Manager(UnknownJob("j1"))).handle(body) == "unknown"
    assert handler_class(_Manager(ValueError("a bug, not an unknown job"))).handle(body) == "rejected"
    assert handler_class(_Manager(NotCancelled("still running"))).handle(body) == "not cancelled"
    bad_id = json.dumps({"job_id": "../etc"}).encode()
    assert handler_class(_Manager(AssertionError("never called"))).handle(bad_id) == "rejected"


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _NoThreads:
    class stopping:
        @staticmethod
        def is_set():
            return False


def test_monitor_backs_off_a_job_that_keeps_failing_and_logs_once_with_a_traceback(caplog):
    clock = _Clock()
    calls = {"bad": 0, "good": 0}

    def advance(job_id):
        calls[job_id] += 1
        if job_id == "bad":
            raise OSError(errno.EIO, "Input/output error")

    monitor = JobMonitor("m", lambda: ["bad", "good"], advance, _NoThreads(), interval=0.5, max_backoff=60,
                         clock=clock)
    caplog.set_level(logging.WARNING, logger="lwr.managers.monitor")
    for _ in range(1200):  # 10 minutes of 0.5 s ticks
        monitor.run_once()
        clock.now += 0.5
    assert calls["good"] == 1200
    assert calls["bad"] < 20  # 1, 2, 4, ... 60 s apart instead of 1,200 times
    assert monitor.backoff("bad")[0] == calls["bad"]
    records = [r for r in caplog.records if r.name == "lwr.managers.monitor"]
    assert len(records) == calls["bad"]
    assert records[0].exc_info and not any(r.exc_info for r in records[1:])
    assert "10 times in a row" in " ".join(r.getMessage() for r in records)


def test_monitor_forgets_the_backoff_once_the_job_advances_again():
    clock = _Clock()
    failing = {"on": True}

    def advance(job_id):
        if failing["on"]:
            raise OSError("down")

    monitor = JobMonitor("m", lambda: ["j"], advance, _NoThreads(), interval=0.5, clock=clock)
    monitor.run_once()
    assert monitor.backoff("j")[0] == 1
    failing["on"] = False
    clock.now += 1.0
    monitor.run_once()
    assert monitor.backoff("j") is None
