"""Limit kills named from the scheduler's own words at the end of a job's stderr."""
import os

import pytest

from lwr.galaxy.status import limit_runner_state
from lwr.managers.util.limits import TAIL_BYTES, explain_failure, limit_message

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "scheduler_output")


def _write(tmp_path, text, name="stderr"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_slurm_over_memory_kill_captured_from_the_real_slurm():
    # Slurm 22.05, JobAcctGatherParams=OverMemoryKill: the job ends FAILED (JobLaunchFailure)
    reason = explain_failure("killed by SIGKILL (Slurm FAILED (JobLaunchFailure))",
                             os.path.join(FIXTURES, "slurm", "stderr_over_memory_kill.txt"))
    assert reason == ("memory limit exceeded (the scheduler wrote: slurmstepd-vm: error: Exceeded job memory "
                      "limit); killed by SIGKILL (Slurm FAILED (JobLaunchFailure))")
    assert limit_runner_state(reason) == "MEMORY_LIMIT_REACHED"


@pytest.mark.parametrize("line, label", [
    ("slurmstepd: error: *** JOB 12 ON node1 CANCELLED AT 2026-12-01T10:00:00 DUE TO TIME LIMIT ***",
     "walltime limit exceeded"),
    ("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch. Some of your processes may "
     "have been killed by the cgroup out-of-memory handler.", "memory limit exceeded"),
    ("=>> PBS: job killed: walltime 65 exceeded limit 60", "walltime limit exceeded"),
    ("=>> PBS: job killed: mem 2147483648b exceeded limit 1073741824b", "memory limit exceeded"),
])
def test_scheduler_lines_are_recognised(tmp_path, line, label):
    path = _write(tmp_path, "tool output\n" + line + "\n")
    assert limit_message(path).startswith(label)


@pytest.mark.parametrize("text", [
    "", "MemoryError\n", "the tool says: exceeded memory limit\n",  # not the scheduler's line
    "slurmstepd: error: *** JOB 12 ON node1 CANCELLED AT 2026-12-01T10:00:00 ***\n",  # scancel
])
def test_other_text_is_not_a_limit(tmp_path, text):
    assert limit_message(_write(tmp_path, text)) is None
    assert explain_failure("killed by SIGKILL", _write(tmp_path, text)) == "killed by SIGKILL"


def test_a_reason_naming_a_limit_is_kept_and_missing_files_are_fine(tmp_path):
    assert explain_failure("walltime limit exceeded (Slurm TIMEOUT)", str(tmp_path / "nothing")) == \
        "walltime limit exceeded (Slurm TIMEOUT)"
    assert explain_failure("failed", str(tmp_path / "nothing")) == "failed"


def test_only_the_end_of_a_large_stderr_is_read(tmp_path):
    line = "slurmstepd: error: Exceeded job memory limit\n"
    early = _write(tmp_path, line + "x" * (TAIL_BYTES + 10), "early")
    late = _write(tmp_path, "x" * (4 * TAIL_BYTES) + "\n" + line, "late")
    assert limit_message(early) is None
    assert limit_message(late).startswith("memory limit exceeded")
