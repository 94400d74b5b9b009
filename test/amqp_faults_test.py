"""Faults in message-queue mode: every job still ends with exactly one terminal status and right outputs.

* the LWR daemon SIGKILLed while jobs are being set up, running and being staged out;
* the broker stopped and started mid-run (``rabbitmqctl stop_app`` / ``start_app``).
"""
import hashlib
import json
import os
import subprocess
import time

import pytest

from test.amqp_harness_test import CopyJob, assert_exactly_one_complete, mq_env
from test.support.wait import wait_for

pytestmark = [pytest.mark.amqp, pytest.mark.slow]

assert mq_env  # the fixture, imported for use here


def _phase(staging_directory, job_id) -> str:
    """Where a job is, read from the proxy's marker files."""
    directory = os.path.join(staging_directory, job_id)

    def has(name):
        return os.path.exists(os.path.join(directory, name))

    if not has("launch_config"):
        return "not recorded"
    if has("final_status"):
        with open(os.path.join(directory, "final_status")) as handle:
            final = json.load(handle)
        if final == "complete" and not has("postprocessed"):
            return "staging out"
        return "done"
    if not has("preprocessed"):
        return "staging in"
    return "running"


def _phases(daemon, jobs):
    return {job.job_id: _phase(daemon.staging_directory, job.job_id) for job in jobs}


def test_sigkill_while_staging_in_running_and_staging_out(mq_env, tmp_path):
    daemon, client_manager, files = mq_env(get_delay=0.5, post_delay=1.0)
    jobs = [CopyJob(tmp_path, 3000 + index, sleep=sleep)
            for index, sleep in enumerate((0.2, 0.6, 1.2, 2.0, 2.8, 3.5))]
    for job in jobs:
        job.submit(client_manager, daemon.staging_directory, files.url)
    seen = []

    def kill_when(condition, what):
        phases = wait_for(lambda: (lambda p: p if condition(p) else None)(_phases(daemon, jobs)), 40,
                          interval=0.02, message=what)
        daemon.kill()
        seen.append(phases)
        daemon.start()

    kill_when(lambda p: "staging in" in p.values(), "a job staging its inputs in")
    kill_when(lambda p: "running" in p.values() and "staging out" in p.values(),
              "one job running while another stages out")
    before = {job_id for job_id, phase in seen[-1].items() if phase == "staging out"}
    kill_when(lambda p: any(phase == "staging out" and job_id not in before for job_id, phase in p.items()),
              "another job staging its outputs out")
    try:
        assert_exactly_one_complete(client_manager, jobs, timeout=90)
    except AssertionError as exc:
        details = {job.job_id: (_phase(daemon.staging_directory, job.job_id),
                                sorted(os.listdir(os.path.join(daemon.staging_directory, job.job_id))),
                                client_manager.terminal(job.job_id)) for job in jobs}
        raise AssertionError("%s\nkill phases: %s\njobs: %s\ndaemon log tail:\n%s"
                             % (exc, seen, details, daemon.log()[-6000:]))
    for job in jobs:
        running = [b for b in client_manager.delivered if b["job_id"] == job.job_id and b["status"] == "running"]
        assert len(running) <= 1
    assert any("staging in" in p.values() for p in seen) and any("staging out" in p.values() for p in seen)
    print("phases at each kill:", seen)
    print("raw terminal messages per job:", {j.job_id: len(client_manager.raw_terminal(j.job_id)) for j in jobs})


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q"] + list(args), check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_broker_stopped_and_started_mid_run(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    jobs = [CopyJob(tmp_path, 3100 + index, sleep=sleep) for index, sleep in enumerate((0.3, 2.0, 4.0))]
    for job in jobs:
        job.submit(client_manager, daemon.staging_directory, files.url)
    wait_for(lambda: "running" in _phases(daemon, jobs).values(), 20, message="a running job")
    outbox = os.path.join(daemon.persistence_directory, "%s-status-outbox" % daemon.manager_name)
    try:
        _rabbitmqctl("stop_app")
        # Jobs finish while the broker is away: their statuses must wait in the outbox.
        wait_for(lambda: all(_phase(daemon.staging_directory, j.job_id) == "done" for j in jobs), 30,
                 message="jobs to finish during the outage")
        assert [name for name in os.listdir(outbox) if name.endswith(".json")]
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup", "--timeout", "60")
    late = CopyJob(tmp_path, 3199, sleep=0.2)
    # The client's publish connection died with the broker; it reconnects on its own.
    wait_for(lambda: _try_submit(late, client_manager, daemon, files), 30, interval=0.5,
             message="the client to publish again")
    assert_exactly_one_complete(client_manager, jobs + [late], timeout=60)
    wait_for(lambda: not [n for n in os.listdir(outbox) if n.endswith(".json")], 10, message="outbox drained")
    log = daemon.log()
    assert "unavailable" in log and "retrying" in log  # every reconnect attempt is logged


def _try_submit(job, client_manager, daemon, files):
    try:
        job.submit(client_manager, daemon.staging_directory, files.url)
        return True
    except Exception:
        time.sleep(0.5)
        return False


class ThreeOutputJob(CopyJob):
    """Copies its input to three outputs, so stage-out takes three POSTs to the files endpoint."""

    def __init__(self, base, job_id):
        super().__init__(base, job_id, sleep=0.1)
        stem = self.output[:-len(".dat")]
        self.outputs = ["%s_%s.dat" % (stem, part) for part in "abc"]
        self.command_line = " && ".join('cp "%s" "%s"' % (self.input, out) for out in self.outputs)

    def submit(self, client_manager, staging_directory, files_endpoint):
        from lwr.lwr_client import ClientJobDescription, ClientOutputs, submit_job
        from test.amqp_harness_test import MockTool
        client = client_manager.get_client({"jobs_directory": staging_directory,
                                            "default_file_action": "remote_transfer",
                                            "files_endpoint": files_endpoint}, self.job_id)
        work = os.path.join(self.directory, "w")
        outputs = ClientOutputs(working_directory=work, output_files=self.outputs)
        description = ClientJobDescription(tool=MockTool(os.path.join(self.directory, "tool")),
                                           command_line=self.command_line, config_files=[],
                                           input_files=[self.input], client_outputs=outputs,
                                           working_directory=work)
        submit_job(client, description)


def test_stage_out_resumed_after_sigkill_sends_each_output_once(mq_env, tmp_path):
    # Galaxy's job files API appends to an existing tool_stdout/tool_stderr, so a file pushed
    # twice would show the tool's output twice: a restarted stage-out skips what it already sent.
    daemon, client_manager, files = mq_env(post_delay=1.0)
    job = ThreeOutputJob(tmp_path, 3100)
    job.submit(client_manager, daemon.staging_directory, files.url)

    def posts():
        return [r["query"]["path"][0] for r in files.requests if r["method"] == "POST"]

    wait_for(lambda: len(posts()) >= 2, 60, interval=0.02, message="the second output being pushed")
    daemon.kill()  # the first push was answered and recorded; the second is in flight
    first = posts()[0]
    daemon.start()
    wait_for(lambda: client_manager.terminal(job.job_id), 60, message="the job's terminal status")
    assert [b["status"] for b in client_manager.terminal(job.job_id)] == ["complete"]
    assert posts().count(first) == 1, posts()
    assert sorted(set(posts())) == sorted(job.outputs)
    for out in job.outputs:
        with open(out, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == job.sha256
