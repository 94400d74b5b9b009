"""ExternalBaseManager (under the real stateful proxy and LwrApp) against a small fake scheduler.

The scheduler is the OS edge: ``FakeScheduler`` keeps its jobs in a dict that outlives the LWR
app, so a "restart" (a new LwrApp on the same directories) finds them again.
"""
import os
import threading

import pytest
from webob import Request

from lwr import manager_factory
from lwr.core import LwrApp
from lwr.managers import status
from lwr.managers.base.external import ExternalBaseManager, ManagerError
from lwr.managers.job_state import NotCancelled
from lwr.managers.util.cli.job import JobStatus, SchedulerCommandError
from lwr.web.local import local_app
from test.support.wait import eventually, wait_for_value


class FakeScheduler:
    """Jobs by id: state, exit code, reason; records every call."""

    def __init__(self):
        self.jobs = {}
        self.calls = []
        self.submit_error = None
        self.status_error = None
        self.cancel_error = None
        self.next_id = 100
        self.submit_gate = None

    def submit(self, script):
        self.calls.append(("submit", script))
        if self.submit_gate is not None:
            self.submit_gate.wait(10)
        if self.submit_error:
            raise ManagerError(self.submit_error)
        self.next_id += 1
        job = str(self.next_id)
        self.jobs[job] = {"state": status.QUEUED, "exit_code": None, "reason": None, "script": script}
        return job

    def job_status(self, job):
        self.calls.append(("status", job))
        if self.status_error:
            raise SchedulerCommandError(["fakestat", job], 1, "", self.status_error)
        if job not in self.jobs:
            return JobStatus(status.LOST, None, "fake scheduler forgot job %s" % job)
        entry = self.jobs[job]
        return JobStatus(entry["state"], entry["exit_code"], entry["reason"])

    def cancel(self, job):
        self.calls.append(("cancel", job))
        if self.cancel_error:
            raise SchedulerCommandError(["fakedel", job], 1, "", self.cancel_error)
        self.jobs[job]["state"] = status.CANCELLED

    def run(self, job, exit_code, write_return_code=True, state=status.COMPLETE, reason=None):
        """The job ends: its script records the exit code like command.sh does."""
        script = self.jobs[job]["script"]
        if write_return_code:
            with open(os.path.join(os.path.dirname(script), "return_code"), "w") as handle:
                handle.write("%d\n" % exit_code)
        self.jobs[job].update(state=state, reason=reason)


class FakeSchedulerManager(ExternalBaseManager):
    """An external manager whose scheduler is the test's ``FakeScheduler`` (set by the fixture)."""

    manager_type = "fake_external"
    scheduler: FakeScheduler = None

    def _submit(self, job_id, script_path, submit_params):
        return self.scheduler.submit(script_path)

    def _scheduler_status(self, job_id, external_id):
        return self.scheduler.job_status(external_id)

    def _cancel(self, job_id, external_id):
        return self.scheduler.cancel(external_id)


@pytest.fixture
def scheduler(monkeypatch):
    fake = FakeScheduler()
    monkeypatch.setattr(FakeSchedulerManager, "scheduler", fake)
    monkeypatch.setitem(manager_factory.MANAGER_TYPES, "fake_external",
                        "test.manager_external_base_test:FakeSchedulerManager")
    return fake


class Apps:
    """Starts LwrApps on one directory; ``restart()`` replaces the running one."""

    def __init__(self, directory, cache_seconds=0):
        self.directory = directory
        ini = directory / "job_managers.ini"
        ini.write_text("[manager:_default_]\ntype = fake_external\nstatus_cache_seconds = %s\n"
                       "min_polling_interval = 0.05\n" % cache_seconds)
        self.conf = dict(staging_directory=str(directory / "staging"),
                         persistence_directory=str(directory / "persisted"),
                         tool_dependency_dir=str(directory / "deps"), job_managers_config=str(ini))
        self.app = LwrApp(**self.conf).start()

    @property
    def manager(self):
        return self.app.managers["_default_"]

    def restart(self):
        self.app.shutdown()
        self.app = LwrApp(**self.conf).start()
        return self.manager


@pytest.fixture
def apps(tmp_path, scheduler):
    holder = Apps(tmp_path)
    yield holder
    holder.app.shutdown()


def submit(manager, job_id, command="true"):
    manager.setup_job(job_id, "tool", "1.0")
    manager.launch(job_id, command)
    wait_for(manager, job_id, lambda s: s != status.PREPROCESSING)


def wait_for(manager, job_id, predicate, timeout=10):
    return wait_for_value(lambda: manager.get_status(job_id), predicate, timeout, "job %s" % job_id, interval=0.02)


def external_id_of(apps, job_id):
    path = os.path.join(apps.conf["staging_directory"], job_id, "external_id")
    with open(path) as handle:
        return handle.read().strip().strip('"')


def test_submitted_job_is_followed_to_completion_with_its_exit_code(apps, scheduler):
    manager = apps.manager
    submit(manager, "j1")
    job = external_id_of(apps, "j1")
    assert job in scheduler.jobs
    assert manager.get_status("j1") == status.QUEUED
    scheduler.jobs[job]["state"] = status.RUNNING
    assert manager.get_status("j1") == status.RUNNING
    scheduler.run(job, 3)
    assert wait_for(manager, "j1", status.is_job_done) == status.COMPLETE
    assert manager.return_code("j1") == 3


def test_restart_reloads_external_id_and_rereads_status(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.jobs[job]["state"] = status.RUNNING
    assert apps.manager.get_status("j1") == status.RUNNING
    manager = apps.restart()
    assert manager.proxied_manager._external_ids == {"j1": job}  # recovered eagerly
    scheduler.calls.clear()
    assert manager.get_status("j1") == status.RUNNING
    assert ("status", job) in scheduler.calls
    scheduler.run(job, 0)
    assert wait_for(manager, "j1", status.is_job_done) == status.COMPLETE


@pytest.mark.parametrize("write_code, expected_status, expected_code", [
    (True, status.COMPLETE, 5),
    (False, status.FAILED, "__unknown__"),
])
def test_job_the_scheduler_forgot_resolves_from_its_exit_code_file(apps, scheduler, write_code, expected_status,
                                                                   expected_code):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    manager = apps.restart()
    if write_code:
        scheduler.run(job, 5)
    del scheduler.jobs[job]
    assert wait_for(manager, "j1", status.is_job_done) == expected_status
    assert manager.return_code("j1") == expected_code
    if expected_status == status.FAILED:
        reason = manager.failure_reason("j1")
        assert "fake scheduler forgot job %s" % job in reason and "no exit code" in reason


def test_scheduler_kill_for_walltime_reads_failed_with_the_reason(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.run(job, 0, write_return_code=False, state=status.FAILED, reason="walltime limit exceeded (Slurm TIMEOUT)")
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.FAILED
    assert apps.manager.failure_reason("j1") == "walltime limit exceeded (Slurm TIMEOUT)"


def test_complete_without_any_exit_code_is_failed_not_success(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.run(job, 0, write_return_code=False)
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.FAILED
    assert "recorded no exit code" in apps.manager.failure_reason("j1")


def test_exit_code_reported_by_scheduler_is_kept_when_script_wrote_none(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.jobs[job].update(state=status.COMPLETE, exit_code=7)
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.COMPLETE
    assert apps.manager.return_code("j1") == 7


def test_status_is_a_read_and_the_end_is_recorded_by_record_end(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    apps.manager.monitor.shutdown()  # nothing advances the job but this test
    scheduler.jobs[job].update(state=status.COMPLETE, exit_code=7)
    manager = apps.manager.proxied_manager
    directory = manager.job_directory("j1")
    before = sorted(directory.job_directory_contents())
    assert manager.get_status("j1") == status.COMPLETE
    assert apps.manager.get_status("j1") == status.RUNNING  # the proxy: the end is not recorded yet
    assert sorted(directory.job_directory_contents()) == before and not directory.has_metadata("return_code")
    apps.manager.advance("j1")
    assert apps.manager.get_status("j1") == status.COMPLETE and apps.manager.return_code("j1") == 7


def test_kill_cancels_in_the_scheduler_and_reads_cancelled(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    apps.manager.kill("j1")
    assert ("cancel", job) in scheduler.calls
    assert apps.manager.get_status("j1") == status.CANCELLED
    assert apps.restart().get_status("j1") == status.CANCELLED


def test_kill_of_a_job_that_already_ended_keeps_its_real_outcome(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.run(job, 2)
    scheduler.cancel_error = "Job has already finished"
    apps.manager.proxied_manager.kill("j1")
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.COMPLETE
    assert apps.manager.return_code("j1") == 2


def test_kill_refused_by_a_live_scheduler_is_an_error_and_job_keeps_running(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.jobs[job]["state"] = status.RUNNING
    scheduler.cancel_error = "Permission denied"
    with pytest.raises(ManagerError, match="Permission denied"):
        apps.manager.proxied_manager.kill("j1")
    assert apps.manager.get_status("j1") == status.RUNNING


def _running_and_refusing_cancel(apps, scheduler, job_id="j1"):
    submit(apps.manager, job_id)
    job = external_id_of(apps, job_id)
    scheduler.jobs[job]["state"] = status.RUNNING
    scheduler.cancel_error = "Permission denied"
    return job


def test_cancel_refused_answers_409_and_the_job_keeps_running(apps, scheduler):
    _running_and_refusing_cancel(apps, scheduler)
    web = local_app(apps.manager)
    response = Request.blank("/jobs/j1/cancel", method="PUT").get_response(web)
    assert response.status_int == 409 and "Permission denied" in response.text, response.text
    assert apps.manager.get_status("j1") == status.RUNNING


def test_clean_after_a_failed_kill_is_refused_and_keeps_the_job(apps, scheduler):
    job = _running_and_refusing_cancel(apps, scheduler)
    with pytest.raises(NotCancelled, match="Permission denied"):
        apps.manager.clean("j1")
    response = Request.blank("/jobs/j1", method="DELETE").get_response(local_app(apps.manager))
    assert response.status_int == 409, response.text
    assert apps.manager.job_directory("j1").exists() and apps.manager.is_active("j1")
    assert apps.manager.get_status("j1") == status.RUNNING
    scheduler.cancel_error = None  # the scheduler answers again: clean cancels, then removes
    apps.manager.clean("j1")
    assert ("cancel", job) in scheduler.calls and not apps.manager.job_directory("j1").exists()


def test_submit_refused_reads_failed_with_the_schedulers_message(apps, scheduler):
    scheduler.submit_error = "sbatch: error: invalid partition specified: nope"
    submit(apps.manager, "j1")
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.FAILED
    assert "invalid partition specified: nope" in apps.manager.failure_reason("j1")
    scheduler.submit_error = None
    submit(apps.manager, "j2")  # the manager keeps working
    assert apps.manager.get_status("j2") == status.QUEUED


def test_status_command_failing_keeps_last_known_state(apps, scheduler):
    submit(apps.manager, "j1")
    job = external_id_of(apps, "j1")
    scheduler.jobs[job]["state"] = status.RUNNING
    assert apps.manager.get_status("j1") == status.RUNNING
    scheduler.status_error = "ssh: connect to host head port 22: Connection refused"
    assert apps.manager.get_status("j1") == status.RUNNING
    scheduler.status_error = None
    scheduler.run(job, 0)
    assert wait_for(apps.manager, "j1", status.is_job_done) == status.COMPLETE


def test_restart_during_submission_fails_instead_of_submitting_twice(apps, scheduler):
    manager = apps.manager
    manager.setup_job("j1", "tool", "1.0")
    directory = manager.job_directory("j1")
    # what a crash between "handing the script over" and "recording the id" leaves behind
    directory.store_metadata("launch_config", {"command_line": "true"})
    directory.store_metadata("submitted", True)
    manager.active_jobs.activate("j1")
    manager = apps.restart()
    assert wait_for(manager, "j1", status.is_job_done) == status.FAILED
    assert "not submitted again" in manager.failure_reason("j1")
    assert not any(call[0] == "submit" for call in scheduler.calls)


def test_cancel_while_the_scheduler_is_answering_the_submission(apps, scheduler):
    scheduler.submit_gate = threading.Event()
    manager = apps.manager
    manager.setup_job("j1", "tool", "1.0")
    manager.launch("j1", "true")
    eventually(lambda: manager.job_directory("j1").has_metadata("submitted"), 5, interval=0.01)
    manager.proxied_manager.kill("j1")
    scheduler.submit_gate.set()
    assert wait_for(manager, "j1", status.is_job_done) == status.CANCELLED
    job = external_id_of(apps, "j1")
    assert ("cancel", job) in scheduler.calls


def test_status_answers_are_cached_for_status_cache_seconds(tmp_path, scheduler):
    holder = Apps(tmp_path, cache_seconds=30)
    try:
        submit(holder.manager, "j1")
        for _ in range(5):
            holder.manager.get_status("j1")
        assert sum(1 for call in scheduler.calls if call[0] == "status") == 1
    finally:
        holder.app.shutdown()


@pytest.mark.parametrize("template, expected", [
    ("lwr_$job_id", "lwr_j1"),
    ("galaxy $job_id;rm -rf /", "galaxy_j1_rm_-rf__"),
])
def test_job_name_template_is_substituted_and_made_header_safe(apps, template, expected):
    manager = apps.manager.proxied_manager
    manager.job_name_template = template
    assert manager.job_name("j1") == expected


def test_cluster_examples_of_the_sample_file_build(tmp_path):
    """Every commented-out non-DRMAA cluster section of job_managers.ini.sample, uncommented,
    builds its manager (DRMAA needs the DRM's library, tested in manager_drmaa_test.py)."""
    import re
    from test.support.server import REPO_ROOT
    with open(os.path.join(REPO_ROOT, "job_managers.ini.sample")) as handle:
        text = handle.read()
    lines, keep = [], False
    for line in text.split("## Cluster managers", 1)[1].splitlines():
        if re.match(r"^#\[manager:", line):
            lines.append(line[1:])
            keep = True
        elif keep and re.match(r"^#[A-Za-z_\-]+ =", line):
            lines.append(line[1:])
    sections = "\n".join(lines).replace("[manager:", "\n[manager:")
    drmaa_free = [s for s in sections.split("\n\n") if s.strip() and "drmaa" not in s]
    types = sorted(re.search(r"type = (\w+)", s).group(1) for s in drmaa_free)
    assert types == ["queued_cli", "queued_cli", "queued_cli", "queued_condor", "queued_pbs"]
    ini = tmp_path / "job_managers.ini"
    ini.write_text("\n\n".join(drmaa_free) + "\n")
    app = LwrApp(staging_directory=str(tmp_path / "staging"), persistence_directory=str(tmp_path / "p"),
                 tool_dependency_dir=str(tmp_path / "deps"), job_managers_config=str(ini))
    try:
        assert sorted(app.managers) == ["condor", "pbs", "slurm", "slurm_over_ssh", "torque"]
        shell = app.managers["slurm_over_ssh"].proxied_manager.shell
        assert (shell.hostname, shell.port, shell.username) == ("submit.example.org", 22, "galaxy")
        assert type(app.managers["pbs"].proxied_manager.job_interface).__name__ == "Torque"
    finally:
        app.shutdown()
