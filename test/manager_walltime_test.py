"""A walltime kill reads ``failed`` with the reason, for every cluster manager, through the real
LWR HTTP API (issue 4, "Tests": "a walltime kill -> failed with the reason").

* Slurm (1-minute limit, Slurm's minimum; TIMEOUT shows ~60-90 s after the start):
  ``queued_cli`` Slurm over LocalShell and over SecureShell, ``queued_cli`` SlurmTorque and
  ``queued_pbs`` through Slurm's Torque wrappers.  All four jobs are submitted at once by one
  module-scoped fixture to one server and run side by side, so the wait is paid once.  To fit
  four one-CPU jobs on the two-CPU node they go to partition ``lwrwalltime``
  (``OverSubscribe=FORCE:4``), created here for the duration of the module when the node does
  not have it and we are root; otherwise they use the default partition and may run two at a
  time.  ``queued_pbs`` runs with ``job_plugin = SlurmTorque``: the wrappers' ``qstat -f`` shows a
  timed-out job as plain ``C`` with no ``exit_status``, so only the Slurm-aware plugin can say why.
* Grid Engine ``h_rt`` for ``queued_external_drmaa`` (job run as the test user through sudo);
  ``queued_drmaa``'s own h_rt test is in manager_drmaa_test.py.
* HTCondor ``periodic_remove`` for ``queued_condor`` on the condor stand-ins, whose log of the
  removal is checked against the htcondor bindings in a child process.

The Slurm tests come first and last: the first ones see the jobs start with the limit, the
Condor and Grid Engine tests run while the Slurm jobs wait for their limit, the last ones read
the kills.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from test.manager_external_drmaa_test import TEST_USER, require_run_as_user
from test.manager_support import TERMINAL, cancel, external_id, process_gone, run, start, status, submit, wait_for
from test.support.schedulers import (slurm_available, ssh_available, ssh_config_path, torque_wrapper_dir,
                                     torque_wrappers_available, SSH_HOST)
from test.support.server import REPO_ROOT
from test.support.services import require
from test.support.wait import eventually

pytestmark = [pytest.mark.server, pytest.mark.slow]

WALLTIME_PARTITION = "lwrwalltime"
SLURM_LIMIT_SECONDS = 60
#: submission -> TIMEOUT read by LWR: limit + slurmctld's 30 s limit check + a queue wait
SLURM_DEADLINE_SECONDS = 300
LONG_JOB = "echo started > ../outputs/started.txt; sleep 300"


def _slurm_cases():
    """name -> (manager ini section body, available, why not)."""
    slurm = slurm_available()
    torque = torque_wrappers_available()
    ssh = slurm and ssh_available()
    return {
        "cli_local": ("type = queued_cli\njob_plugin = Slurm\njob_time = 1\njob_mem = 100\n{partition_slurm}",
                      slurm, "Slurm is not running (scripts/services/start-slurm.sh)"),
        "cli_ssh": ("type = queued_cli\njob_plugin = Slurm\njob_time = 1\njob_mem = 100\n{partition_slurm}"
                    "shell_plugin = SecureShell\nshell_hostname = %s\nshell_ssh_config = %s\n"
                    "shell_connect_timeout = 10\nshell_timeout = 30\n" % (SSH_HOST, ssh_config_path()),
                    ssh, "Slurm or the private sshd is not running (scripts/services/start-{slurm,sshd}.sh)"),
        "cli_slurmtorque": ("type = queued_cli\njob_plugin = SlurmTorque\n"
                            "job_resource_list = walltime=00:01:00,mem=100mb\n{partition_torque}",
                            torque, "Slurm's Torque wrappers are not set up (scripts/services/start-torque-wrappers.sh)"),
        "pbs": ("type = queued_pbs\njob_plugin = SlurmTorque\n"
                "job_resource_list = walltime=00:01:00,mem=100mb\n{partition_torque}",
                torque, "Slurm's Torque wrappers are not set up (scripts/services/start-torque-wrappers.sh)"),
    }


SLURM_CASES = [pytest.param("cli_local", marks=pytest.mark.slurm),
               pytest.param("cli_ssh", marks=[pytest.mark.slurm, pytest.mark.ssh]),
               pytest.param("cli_slurmtorque", marks=pytest.mark.slurm),
               pytest.param("pbs", marks=pytest.mark.slurm)]


def _partition_exists(name) -> bool:
    return run(["scontrol", "show", "partition", name]).returncode == 0


def _walltime_partition():
    """(partition to use or None for the default, whether we created it)."""
    if _partition_exists(WALLTIME_PARTITION):
        return WALLTIME_PARTITION, False
    if os.geteuid() != 0:
        return None, False
    created = run(["scontrol", "create", "PartitionName=%s" % WALLTIME_PARTITION, "Nodes=ALL",
                   "OverSubscribe=FORCE:4", "MaxTime=10", "State=UP"])
    if created.returncode != 0:
        return None, False
    return WALLTIME_PARTITION, True


class SlurmWalltimeJobs:
    """One server, one walltime job per available Slurm-based manager, all submitted at once."""

    def __init__(self, server, names, partition):
        self.server, self.names, self.partition = server, names, partition
        self.submitted = {}
        self.finals = {}
        self.ended_after = {}
        self.most_running = 0

    def submit_all(self):
        for name in self.names:
            submit(self.server, "wt-" + name, LONG_JOB, manager=name)
            self.submitted[name] = time.monotonic()

    def wait_all(self):
        """Poll every job once a second until all are terminal (idempotent)."""
        eventually(self._poll_once, SLURM_DEADLINE_SECONDS, interval=1)
        return self.finals

    def _poll_once(self) -> bool:
        running = 0
        for name in self.names:
            if name in self.finals:
                continue
            current = status(self.server, "wt-" + name, manager=name)
            if current["status"] in TERMINAL:
                self.finals[name] = current
                self.ended_after[name] = time.monotonic() - self.submitted[name]
            running += current["status"] == "running"
        self.most_running = max(self.most_running, running)
        return len(self.finals) == len(self.names)


@pytest.fixture(scope="module")
def slurm_jobs():
    cases = _slurm_cases()
    names = [name for name, (_, available, _) in cases.items() if available]
    if not names:
        yield None
        return
    partition, created = _walltime_partition()
    sections = []
    for name in names:
        body = cases[name][0].format(
            partition_slurm="job_partition = %s\n" % partition if partition else "",
            partition_torque="job_destination = %s\n" % partition if partition else "")
        sections.append("[manager:%s]\n%sstatus_cache_seconds = 1\n" % (name, body))
    directory = tempfile.mkdtemp(prefix="lwr-walltime-slurm-")
    with pytest.MonkeyPatch.context() as patch:
        # the wrappers' qsub/qstat/qdel come first on the server's PATH (Grid Engine has its own qstat)
        patch.setenv("PATH", torque_wrapper_dir() + os.pathsep + os.environ["PATH"])
        server = start(os.path.join(directory, "srv"), "\n".join(sections))
    jobs = SlurmWalltimeJobs(server, names, partition)
    try:
        jobs.submit_all()
        yield jobs
    finally:
        for name in names:
            if name not in jobs.finals:
                try:
                    cancel(server, "wt-" + name, manager=name)
                except AssertionError:
                    pass
        server.stop()
        if created:
            run(["scancel", "-p", WALLTIME_PARTITION])
            for _ in range(20):
                if run(["scontrol", "delete", "PartitionName=%s" % WALLTIME_PARTITION]).returncode == 0:
                    break
                time.sleep(0.5)
        shutil.rmtree(directory, ignore_errors=True)


def _require_case(name):
    _, available, reason = _slurm_cases()[name]
    require(available, reason)


def _scontrol_fields(job):
    out = run(["scontrol", "-o", "show", "job", job.split(".", 1)[0]]).stdout
    return dict(field.split("=", 1) for field in out.split() if "=" in field)


@pytest.mark.parametrize("name", SLURM_CASES)
def test_slurm_walltime_job_starts_with_the_one_minute_limit(slurm_jobs, name):
    _require_case(name)
    server = slurm_jobs.server
    seen = wait_for(server, "wt-" + name, ["running"] + list(TERMINAL), timeout=SLURM_DEADLINE_SECONDS, manager=name)
    assert seen["status"] == "running", seen
    fields = _scontrol_fields(external_id(server, "wt-" + name))
    assert fields.get("TimeLimit") == "00:01:00", fields
    if slurm_jobs.partition:
        assert fields.get("Partition") == slurm_jobs.partition, fields


@pytest.mark.condor
def test_condor_periodic_remove_reads_failed_with_the_policy_and_log_agrees_with_htcondor(tmp_path, monkeypatch):
    standins = os.path.join(REPO_ROOT, "test", "support", "condor_standins")
    require(os.access(os.path.join(standins, "condor_submit"), os.X_OK) and bool(shutil.which("python3")),
            "HTCondor stand-ins (test/support/condor_standins) or python3 missing")
    require(subprocess.run([sys.executable, "-c", "import htcondor2"], capture_output=True).returncode == 0,
            "htcondor bindings not installed (pip install htcondor)")
    policy = "(JobStatus == 2) && (time() - JobCurrentStartDate) > 3"
    monkeypatch.setenv("PATH", standins + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("LWR_CONDOR_STANDIN_DIR", str(tmp_path / "standin-state"))
    server = start(tmp_path / "srv", "[manager:_default_]\ntype = queued_condor\nstatus_cache_seconds = 0\n"
                                     "submit_periodic_remove = %s\n" % policy)
    try:
        submitted = time.monotonic()
        submit(server, "cw", LONG_JOB)
        submit(server, "quick", "sleep 1; exit 0")  # under the limit: the policy must not fire
        final = wait_for(server, "cw", TERMINAL, timeout=60)
        took = time.monotonic() - submitted
        assert final["status"] == "failed", final
        reason = "The job attribute PeriodicRemove expression '%s' evaluated to TRUE" % policy
        assert reason in final["stderr"] and reason in final["failure_reason"], final
        assert took >= 3, took
        assert process_gone(server, "cw")
        assert server.request("GET", "jobs/cw/files", {"name": "started.txt"}) == (200, b"started\n")
        quick = wait_for(server, "quick", TERMINAL, timeout=30)
        assert (quick["status"], quick["returncode"]) == ("complete", 0), quick
        job_directory = os.path.join(server.staging_directory, "cw")
        with open(os.path.join(job_directory, "job.condor.submit")) as handle:
            assert "periodic_remove = %s\n" % policy in handle.read()
        cluster = int(external_id(server, "cw"))
    finally:
        server.stop()
    events = _htcondor_events(os.path.join(job_directory, "job_condor.log"), cluster)
    assert [event["type"] for event in events] == [0, 1, 9], events
    assert events[-1]["Reason"] == reason


# The bindings run in a child process: they abort an interpreter that has loaded Grid Engine's libdrmaa.
_ORACLE = """
import json, sys
import htcondor2
print(json.dumps([dict(type=int(e.type), cluster=e.cluster,
                       **{k: v for k, v in e.items() if isinstance(v, (int, float, str, bool))})
                  for e in htcondor2.JobEventLog(sys.argv[1]).events(stop_after=0)]))
"""


def _htcondor_events(log_path, cluster):
    result = subprocess.run([sys.executable, "-c", _ORACLE, log_path], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [event for event in json.loads(result.stdout) if event["cluster"] == cluster]


@pytest.mark.drmaa
@pytest.mark.root
def test_external_drmaa_h_rt_kill_of_the_users_job_reads_failed_with_the_reason():
    require_run_as_user()
    directory = tempfile.mkdtemp(prefix="lwr-walltime-extdrmaa-", dir="/var/tmp")
    os.chmod(directory, 0o755)  # the test user must reach the job directory
    server = start(os.path.join(directory, "srv"), "[manager:_default_]\ntype = queued_external_drmaa\n"
                                                   "production = false\nstatus_cache_seconds = 0.3\n")
    try:
        submit(server, "hw", LONG_JOB, params={"user": TEST_USER, "native_specification": "-l h_rt=0:0:3"})
        wait_for(server, "hw", ["running"], timeout=60)
        job_directory = os.path.join(server.staging_directory, "hw")
        assert pwd.getpwuid(os.stat(job_directory).st_uid).pw_name == TEST_USER
        final = wait_for(server, "hw", TERMINAL, timeout=90)
        assert final["status"] == "failed", final
        assert "h_rt" in final["stderr"] and "h_rt" in final["failure_reason"], final
        assert pwd.getpwuid(os.stat(job_directory).st_uid).pw_name == "root"  # handed back at the end
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("name", SLURM_CASES)
def test_slurm_walltime_kill_reads_failed_with_the_reason(slurm_jobs, name):
    _require_case(name)
    slurm_jobs.wait_all()
    final = slurm_jobs.finals.get(name)
    assert final is not None, "no terminal status %ss after submission\n%s" % (
        SLURM_DEADLINE_SECONDS, slurm_jobs.server.log()[-4000:])
    assert final["status"] == "failed", final
    for field in ("stderr", "failure_reason"):
        assert "walltime limit exceeded" in final[field] and "TIMEOUT" in final[field], final
    assert slurm_jobs.ended_after[name] >= SLURM_LIMIT_SECONDS, slurm_jobs.ended_after
    server = slurm_jobs.server
    assert _scontrol_fields(external_id(server, "wt-" + name)).get("JobState") == "TIMEOUT"
    assert server.request("GET", "managers/%s/jobs/wt-%s/files" % (name, name), {"name": "started.txt"}) == \
        (200, b"started\n")
    print("Slurm walltime jobs: ended %s s after submission; at most %d running together"
          % ({k: round(v) for k, v in slurm_jobs.ended_after.items()}, slurm_jobs.most_running))
