"""An app starts its threads in start(), never in its constructor, and leaves none behind at
shutdown, whatever its managers are; a running job survives the shutdown untouched."""
import os
import threading
import time

import psutil
import pytest

from lwr.core import LwrApp
from lwr.lifecycle import Threads
from lwr.manager_endpoint_util import submit_job
from lwr.managers import status
from test.support.schedulers import drmaa_problem, scheduler_env
from test.support.services import require

CONDOR_STANDINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support", "condor_standins")

MANAGERS = {
    "queued_python": "type = queued_python\nnum_concurrent_jobs = 2\n",
    "unqueued": "type = unqueued\n",
    "queued_cli": "type = queued_cli\njob_plugin = Slurm\nshell_plugin = LocalShell\n",
    "queued_pbs": "type = queued_pbs\n",
    "queued_condor": "type = queued_condor\n",
    "queued_drmaa": "type = queued_drmaa\n",
    "queued_external_drmaa": "type = queued_external_drmaa\n",
}
NEEDS_DRMAA = ("queued_drmaa", "queued_external_drmaa")


def _params():
    for name in MANAGERS:
        marks = [pytest.mark.drmaa] if name in NEEDS_DRMAA else []
        yield pytest.param(name, marks=marks, id=name)


def _app(tmp_path, manager_types, monkeypatch):
    if any(name in NEEDS_DRMAA for name in manager_types):
        problem = drmaa_problem()
        require(problem is None, problem or "")
        for key, value in scheduler_env().items():
            monkeypatch.setenv(key, value)
    ini = tmp_path / "job_managers.ini"
    ini.write_text("".join("[manager:%s]\n%s\nmin_polling_interval = 0.05\n" % (name, MANAGERS[name])
                           for name in manager_types))
    return LwrApp(staging_directory=str(tmp_path / "staging"), persistence_directory=str(tmp_path / "persisted"),
                  tool_dependency_dir=str(tmp_path / "deps"), job_managers_config=str(ini),
                  cleanup_after="1d")


def _new_threads(before):
    return [thread for thread in threading.enumerate() if thread not in before and thread.is_alive()]


@pytest.mark.parametrize("manager_type", list(_params()))
def test_start_then_shutdown_leaves_no_thread(tmp_path, monkeypatch, manager_type):
    before = set(threading.enumerate())
    app = _app(tmp_path, [manager_type], monkeypatch)
    assert _new_threads(before) == []  # building the app started nothing
    app.start()
    assert _new_threads(before), "start() started no thread"
    assert all(thread.name.startswith("lwr-") for thread in _new_threads(before))
    assert app.shutdown(timeout=10) == []
    assert _new_threads(before) == []


def _wait(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("manager_type", ["queued_python", "unqueued"])
def test_shutdown_with_a_running_job_leaves_no_thread_and_the_job_running(tmp_path, monkeypatch, manager_type):
    before = set(threading.enumerate())
    app = _app(tmp_path, [manager_type], monkeypatch).start()
    manager = app.managers[manager_type]
    for job_id, command in (("done", "true"), ("running", "sleep 30")):
        manager.setup_job(job_id, "tool", "1.0")
        submit_job(manager, {"job_id": job_id, "command_line": command})
    assert _wait(lambda: manager.get_status("done") == status.COMPLETE)
    manager.clean("done")  # the reaper deletes its tree in a thread of the app
    assert _wait(lambda: manager.get_status("running") == status.RUNNING)
    pid = manager.job_directory("running").load_metadata("pid")["pid"]
    try:
        assert app.shutdown(timeout=10) == []
        assert _new_threads(before) == []
        assert psutil.pid_exists(pid)  # the job outlives the server; the next start re-attaches
        assert not os.path.exists(os.path.join(str(tmp_path / "staging"), "done"))

        again = _app(tmp_path, [manager_type], monkeypatch).start()
        try:
            again.managers[manager_type].kill("running")
            assert again.managers[manager_type].get_status("running") == status.CANCELLED
        finally:
            assert again.shutdown(timeout=10) == []
    finally:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    assert _new_threads(before) == []


def test_every_manager_type_in_one_app(tmp_path, monkeypatch):
    """The types that construct without a scheduler, together (as a real server.ini would)."""
    monkeypatch.setenv("PATH", CONDOR_STANDINS + os.pathsep + os.environ["PATH"])
    before = set(threading.enumerate())
    app = _app(tmp_path, [name for name in MANAGERS if name not in NEEDS_DRMAA], monkeypatch).start()
    names = sorted(thread.name for thread in _new_threads(before))
    assert "lwr-queued_python-worker-1" in names and "lwr-queued_condor-monitor" in names
    assert app.shutdown(timeout=10) == []
    assert _new_threads(before) == []


def test_threads_joins_what_it_started_and_refuses_new_ones_after_shutdown():
    threads = Threads("test")
    started = threads.start("lwr-test-sleeper", threads.sleep, 60)
    assert threads.alive() == [started]
    assert threads.shutdown(timeout=5) == []
    assert not started.is_alive()
    with pytest.raises(RuntimeError):
        threads.start("lwr-too-late", lambda: None)


def test_threads_reports_a_thread_that_does_not_stop():
    threads = Threads("test")
    release = threading.Event()
    stuck = threads.start("lwr-test-stuck", release.wait)
    try:
        assert threads.shutdown(timeout=0.2) == [stuck]
    finally:
        release.set()
        stuck.join(5)


def test_threads_of_the_process_before_a_fork_are_not_waited_for():
    """uWSGI without lazy-apps forks after the app started: the worker has the Thread objects
    but not the threads (its C-level fork tells Python nothing); joining them would only wait."""
    threads = Threads("test")
    release = threading.Event()
    copied = threads.start("lwr-test-copied", release.wait)
    copied.lwr_pid = -1  # as seen from the forked worker: started by another process
    try:
        started = time.monotonic()
        assert threads.shutdown(timeout=3) == []
        Threads.join(copied, 3)
        assert time.monotonic() - started < 1
    finally:
        release.set()
        copied.join(5)


@pytest.mark.amqp
def test_a_message_queue_app_starts_its_consumers_in_start_and_leaves_none(tmp_path, monkeypatch):
    from test.amqp_harness_test import BROKER_URL, require_broker
    require_broker()
    before = set(threading.enumerate())
    app = LwrApp(staging_directory=str(tmp_path / "staging"), persistence_directory=str(tmp_path / "persisted"),
                 tool_dependency_dir=str(tmp_path / "deps"), message_queue_url=BROKER_URL,
                 amqp_exchange="lwr_lifecycle_%d" % os.getpid())
    try:
        assert _new_threads(before) == []  # building the app (and its bindings) started nothing
        app.start()
        mq_threads = [t for t in _new_threads(before) if t.name.startswith("lwr-mq-")]
        assert mq_threads, "start() started no message-queue thread"
    finally:
        left = app.shutdown(timeout=10)
    assert left == [] and _new_threads(before) == []
