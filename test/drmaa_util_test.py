"""DRMAA helpers against the real Grid Engine DRMAA, qacct parsing on captured output, and the
run-as-user scripts (chown_working_directory, drmaa_launch, drmaa_kill) through real sudo."""
import json
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from lwr.galaxy.status import limit_runner_state
from lwr.managers import status
from lwr.managers.util.cli.job import JobStatus
from lwr.managers.util.drmaa.sge import (matching_record, parse_qacct, parse_qacct_records, qacct_job_status,
                                        qsub_time)
from lwr.managers.util.sudo import SudoError, sudo, sudo_argv
from lwr.scripts import chown_working_directory
from lwr.scripts._common import ScriptError
from test.support.schedulers import drmaa_problem, scheduler_env, sge_drmaa_available
from test.support.services import require
from test.support.wait import eventually, wait_for_value

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "scheduler_output", "sge")
TEST_USER = os.environ.get("LWR_TEST_USER", "lwrtest")


def load_problem(env_changes):
    env = scheduler_env()
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    code = "from lwr.managers.util.drmaa import load_drmaa\nload_drmaa()\nprint('loaded')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    return result.stdout + result.stderr


@pytest.mark.parametrize("changes, words", [
    ({"DRMAA_LIBRARY_PATH": None}, ["DRMAA_LIBRARY_PATH is not set", "local_env.sh"]),
    ({"DRMAA_LIBRARY_PATH": "/nonexistent/libdrmaa.so"}, ["/nonexistent/libdrmaa.so does not exist"]),
])
def test_missing_drmaa_library_is_explained(changes, words):
    output = load_problem(changes)
    for word in words:
        assert word in output


def test_importing_the_package_does_not_need_drmaa():
    env = dict(os.environ)
    env.pop("DRMAA_LIBRARY_PATH", None)
    code = "import lwr.managers.util.drmaa, sys; print('drmaa' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "False"


@pytest.mark.drmaa
def test_static_tls_trap_is_explained_with_its_fix():
    require(os.path.exists(scheduler_env()["DRMAA_LIBRARY_PATH"]), "Grid Engine DRMAA library not installed")
    output = load_problem({"GLIBC_TUNABLES": None, "LD_PRELOAD": None})
    assert "static TLS" in output and "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=2048" in output
    assert "loaded" in load_problem({})


def qacct_fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_qacct_parsing_of_real_records():
    assert qacct_job_status(parse_qacct(qacct_fixture("qacct_exit7.txt"))) == JobStatus(status.COMPLETE, 7)
    killed = qacct_job_status(parse_qacct(qacct_fixture("qacct_h_rt_kill.txt")))
    assert killed.state == status.FAILED
    assert killed.reason == "walltime limit exceeded: Grid Engine killed the job at h_rt=3 (ran 4s)"
    assert limit_runner_state(killed.reason) == "WALLTIME_REACHED"
    killed = qacct_job_status(parse_qacct(qacct_fixture("qacct_h_vmem_kill.txt")))
    assert killed.state == status.FAILED
    assert killed.reason == ("memory limit exceeded: Grid Engine killed the job at h_vmem=150M "
                             "(maxvmem 273.746MB)")
    assert limit_runner_state(killed.reason) == "MEMORY_LIMIT_REACHED"
    assert parse_qacct(qacct_fixture("qacct_invalid_id.txt")) is None


@pytest.mark.parametrize("category, usage, words", [
    ("-l h_rt=3,h_vmem=150M", {"maxvmem": "151.000MB", "ru_wallclock": "1s"}, "memory limit"),
    ("-l h_rt=3,h_vmem=150M", {"maxvmem": "20.000MB", "ru_wallclock": "4s"}, "walltime limit"),
    ("-q all.q -l h_rt=0:1:0", {"ru_wallclock": "60"}, "walltime limit"),
    ("-l h_cpu=10", {"cpu": "10.010s", "ru_wallclock": "12s"}, "CPU time limit"),
    ("-l h_vmem=1g", {"maxvmem": "0.999GB"}, "memory limit"),  # 1g = 10^9 bytes < 0.999 GiB
    ("-l h_vmem=1G", {"maxvmem": "0.5GB", "ru_wallclock": "5s"}, "qmaster enforced"),  # cannot tell
    ("", {}, "qmaster enforced"),
])
def test_the_enforced_limit_is_named_from_requests_and_usage(category, usage, words):
    record = {"failed": "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit", "exit_status": "137",
              "category": category}
    record.update(usage)
    found = qacct_job_status(record)
    assert found.state == status.FAILED and words in found.reason, found


def test_qacct_record_of_an_older_job_with_the_same_number_is_not_ours():
    # Grid Engine reuses job numbers after its spool is recreated; the accounting file keeps the
    # old records, so "qacct -j N" can list somebody else's job N after ours.
    ours = qacct_fixture("qacct_exit7.txt")
    older = re.sub(r"(?m)^jobname .*$", "jobname      lwr_other", qacct_fixture("qacct_h_rt_kill.txt"))
    records = parse_qacct_records(ours + older)
    assert len(records) == 2
    submitted = qsub_time(records[0])
    assert submitted is not None
    found = matching_record(records, job_name="sh", submitted_after=submitted)
    assert qacct_job_status(found) == JobStatus(status.COMPLETE, 7)
    # a record from long before our submission is somebody else's job, whatever its name
    assert matching_record(records, job_name="sh", submitted_after=submitted + 3600) is None
    assert matching_record(records) is records[-1]


@pytest.fixture(scope="module")
def session():
    require(sge_drmaa_available(), drmaa_problem() or "")
    from lwr.managers.util.drmaa import DrmaaSession
    with DrmaaSession() as opened:
        yield opened


def job_attrs(tmp_path, body, **extra):
    script = tmp_path / ("job%d.sh" % time.monotonic_ns())
    script.write_text("#!/bin/sh\n%s\n" % body)
    script.chmod(0o755)
    attrs = {"remoteCommand": str(script), "jobName": "lwr_test", "outputPath": ":%s/stdout" % tmp_path,
             "errorPath": ":%s/stderr" % tmp_path}
    attrs.update(extra)
    return attrs


def follow(session, job_id, timeout=40):
    """The distinct statuses of the job until it is done."""
    seen = []

    def read():
        found = session.job_status(job_id)
        if not seen or seen[-1] != found:
            seen.append(found)
        return found
    wait_for_value(read, lambda found: found.done, timeout, lambda: "job %s: %s" % (job_id, seen), interval=0.3)
    return seen


@pytest.mark.drmaa
def test_drmaa_job_exit_7_queued_running_done(session, tmp_path):
    job = session.run_job(**job_attrs(tmp_path, "echo drmaa-out; sleep 2; exit 7"))
    seen = follow(session, job)
    assert seen[-1] == JobStatus(status.COMPLETE, 7)
    assert JobStatus(status.RUNNING) in seen
    assert (tmp_path / "stdout").read_text() == "drmaa-out\n"
    assert session.job_status(job) == seen[-1]  # cached: DRMAA forgets a job once waited for


@pytest.mark.drmaa
def test_drmaa_kill_running_job_reads_cancelled(session, tmp_path):
    job = session.run_job(**job_attrs(tmp_path, "sleep 60"))
    eventually(lambda: session.job_status(job).state == status.RUNNING, 30, interval=0.3)
    assert session.kill(job)
    assert follow(session, job)[-1].state == status.CANCELLED


@pytest.mark.drmaa
def test_drmaa_walltime_kill_reads_failed_with_reason(session, tmp_path):
    job = session.run_job(**job_attrs(tmp_path, "sleep 60", nativeSpecification="-l h_rt=0:0:2"))
    final = follow(session, job)[-1]
    assert final.state == status.FAILED
    assert "walltime limit exceeded" in final.reason and "h_rt" in final.reason, final


@pytest.mark.drmaa
def test_drmaa_memory_kill_reads_failed_with_memory_reason(session, tmp_path):
    # One process over h_vmem only sees malloc fail (h_vmem is also its address-space rlimit);
    # Grid Engine kills a job when its processes together use more, which is what this does.
    python = shutil.which("python3") or sys.executable
    body = "\n".join(["%s -c 'x = bytearray(60 << 20); import time; time.sleep(40)' &" % python] * 4
                      + ["wait"])
    job = session.run_job(**job_attrs(tmp_path, body, nativeSpecification="-l h_vmem=150M"))
    final = follow(session, job, timeout=60)[-1]
    assert final.state == status.FAILED, final
    assert "memory limit exceeded" in final.reason and "h_vmem=150M" in final.reason, final
    assert limit_runner_state(final.reason) == "MEMORY_LIMIT_REACHED"


@pytest.mark.drmaa
def test_drmaa_unknown_template_attribute_rejected(session):
    with pytest.raises(ValueError, match="bogus"):
        session.run_job(remoteCommand="/bin/true", bogus=1)


@pytest.mark.drmaa
def test_job_finished_in_an_earlier_session_is_resolved(session, tmp_path):
    # A job submitted by another process's session (like a server before its restart)
    attrs = tmp_path / "jt.json"
    attrs.write_text(json.dumps(job_attrs(tmp_path, "exit 5")))
    launch = subprocess.run([os.path.join(ROOT, "scripts", "drmaa_launch.bash"), "--job_attributes", str(attrs)],
                            env=scheduler_env(), capture_output=True, text=True)
    assert launch.returncode == 0, launch.stderr
    job = launch.stdout.strip()
    assert job.isdigit()
    found = wait_for_value(lambda: session.job_status(job), lambda found: found.done, 30, interval=0.3)
    # DRMAA raises InvalidJobException for it; Grid Engine's accounting still has the exit code
    assert found == JobStatus(status.COMPLETE, 5)


@pytest.mark.drmaa
def test_job_grid_engine_cannot_start_fails_with_its_reason_and_leaves_the_queue(session, tmp_path):
    # an output file that cannot be opened puts the job in Grid Engine's error state (Eqw)
    attrs = job_attrs(tmp_path, "true", outputPath=":/nonexistent/lwr-test/stdout")
    job = session.run_job(**attrs)
    final = follow(session, job)[-1]
    assert final.state == status.FAILED, final
    assert "/nonexistent/lwr-test/stdout" in final.reason or "input/output file" in final.reason, final
    assert wait_gone_from_qstat(job)


@pytest.mark.drmaa
def test_job_of_another_session_in_error_state_fails_with_the_reason(session, tmp_path):
    script = tmp_path / "eqw.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    submitted = subprocess.run(["qsub", "-terse", "-N", "lwr_eqw", "-o", "/nonexistent/lwr-test/out",
                                "-e", str(tmp_path), str(script)],
                               env=scheduler_env(), capture_output=True, text=True)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip()
    final = follow(session, job)[-1]
    assert final.state == status.FAILED, final
    assert "Grid Engine could not start the job" in final.reason and "/nonexistent/lwr-test/out" in final.reason
    assert wait_gone_from_qstat(job)


def wait_gone_from_qstat(job, timeout=20):
    return eventually(lambda: subprocess.run(["qstat", "-j", job], env=scheduler_env(),
                                             capture_output=True).returncode != 0, timeout, interval=0.3)


# -- run as user ----------------------------------------------------------------------------

def write_server_ini(tmp_path, staging="staging"):
    (tmp_path / "server.ini").write_text("[app:main]\nstaging_directory = %s\n" % staging)
    return str(tmp_path / "server.ini")


@pytest.mark.parametrize("job_id", ["..", "../etc", "a/b", "", "."])
def test_chown_rejects_job_ids_outside_staging(tmp_path, job_id):
    (tmp_path / "staging").mkdir()
    with pytest.raises(ScriptError):
        chown_working_directory.resolve_job_directory(job_id, None, os.path.realpath(tmp_path / "staging"))


def test_chown_rejects_symlinked_job_directory_escaping_staging(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "staging" / "job1").symlink_to(tmp_path / "outside")
    staging = os.path.realpath(tmp_path / "staging")
    with pytest.raises(ScriptError, match="not inside"):
        chown_working_directory.resolve_job_directory("job1", None, staging)
    with pytest.raises(ScriptError, match="not inside"):
        chown_working_directory.resolve_job_directory(None, str(tmp_path / "outside"), staging)


@pytest.mark.parametrize("staging, words", [("relative/staging", "absolute"), ("/", "not a directory"),
                                            ("/nonexistent-lwr-staging", "No such file")])
def test_chown_refuses_a_staging_directory_it_cannot_trust(staging, words):
    with pytest.raises(ScriptError, match=words):
        chown_working_directory.check_staging_directory(staging, os.getuid())


def test_chown_refuses_a_staging_directory_of_another_user(tmp_path):
    (tmp_path / "staging").mkdir()
    with pytest.raises(ScriptError, match="not owned by the calling user"):
        chown_working_directory.check_staging_directory(str(tmp_path / "staging"), os.getuid() + 1)
    assert chown_working_directory.check_staging_directory(str(tmp_path / "staging"), os.getuid()) == \
        os.path.realpath(tmp_path / "staging")


def test_chown_uses_the_staging_directory_it_is_given_not_a_server_ini_nearby(tmp_path, monkeypatch):
    decoy = tmp_path / "checkout"
    decoy.mkdir()
    write_server_ini(decoy, staging="lwr_staging")  # what ./run.sh leaves in the LWR directory
    (decoy / "lwr_staging").mkdir()
    job = tmp_path / "srv" / "staging" / "job1"
    job.mkdir(parents=True)
    monkeypatch.chdir(decoy)
    changed = []
    monkeypatch.setattr(chown_working_directory, "chown_tree", lambda path, uid: changed.append(path))
    uid = pwd.getpwuid(os.getuid()).pw_name
    staging = str(tmp_path / "srv" / "staging")
    assert chown_working_directory.main(["--user", uid, "--job_id", "job1", "--staging_directory", staging]) == 0
    assert chown_working_directory.main(["--user", uid, "--job_directory", str(job),
                                         "--staging_directory", staging]) == 0
    assert changed == [os.path.realpath(job)] * 2
    assert chown_working_directory.main(["--user", uid, "--job_id", "job1"]) == 1  # ./server.ini's staging


def require_root_and_user():
    require(os.geteuid() == 0, "needs root")
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        require(False, "test user %s missing (scripts/services/start-run-as-user.sh)" % TEST_USER)


@pytest.mark.root
def test_chown_script_gives_job_directory_to_user_without_following_symlinks(tmp_path):
    require_root_and_user()
    ini = write_server_ini(tmp_path)
    job = tmp_path / "staging" / "job1"
    (job / "working").mkdir(parents=True)
    (job / "working" / "f").write_text("x")
    victim = tmp_path / "victim"
    victim.write_text("root's")
    (job / "link").symlink_to(victim)
    rc = chown_working_directory.main(["--user", TEST_USER, "--job_id", "job1", "--ini_path", ini])
    uid = pwd.getpwnam(TEST_USER).pw_uid
    assert rc == 0
    assert {os.stat(p).st_uid for p in (job, job / "working", job / "working" / "f")} == {uid}
    assert os.lstat(job / "link").st_uid == uid and os.stat(victim).st_uid == 0
    assert chown_working_directory.main(["--user", "no-such-user-x", "--job_id", "job1", "--ini_path", ini]) == 1


def test_sudo_argv_is_a_list_with_user():
    assert sudo_argv(["/s/launch.bash", "--job_attributes", "a b"], user="galaxy") == [
        "/usr/bin/sudo", "-E", "-n", "-u", "galaxy", "--", "/s/launch.bash", "--job_attributes", "a b"]
    with pytest.raises(ValueError):
        sudo_argv(["x"], user="-root")


@pytest.mark.root
def test_sudo_failure_raises_typed_error_with_output():
    require_root_and_user()
    require(os.path.exists("/usr/bin/sudo"), "sudo missing (scripts/services/start-run-as-user.sh)")
    assert sudo(["/usr/bin/id", "-un"], user=TEST_USER).strip() == TEST_USER
    with pytest.raises(SudoError) as info:
        sudo(["/bin/sh", "-c", "echo bad >&2; exit 3"])
    assert info.value.returncode == 3 and "bad" in info.value.stderr


@pytest.mark.drmaa
@pytest.mark.root
def test_launch_and_kill_scripts_run_as_the_user_through_sudo(session):
    require_root_and_user()
    # pytest's tmp_path lives under a 0700 directory the user cannot enter
    job_dir = pathlib.Path(tempfile.mkdtemp(prefix="lwr-runas-", dir="/var/tmp"))
    try:
        run_as_user(session, job_dir)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def run_as_user(session, job_dir):
    attrs = job_attrs(job_dir, "id -un; sleep 60")
    (job_dir / "jt.json").write_text(json.dumps(attrs))
    chown_working_directory.chown_tree(str(job_dir), pwd.getpwnam(TEST_USER).pw_uid)
    scripts = os.path.join(ROOT, "scripts")
    env = scheduler_env()
    launch = subprocess.run(sudo_argv([os.path.join(scripts, "drmaa_launch.bash"), "--job_attributes",
                                       str(job_dir / "jt.json")], user=TEST_USER),
                            env=env, capture_output=True, text=True)
    assert launch.returncode == 0, launch.stderr
    job = launch.stdout.strip()
    eventually(lambda: session.job_status(job).state == status.RUNNING, 30, interval=0.3)
    time.sleep(0.5)
    assert (job_dir / "stdout").read_text() == TEST_USER + "\n"
    kill = subprocess.run(sudo_argv([os.path.join(scripts, "drmaa_kill.bash"), "--external_id", job], user=TEST_USER),
                          env=env, capture_output=True, text=True)
    assert kill.returncode == 0, kill.stderr
    assert follow(session, job)[-1].state in (status.FAILED, status.CANCELLED)
