"""The job history store (lwr.history): what it keeps, for how long, across reopening."""
import json
import logging
import os
import time

import pytest

from lwr.history import DEFAULT_MAX_DAYS, DEFAULT_MAX_ROWS, JobHistory, summary_from_directory
from lwr.log_ring import LogRing


def _summary(job_id, finished_at, state="complete", manager="_default_", **extra):
    summary = {"manager": manager, "job_id": job_id, "tool_id": "cat1", "state": state, "exit_code": 0,
               "bytes_in": 10, "bytes_out": 20, "timestamps": {"finished": finished_at}, "finished_at": finished_at}
    summary.update(extra)
    return summary


def test_a_recorded_job_is_read_back_newest_first(tmp_path):
    history = JobHistory(str(tmp_path / "h.sqlite"))
    now = time.time()
    history.record(_summary("a", now - 10))
    history.record(_summary("b", now - 5, state="failed", exit_code=None, failure_reason="staging failed"))
    rows = history.recent(10)
    assert [row["job_id"] for row in rows] == ["b", "a"]
    assert rows[0]["state"] == "failed" and rows[0]["failure_reason"] == "staging failed"
    assert rows[0]["exit_code"] is None and rows[1]["exit_code"] == 0
    assert rows[1]["timestamps"] == {"finished": now - 10}
    assert history.totals_since(now - 60) == {"jobs": 2, "failed": 1, "bytes_in": 20, "bytes_out": 40}
    assert history.totals_since(now - 7)["jobs"] == 1


def test_the_history_survives_reopening(tmp_path):
    path = str(tmp_path / "h.sqlite")
    first = JobHistory(path)
    first.record(_summary("kept", time.time()))
    first.close()
    assert [row["job_id"] for row in JobHistory(path).recent()] == ["kept"]


def test_a_job_id_set_up_again_replaces_its_row_per_manager(tmp_path):
    history = JobHistory(str(tmp_path / "h.sqlite"))
    history.record(_summary("a", 1e9 + 1, state="failed"))
    history.record(_summary("a", 1e9 + 2, state="complete"))
    history.record(_summary("a", 1e9 + 3, manager="other"))
    assert history.count() == 2
    assert [(r["manager"], r["state"]) for r in history.recent(manager="_default_")] == [("_default_", "complete")]


def test_retention_drops_old_rows_and_the_oldest_past_max_rows(tmp_path):
    now = time.time()
    history = JobHistory(str(tmp_path / "h.sqlite"), max_days=1, max_rows=3)
    history.record(_summary("ancient", now - 2 * 86400))
    for index in range(5):
        history.record(_summary("j%d" % index, now - 100 + index))
    assert history.prune(now) == 3
    assert [row["job_id"] for row in history.recent()] == ["j4", "j3", "j2"]


def test_retention_applies_at_start(tmp_path):
    path = str(tmp_path / "h.sqlite")
    history = JobHistory(path)
    for index in range(4):
        history.record(_summary("j%d" % index, time.time() - index))
    history.close()
    assert JobHistory(path, max_rows=2).count() == 2


def test_max_rows_zero_turns_the_history_off(tmp_path):
    history = JobHistory(str(tmp_path / "h.sqlite"), max_rows=0)
    history.record(_summary("a", time.time()))
    assert not history.enabled and history.recent() == [] and history.count() == 0
    assert not (tmp_path / "h.sqlite").exists()


@pytest.mark.parametrize("conf,message", [
    ({"job_history_max_days": "soon"}, "job_history_max_days must be a number"),
    ({"job_history_max_rows": "1.5"}, "job_history_max_rows must be a whole number"),
    ({"job_history_max_rows": "-3"}, "job_history_max_rows must not be negative"),
])
def test_bad_options_are_refused_naming_the_option(tmp_path, conf, message):
    with pytest.raises(ValueError, match=message):
        JobHistory.from_config(conf, str(tmp_path))


def test_options_and_defaults(tmp_path):
    history = JobHistory.from_config({}, str(tmp_path))
    assert history.path == str(tmp_path / "job_history.sqlite")
    assert (history.max_days, history.max_rows) == (DEFAULT_MAX_DAYS, DEFAULT_MAX_ROWS)
    other = JobHistory.from_config({"job_history_file": str(tmp_path / "x" / "h.db"), "job_history_max_days": "0.5",
                                    "job_history_max_rows": "7"}, str(tmp_path))
    assert other.path == str(tmp_path / "x" / "h.db") and (other.max_days, other.max_rows) == (0.5, 7)
    assert os.path.exists(other.path)


def test_summary_from_a_job_directory(tmp_path):
    job = tmp_path / "job"
    (job / "inputs").mkdir(parents=True)
    (job / "outputs").mkdir()
    (job / "inputs" / "in.dat").write_bytes(b"x" * 1234)
    (job / "outputs" / "out.dat").write_bytes(b"y" * 56)
    facts = {"tool_id": "cat1", "tool_version": "1.0", "launch_config": {}, "preprocessed": True, "running": True,
             "return_code": 3, "final_status": "failed", "failure_reason": "it broke"}
    for offset, (name, value) in enumerate(facts.items()):
        (job / name).write_text(json.dumps(value))
        os.utime(job / name, (1e9 + offset, 1e9 + offset))
    summary = summary_from_directory("m", "j1", str(job))
    assert summary["manager"] == "m" and summary["job_id"] == "j1"
    assert (summary["tool_id"], summary["tool_version"]) == ("cat1", "1.0")
    assert (summary["state"], summary["exit_code"], summary["failure_reason"]) == ("failed", 3, "it broke")
    assert (summary["bytes_in"], summary["bytes_out"]) == (1234, 56)
    assert summary["timestamps"] == {"accepted": 1e9, "preprocessing": 1e9 + 2, "submitted": 1e9 + 3,
                                     "running": 1e9 + 4, "finished": 1e9 + 6}
    assert summary["finished_at"] == 1e9 + 6


def test_summary_of_an_almost_empty_directory(tmp_path):
    summary = summary_from_directory("m", "j2", str(tmp_path), state="cancelled")
    assert summary["state"] == "cancelled" and summary["tool_id"] is None and summary["exit_code"] is None
    assert summary["bytes_in"] == 0 and summary["timestamps"] == {}


def test_log_ring_keeps_the_last_warnings_newest_first():
    ring = LogRing(size=3)
    logger = logging.getLogger("lwr.test.ring")
    logger.addHandler(ring)
    try:
        logger.info("not kept")
        for index in range(5):
            logger.warning("warning %d", index)
        try:
            raise OSError("disk gone")
        except OSError:
            logger.exception("failed")
    finally:
        logger.removeHandler(ring)
    records = ring.records()
    assert [r["message"] for r in records] == ["failed (OSError: disk gone)", "warning 4", "warning 3"]
    assert records[0]["level"] == "ERROR" and records[0]["logger"] == "lwr.test.ring"


def test_the_recorder_keeps_terminal_phases_only(tmp_path):
    from lwr.history import HistoryRecorder
    from lwr.managers.job_state import PROXY, JobState

    history = JobHistory(str(tmp_path / "h.sqlite"))
    recorder = HistoryRecorder(history, str(tmp_path / "staging"))
    path = tmp_path / "staging" / "j1"
    path.mkdir(parents=True)
    state = JobState(str(path), "j1", PROXY, "m")
    state.on_change = lambda changed, previous, phase: recorder("m", changed.job_id, previous, phase, changed)
    recorder("m", "j1", None, "accepted", None)  # set up: not terminal
    state.record_launch({})
    state.record_accepted()
    assert history.count() == 0  # not terminal yet
    state.record_final("failed", "it broke")
    recorder("m", "j1", None, None, None)  # the job goes (clean): nothing to record
    (row,) = history.recent()
    assert (row["manager"], row["job_id"], row["state"], row["failure_reason"]) == ("m", "j1", "failed", "it broke")
    assert {"preprocessing", "submitted", "finished"} <= set(row["timestamps"])


def test_a_forked_worker_uses_its_own_connection(tmp_path):
    history = JobHistory(str(tmp_path / "h.sqlite"))
    history.record(_summary("parent", time.time() - 1))
    pid = os.fork()
    if pid == 0:  # the worker: a connection of its own, then exit without running atexit hooks
        try:
            history.record(_summary("child", time.time()))
            os._exit(0 if history.count() == 2 else 1)
        except BaseException:
            os._exit(2)
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert [row["job_id"] for row in history.recent()] == ["child", "parent"]
