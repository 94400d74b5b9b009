"""The job-state machine: phases derived from facts, legal and illegal transitions, writers."""
import logging
import os

import pytest

from lwr.managers.job_state import (FACTS, MANAGER, PROXY, READER, IllegalTransition, IllegalWriter,
                                    JobState, JobStateConflict, Phase, TRANSITIONS)
from lwr.managers.job_state import facts as F
from lwr.managers.job_state import store


@pytest.fixture
def job(tmp_path):
    path = tmp_path / "job1"
    (path / "inputs").mkdir(parents=True)
    return JobState(str(path), "job1", PROXY, "_default_")


def _to_submitted(job):
    job.record_launch({"command_line": "true"})
    job.record_accepted()


def test_a_new_job_is_accepted_and_nothing_else(job):
    assert job.phase() == Phase.ACCEPTED
    assert not job.submitted() and not job.accepted() and not job.terminal()


def test_happy_path_with_outputs_to_push(job):
    job.record_launch({"command_line": "true"})
    assert job.phase() == Phase.PREPROCESSING and job.submitted() and job.launch_recorded()
    job.record_accepted()
    assert job.phase() == Phase.SUBMITTED and job.accepted()
    assert job.record_running() is True
    assert job.record_running() is False  # once
    assert job.record_final("complete", outputs_pending=True) == Phase.POSTPROCESSING
    assert job.terminal() and not job.finished()
    assert job.record_postprocessed() == Phase.COMPLETE
    assert job.finished() and job.final_status() == "complete"


def test_failed_push_fails_the_job_with_its_reason(job):
    _to_submitted(job)
    job.record_final("complete", outputs_pending=True)
    assert job.record_postprocessed("disk full") == Phase.FAILED
    assert job.phase() == Phase.FAILED and job.failure_reason() == "disk full"


def test_second_submit_is_a_conflict(job):
    job.record_launch({})
    with pytest.raises(JobStateConflict):
        job.record_launch({})


@pytest.mark.parametrize("final", ["complete", "failed", "cancelled", "lost"])
def test_nothing_leaves_a_terminal_phase(job, final):
    _to_submitted(job)
    job.record_final(final, "why" if final != "complete" else None)
    with pytest.raises(IllegalTransition):
        job.record_final("failed", "again")
    with pytest.raises(IllegalTransition):
        job.record_accepted()
    with pytest.raises(JobStateConflict):
        job.record_launch({})


@pytest.mark.parametrize("move", ["record_accepted", "record_postprocessed"])
def test_skipping_a_phase_is_illegal(job, move):
    with pytest.raises(IllegalTransition) as raised:
        getattr(job, move)()
    assert raised.value.current == Phase.ACCEPTED


def test_complete_needs_a_submitted_job(job):
    job.record_launch({})
    with pytest.raises(IllegalTransition):
        job.record_final("complete")


def test_every_phase_has_a_row_and_terminal_rows_are_empty():
    assert set(TRANSITIONS) == set(Phase)
    for phase in (Phase.COMPLETE, Phase.FAILED, Phase.CANCELLED, Phase.LOST):
        assert TRANSITIONS[phase] == set()


def test_writers_are_checked(job):
    manager = JobState(job.path, job.job_id, MANAGER)
    reader = JobState(job.path, job.job_id, READER)
    manager.set(F.PID, {"pid": 1})
    with pytest.raises(IllegalWriter):
        job.set(F.PID, {"pid": 1})  # the proxy does not write a manager's markers
    with pytest.raises(IllegalWriter):
        reader.set(F.FAILURE_REASON, "x")
    with pytest.raises(IllegalWriter):
        manager.record_launch({})  # only the proxy moves phases
    with pytest.raises(IllegalWriter):
        job.set(F.FINAL_STATUS, "complete")  # phase facts only through transitions
    with pytest.raises(KeyError):
        job.get("not_a_fact")


def test_every_fact_names_known_writers():
    for fact in FACTS.values():
        assert fact.writers and set(fact.writers) <= {PROXY, MANAGER, "script"}


def test_a_symlinked_fact_reads_as_absent(job, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text('"complete"')
    os.symlink(str(secret), os.path.join(job.path, F.FINAL_STATUS))
    assert job.final_status() is None and not job.terminal()


def test_a_failed_write_leaves_the_old_value_and_no_temporary(job, monkeypatch):
    job.record_launch({"a": 1})

    def full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store.json, "dumps", full)
    with pytest.raises(OSError):
        job.set(F.STAGING_CONFIG, {})
    assert not job.has(F.STAGING_CONFIG)
    assert sorted(os.listdir(job.path)) == ["inputs", "launch_config"]


def test_one_info_line_per_state_change(job, caplog):
    with open(os.path.join(job.path, "inputs", "a"), "wb") as handle:
        handle.write(b"x" * 10)
    caplog.set_level(logging.INFO, logger="lwr.jobs")
    _to_submitted(job)
    JobState(job.path, job.job_id, MANAGER).set(F.RETURN_CODE, 3)
    job.record_final("complete")
    lines = [r.getMessage() for r in caplog.records if r.name == "lwr.jobs"]
    assert len(lines) == 3
    assert "manager=_default_ job=job1 state=preprocessing" in lines[0]
    assert "state=complete previous=submitted exit_code=3 duration=" in lines[2]
    assert lines[2].endswith("bytes_staged=10")


def test_the_development_docs_list_every_fact_with_its_writers():
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "development.rst")
    with open(docs, encoding="utf-8") as handle:
        text = handle.read()
    for fact in FACTS.values():
        row = "   * - ``%s``\n     - %s\n" % (fact.name, ", ".join(fact.writers))
        assert row in text, "docs/development.rst: the facts table misses %s" % fact.name
    for phase in Phase:
        assert phase.name in text
