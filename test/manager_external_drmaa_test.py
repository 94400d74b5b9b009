"""queued_external_drmaa through the real LWR HTTP API: each job runs as the test user ``lwrtest``
on real Grid Engine, through real sudo and the scripts/*.bash helpers (sudoers rule written by
scripts/services/start-run-as-user.sh, the example of docs/job_managers.rst)."""
import os
import pwd
import shutil
import tempfile

import pytest

from test.manager_drmaa_test import qrls, require_drmaa, wait_sge_forgets
from test.manager_support import (cancel, external_id, lifecycle, restart, start, status, submit, wait_for,
                                  TERMINAL)
from test.support.services import require

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.drmaa, pytest.mark.root]

TEST_USER = os.environ.get("LWR_TEST_USER", "lwrtest")

MANAGERS = """
[manager:_default_]
type = queued_external_drmaa
production = false
# held at submission so the test sees "queued" before releasing it
native_specification = -h
status_cache_seconds = 0.3

[manager:prod]
type = queued_external_drmaa
# production: the chown script finds the job by id under server.ini's staging_directory
production = true
status_cache_seconds = 0.3
"""


def require_run_as_user():
    require(os.geteuid() == 0, "needs root (sudo to the test user)")
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        require(False, "user %s missing (scripts/services/start-run-as-user.sh)" % TEST_USER)
    require(os.path.exists("/etc/sudoers.d/lwr-test"), "sudoers rule missing (scripts/services/start-run-as-user.sh)")
    require_drmaa()


@pytest.fixture
def server():
    require_run_as_user()
    # pytest's tmp_path is under a 0700 directory the test user cannot enter
    directory = tempfile.mkdtemp(prefix="lwr-extdrmaa-", dir="/var/tmp")
    os.chmod(directory, 0o755)
    server = start(os.path.join(directory, "srv"), MANAGERS)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def owner(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


def test_job_runs_as_the_submitting_user_and_directory_comes_back(server):
    lifecycle(server, "u1", release=qrls, params={"user": TEST_USER}, user=TEST_USER)
    job_directory = os.path.join(server.staging_directory, "u1")
    assert owner(job_directory) == "root"
    assert owner(os.path.join(job_directory, "outputs", "out.txt")) == "root"


def test_restart_then_cancel_as_the_user_and_other_job_finishes(server):
    user = {"user": TEST_USER}
    submit(server, "long", "sleep 120", params=user, manager="prod")
    submit(server, "short", "sleep 4; id -un > ../outputs/who.txt; exit 5", params=user, manager="prod")
    wait_for(server, "long", ["running"], manager="prod")
    wait_for(server, "short", ["running"], manager="prod")
    assert owner(os.path.join(server.staging_directory, "long")) == TEST_USER
    server = restart(server)
    try:
        assert status(server, "long", manager="prod")["status"] == "running"
        job = external_id(server, "long")
        cancel(server, "long", manager="prod")  # the user comes from the job's stored submit request
        assert wait_for(server, "long", TERMINAL, manager="prod")["status"] == "cancelled"
        assert wait_sge_forgets(job)
        final = wait_for(server, "short", TERMINAL, manager="prod")
        assert (final["status"], final["returncode"]) == ("complete", 5), final
        assert server.request("GET", "managers/prod/jobs/short/files", {"name": "who.txt"}) == \
            (200, (TEST_USER + "\n").encode())
    finally:
        server.stop()


@pytest.mark.parametrize("params, words", [
    ({}, ["submit_user"]),
    ({"user": "nosuchuser"}, ["user 'nosuchuser' does not exist"]),
    ({"user": "-u root"}, ["invalid user name"]),
])
def test_missing_or_disallowed_user_reads_failed_and_server_keeps_serving(server, params, words):
    submit(server, "bad", "true", params=params, manager="prod")
    final = wait_for(server, "bad", TERMINAL, manager="prod")
    assert final["status"] == "failed"
    for word in words:
        assert word in final["stderr"], final
    assert server.json("GET", "healthz")["status"] == "ok"


# -- uploads (mode 0600) reach the job's user; a server.ini in the LWR directory is not used -------
TOOL_SCRIPT = """# Galaxy-style tool_script.sh (uploaded as type jobdir): reads what was uploaded, as the user.
set -e
cd "$(dirname "$0")/working"
{ id -un
  stat -c '%U %a' ../inputs/data.txt ../configs/opts.conf ../tool_files/tool.sh
  cat ../inputs/data.txt ../configs/opts.conf
  sh ../tool_files/tool.sh
} > ../outputs/out.txt
"""


@pytest.fixture
def decoy_server_ini():
    """A server.ini in the LWR directory, as `./run.sh --daemon` leaves there, naming another
    staging directory (an existing one is used as it is)."""
    from test.support.server import REPO_ROOT

    path = os.path.join(REPO_ROOT, "server.ini")
    if os.path.exists(path):
        yield path
        return
    decoy = tempfile.mkdtemp(prefix="lwr-decoy-", dir="/var/tmp")
    with open(path, "w") as handle:
        handle.write("[app:main]\npaste.app_factory = lwr.web.wsgi:app_factory\nstaging_directory = %s\n" % decoy)
    try:
        yield path
    finally:
        os.unlink(path)
        shutil.rmtree(decoy, ignore_errors=True)


@pytest.mark.parametrize("manager", [None, "prod"])
def test_uploaded_files_reach_the_user_despite_a_server_ini_in_the_lwr_directory(server, decoy_server_ini, manager):
    prefix = "" if manager is None else "managers/%s/" % manager
    job_id = "up-%s" % (manager or "default")
    config = server.json("POST", prefix + "jobs", {"job_id": job_id})
    uploads = {("data.txt", "input"): b"input data\n", ("opts.conf", "config"): b"--opt=1\n",
               ("tool.sh", "tool"): b"echo tool ran as $(id -un)\n", ("tool_script.sh", "jobdir"): TOOL_SCRIPT.encode()}
    for (name, kind), data in uploads.items():
        path = server.json("POST", prefix + "jobs/%s/files" % job_id, {"name": name, "type": kind}, data=data)["path"]
        assert os.stat(path).st_mode & 0o777 == 0o600, path
    script = os.path.join(os.path.dirname(config["working_directory"]), "tool_script.sh")
    code, body = server.request("POST", prefix + "jobs/%s/submit" % job_id,
                                {"command_line": "bash %s" % script, "params": '{"user": "%s"}' % TEST_USER})
    assert (code, body) == (200, b"OK")
    if manager is None:  # the default manager submits held jobs (native_specification -h)
        wait_for(server, job_id, ["queued"], manager=manager)
        qrls(external_id(server, job_id))
    final = wait_for(server, job_id, TERMINAL, timeout=90, manager=manager)
    assert (final["status"], final["returncode"]) == ("complete", 0), final
    code, body = server.request("GET", prefix + "jobs/%s/files" % job_id, {"name": "out.txt"})
    assert code == 200
    assert body.decode().splitlines() == [
        TEST_USER, "%s 600" % TEST_USER, "%s 600" % TEST_USER, "%s 600" % TEST_USER,
        "input data", "--opt=1", "tool ran as %s" % TEST_USER]
    job_directory = os.path.join(server.staging_directory, job_id)
    assert owner(job_directory) == "root" and owner(os.path.join(job_directory, "outputs", "out.txt")) == "root"
