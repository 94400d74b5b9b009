"""Retention: jobs no client cleans are removed after ``cleanup_after`` (terminal) or
``cleanup_unsubmitted_after`` (set up, never submitted); nothing else is touched."""
import logging
import os
import threading
import time

import pytest

from lwr.core import LwrApp
from lwr.manager_factory import ConfigurationError
from lwr.managers.retention import RetentionPolicy, parse_duration
from test.support.wait import wait_for

HOUR = 3600.0


@pytest.mark.parametrize("text, seconds", [("7", 7 * 86400.0), ("1.5d", 1.5 * 86400), ("12h", 12 * HOUR),
                                           ("30m", 1800.0), ("45s", 45.0), ("0", 0.0), (" 2 h ", 7200.0),
                                           (None, None), ("", None), ("off", None), ("None", None)])
def test_durations(text, seconds):
    assert parse_duration("cleanup_after", text) == seconds


@pytest.mark.parametrize("conf, option", [({"cleanup_after": "a week"}, "cleanup_after"),
                                          ({"cleanup_unsubmitted_after": "-1h"}, "cleanup_unsubmitted_after"),
                                          ({"cleanup_interval": "0"}, "cleanup_interval"),
                                          ({"cleanup_interval": "5 minutes"}, "cleanup_interval")])
def test_a_bad_duration_is_refused_at_start_naming_the_option(tmp_path, conf, option):
    with pytest.raises(ConfigurationError, match=option):
        LwrApp(staging_directory=str(tmp_path / "s"), persistence_directory=str(tmp_path / "p"), **conf)


def test_off_by_default():
    policy = RetentionPolicy.from_config({})
    assert not policy.enabled and policy.interval == 600


@pytest.fixture
def app(tmp_path):
    apps = []

    def build(**conf):
        conf.setdefault("staging_directory", str(tmp_path / "staging"))
        conf.setdefault("persistence_directory", str(tmp_path / "persisted"))
        apps.append(LwrApp(**conf).start())
        return apps[-1]

    yield build
    for built in apps:
        built.shutdown()


def _run(manager, job_id, command="true", final=("complete",)):
    manager.setup_job(job_id, None, None)
    manager.launch(job_id, command)
    wait_for(lambda: manager.get_status(job_id) in final, timeout=30)


def _exists(app, job_id):
    return os.path.isdir(os.path.join(app.staging_directory, job_id))


def test_terminal_jobs_go_after_cleanup_after_running_and_recent_ones_stay(app, caplog):
    lwr = app(cleanup_after="1h")
    manager = lwr.managers["_default_"]
    _run(manager, "done")
    _run(manager, "failed", "kill -9 $$", final=("failed",))
    manager.setup_job("cancelled", None, None)
    manager.kill("cancelled")
    manager.setup_job("running", None, None)
    manager.launch("running", "sleep 60")
    wait_for(lambda: manager.get_status("running") == "running", timeout=30)
    manager.setup_job("unsubmitted", None, None)
    reaper = lwr.job_reaper

    assert reaper.reap_once(now=time.time() + 0.5 * HOUR) == []
    with caplog.at_level(logging.INFO, logger="lwr.managers.retention"):
        reaped = dict(reaper.reap_once(now=time.time() + 2 * HOUR))
    assert sorted(reaped) == ["cancelled", "done", "failed"]
    assert "complete 2.0h ago, cleanup_after is 1.0h" in reaped["done"]
    assert [r.message for r in caplog.records if "removed by retention" in r.message and "job done" in r.message]
    for job_id in ("done", "failed", "cancelled"):
        assert not _exists(lwr, job_id)
    assert _exists(lwr, "running") and _exists(lwr, "unsubmitted")
    assert manager.terminal_status_pending_job_ids() == []  # its markers went with the jobs
    manager.kill("running")


def test_unsubmitted_jobs_go_after_their_own_limit_unless_something_was_written(app):
    lwr = app(cleanup_unsubmitted_after="2h")
    manager = lwr.managers["_default_"]
    manager.setup_job("idle", None, None)
    manager.setup_job("uploading", None, None)
    _run(manager, "finished")
    upload = os.path.join(lwr.staging_directory, "uploading", "inputs", ".upload-abcdefgh.part")
    with open(upload, "wb") as handle:
        handle.write(b"x")
    later = time.time() + 3 * HOUR
    os.utime(upload, (later, later))  # the upload is still being written "now"
    assert [job_id for job_id, _ in lwr.job_reaper.reap_once(now=later + 60)] == ["idle"]
    assert _exists(lwr, "uploading") and _exists(lwr, "finished")  # cleanup_after is off


def test_status_waiting_for_the_message_queue_keeps_its_job(app):
    lwr = app(cleanup_after="1s")
    manager = lwr.managers["_default_"]
    _run(manager, "mq")
    assert manager.terminal_status_pending("mq")
    reaper = lwr.job_reaper
    reaper.honour_pending_publication = True  # as when the app publishes statuses
    assert reaper.reap_once(now=time.time() + HOUR) == []
    manager.confirm_terminal_status("mq")  # the broker confirmed the status
    assert [job_id for job_id, _ in reaper.reap_once(now=time.time() + HOUR)] == ["mq"]


def test_a_submit_racing_the_reaper_gets_404_not_a_half_removed_job(app):
    from lwr.managers.stateful import UnknownJob

    lwr = app(cleanup_unsubmitted_after="1s")
    manager = lwr.managers["_default_"]
    manager.setup_job("race", None, None)
    errors = []

    def submit():
        try:
            manager.launch("race", "true")
        except Exception as exc:
            errors.append(exc)

    with manager.job_directory("race").lock("status"):
        thread = threading.Thread(target=submit)
        thread.start()
        time.sleep(0.2)  # the submit found the job and now waits for its status lock
        assert [job_id for job_id, _ in lwr.job_reaper.reap_once(now=time.time() + HOUR)] == ["race"]
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], UnknownJob), errors
    assert not _exists(lwr, "race")


def test_app_stops_its_retention_thread(app):
    lwr = app(cleanup_after="1d", cleanup_interval="1s")
    assert [t for t in threading.enumerate() if t.name == "lwr-retention"]
    lwr.shutdown()
    assert not [t for t in threading.enumerate() if t.name == "lwr-retention"]


@pytest.mark.server
def test_server_reaps_on_its_own_and_says_so(lwr_server_factory):
    server = lwr_server_factory(app_conf={"cleanup_after": "1s", "cleanup_unsubmitted_after": "3s",
                                          "cleanup_interval": "1s"})
    server.json("POST", "jobs", {"job_id": "old"})
    assert server.request("POST", "jobs/old/submit", {"command_line": "true"}) == (200, b"OK")
    server.json("POST", "jobs", {"job_id": "never"})
    server.json("POST", "jobs", {"job_id": "busy"})
    assert server.request("POST", "jobs/busy/submit", {"command_line": "sleep 30"}) == (200, b"OK")
    for job_id in ("old", "never"):
        wait_for(lambda: not os.path.exists(os.path.join(server.staging_directory, job_id)), timeout=30)
        assert server.json("GET", "jobs/%s/status" % job_id)["status"] == "lost"  # an unknown job now
    assert server.json("GET", "jobs/busy/status")["status"] == "running"
    pending = os.path.join(server.persistence_directory, "_default_-terminal-pending")
    assert os.listdir(pending) == []
    log = server.log()
    assert "job old: removed by retention (complete" in log
    assert "job never: removed by retention (set up but not submitted" in log
    server.request("PUT", "jobs/busy/cancel")
