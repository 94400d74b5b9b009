"""Restart of the local managers from every marker state a SIGKILL can leave (fake process edge)."""
import os
import time

import pytest

from lwr.locks import LockManager
from lwr.managers import status
from lwr.managers.queued import QueueManager
from lwr.managers.unqueued import Manager
from lwr.managers.util.process import ProcessHandle, WaitInterrupted
from test.support.wait import wait_for_value


class FakeProcessOps:
    """Records spawns; ``alive`` says which pids are running; ``running_scripts`` maps script -> pid."""

    def __init__(self):
        self.spawned = []
        self.alive = set()
        self.running_scripts = {}

    def spawn(self, script_path, cwd, stdout_path, stderr_path):
        self.spawned.append(script_path)
        # The "job" finishes at once and records its exit code, as the real script does.
        with open(os.path.join(os.path.dirname(script_path), "return_code"), "w") as handle:
            handle.write("0\n")
        return ProcessHandle(1000 + len(self.spawned), 1.0)

    def wait(self, handle, poll_interval=0.5, stopping=None):
        while handle.pid in self.alive:
            if stopping is not None and stopping.wait(0.01):
                raise WaitInterrupted(handle.pid)
            time.sleep(0.01)
        return None

    def is_alive(self, handle):
        return handle.pid in self.alive

    def find_script_process(self, script_path):
        pid = self.running_scripts.get(script_path)
        return ProcessHandle(pid, 1.0) if pid else None

    def kill_tree(self, handle, grace=1.0):
        self.alive.discard(handle.pid)


class _App:
    def __init__(self, staging):
        self.staging_directory = staging
        self.lock_manager = LockManager()
        self.authorizer = None
        self.dependency_manager = None


def _job(manager, job_id, markers, return_code=None):
    directory = manager.job_directory(job_id)
    directory.setup()
    script = os.path.join(directory.path, "command.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\n")
    for name, value in markers.items():
        directory.store_metadata(name, value)
    if return_code is not None:
        with open(os.path.join(directory.path, "return_code"), "w") as handle:
            handle.write("%d\n" % return_code)
    return directory, script


def wait_status(manager, job_id, wanted, timeout=5):
    return wait_for_value(lambda: manager.get_status(job_id), lambda current: current in wanted, timeout,
                          "job %s to reach %s" % (job_id, wanted), interval=0.01)


@pytest.fixture(params=["unqueued", "queued_python"])
def manager(request, tmp_path):
    ops = FakeProcessOps()
    cls = Manager if request.param == "unqueued" else QueueManager
    kwds = {} if request.param == "unqueued" else {"num_concurrent_jobs": "1"}
    built = cls("test", _App(str(tmp_path / "staging")), process_ops=ops, **kwds)
    built.start()
    yield built, ops
    built.shutdown()


@pytest.mark.parametrize("markers", [
    {"submitted": "true", "command_line": "x"},            # waiting in the queue
    {"submitted": "true"},                                 # 0.2.0-style queued marker only
    {"launching": "true", "command_line": "x"},            # killed before the process started
    {"launching": "true", "submitted": "true", "command_line": "x"},
])
def test_not_yet_started_jobs_run_exactly_once(manager, markers):
    manager, ops = manager
    directory, script = _job(manager, "j1", markers)
    manager.recover_active_job("j1")
    assert wait_status(manager, "j1", [status.COMPLETE]) == status.COMPLETE
    assert ops.spawned == [script]
    assert not any(directory.has_metadata(m) for m in ("submitted", "launching", "command_line", "pid"))


@pytest.mark.parametrize("extra", [{}, {"submitted": "true"}, {"launching": "true"},
                                   {"launching": "true", "submitted": "true"}])
def test_running_job_is_reattached_and_stale_markers_cleared(manager, extra):
    manager, ops = manager
    ops.alive.add(77)
    markers = dict(extra, pid={"pid": 77, "create_time": 1.0})
    directory, _script = _job(manager, "j2", markers)
    manager.recover_active_job("j2")
    assert manager.get_status("j2") == status.RUNNING
    with open(os.path.join(directory.path, "return_code"), "w") as handle:
        handle.write("3\n")
    ops.alive.discard(77)  # the job ends after the restart
    assert wait_status(manager, "j2", [status.COMPLETE, status.FAILED]) == status.COMPLETE
    assert manager.return_code("j2") == 3
    assert ops.spawned == []
    assert not any(directory.has_metadata(m) for m in ("submitted", "launching", "pid"))


def test_process_that_died_with_the_server_reads_failed(manager):
    manager, ops = manager
    _job(manager, "j3", {"pid": {"pid": 78, "create_time": 1.0}, "submitted": "true"})
    _assert_recovered_failed(manager, ops, "j3", "ended without recording an exit code")


def _assert_recovered_failed(manager, ops, job_id, reason):
    """Recovered as failed with ``reason``, and not started again."""
    manager.recover_active_job(job_id)
    assert manager.get_status(job_id) == status.FAILED
    assert reason in manager.failure_reason(job_id)
    assert ops.spawned == []


def test_process_that_finished_while_the_server_was_down_is_complete(manager):
    manager, ops = manager
    _job(manager, "j4", {"pid": {"pid": 79, "create_time": 1.0}}, return_code=5)
    manager.recover_active_job("j4")
    assert manager.get_status("j4") == status.COMPLETE and manager.return_code("j4") == 5


def test_launching_without_pid_finds_the_process_or_fails(manager):
    manager, ops = manager
    _directory, script = _job(manager, "found", {"launching": "true"})
    ops.running_scripts[script] = 90
    ops.alive.add(90)
    manager.recover_active_job("found")
    assert manager.get_status("found") == status.RUNNING
    ops.alive.discard(90)
    gone, _script = _job(manager, "gone", {"launching": "true"})
    open(os.path.join(gone.path, "job_started"), "w").close()  # it ran, then vanished
    _assert_recovered_failed(manager, ops, "gone", "not started again")


def test_launching_that_never_started_runs_once(manager):
    manager, ops = manager
    directory, script = _job(manager, "never", {"launching": "true"})  # killed just before the fork
    manager.recover_active_job("never")
    assert wait_status(manager, "never", [status.COMPLETE]) == status.COMPLETE
    assert ops.spawned == [script]
    assert not any(directory.has_metadata(m) for m in ("submitted", "launching", "command_line", "pid"))
