"""A job that replaces its outputs / metadata / working directory (or a file in them) by a symlink
must not make the server list, serve or push anything outside the job directory."""
import json
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from test.server_routes_test import wait_done

SECRET_NAME = "outside-secret-name"
SECRET = b"contents outside the job directory\n"
LISTED = {"outputs": "outputs_directory_contents", "metadata": "metadata_directory_contents",
          "working": "working_directory_contents"}


@pytest.fixture
def outside(tmp_path):
    directory = tmp_path / "outside"
    (directory / "sub").mkdir(parents=True)
    (directory / SECRET_NAME).write_bytes(SECRET)
    (directory / "galaxy.json").write_bytes(SECRET)
    (directory / "sub" / "deeper").write_bytes(SECRET)
    return str(directory)


@pytest.fixture
def job(tmp_path):
    job_directory = JobDirectory(str(tmp_path / "staging"), "1")
    job_directory.setup()
    return job_directory


def listing(job_directory, sub):
    return getattr(job_directory, "%s_directory_contents" % ("outputs" if sub == "outputs" else sub))()


@pytest.mark.parametrize("sub", sorted(LISTED))
def test_directory_replaced_by_symlink_lists_nothing(job, outside, sub):
    path = job.sub_directory(sub)
    os.rmdir(path)
    os.symlink(outside, path)
    assert listing(job, sub) == []


@pytest.mark.parametrize("sub", sorted(LISTED))
def test_symlinks_inside_are_neither_followed_out_nor_listed_out(job, outside, sub):
    directory = job.sub_directory(sub)
    open(os.path.join(directory, "real.txt"), "w").close()
    os.symlink(outside, os.path.join(directory, "linked_dir"))
    os.symlink(os.path.join(outside, SECRET_NAME), os.path.join(directory, "to_outside"))
    os.symlink(os.path.join(job.inputs_directory(), "in.txt"), os.path.join(directory, "to_input"))
    open(os.path.join(job.inputs_directory(), "in.txt"), "w").close()
    assert listing(job, sub) == ["real.txt", "to_input"]


def test_directory_linked_elsewhere_inside_the_job_is_not_listed_twice(job):
    open(os.path.join(job.working_directory(), "w.txt"), "w").close()
    os.rmdir(job.outputs_directory())
    os.symlink(job.working_directory(), job.outputs_directory())
    assert job.outputs_directory_contents() == []
    assert job.working_directory_contents() == ["w.txt"]


# -- through a real server -------------------------------------------------------------------------
def _replace_by_links(outside):
    # The job runs in working/; it swaps each listed directory for a link to ``outside``.
    return ("cd .. && rm -rf outputs metadata && ln -s {o} outputs && ln -s {o} metadata && "
            "mv working working.real && ln -s {o} working").format(o=outside)


@pytest.mark.server
def test_status_and_downloads_stay_inside_the_job(lwr_server, outside):
    lwr_server.json("POST", "jobs", {"job_id": "links"})
    assert lwr_server.request("POST", "jobs/links/submit",
                              {"command_line": _replace_by_links(outside)}) == (200, b"OK")
    status = wait_done(lwr_server, "links")
    assert status["status"] == "complete", status
    for key in LISTED.values():
        assert status[key] == [], (key, status[key])
    for file_type in ("output", "output_workdir", "output_metadata"):
        for name in (SECRET_NAME, "sub/deeper"):
            code, body = lwr_server.request("GET", "jobs/links/files", {"name": name, "type": file_type})
            assert 400 <= code < 500 and SECRET not in body, (file_type, name, code, body)
            assert json.loads(body)["error"]


@pytest.mark.server
def test_server_side_collection_pushes_nothing_from_outside(lwr_server, outside, tmp_path):
    destination = tmp_path / "galaxy_working"
    destination.mkdir()
    remote_staging = {"action_mapper": {"default_action": "remote_copy"},
                      "client_outputs": {"working_directory": str(destination), "output_files": [],
                                         "work_dir_outputs": []}}
    lwr_server.json("POST", "jobs", {"job_id": "push"})
    assert lwr_server.request("POST", "jobs/push/submit", {
        "command_line": _replace_by_links(outside), "remote_staging": json.dumps(remote_staging)}) == (200, b"OK")
    status = wait_done(lwr_server, "push")
    assert os.listdir(str(destination)) == []
    assert status["status"] == "complete", status  # nothing outside was even attempted
    assert status["working_directory_contents"] == []


@pytest.mark.server
def test_streams_replaced_by_links_are_not_read_into_the_status(lwr_server, outside):
    secret = os.path.join(outside, SECRET_NAME)
    command = ("cd ../metadata && for s in tool_stdout tool_stderr job_stdout job_stderr; do "
               "rm -f $s; ln -s {secret} $s; done; cd .. && rm -f stdout stderr && "
               "ln -s {secret} stdout && ln -s {secret} stderr").format(secret=secret)
    lwr_server.json("POST", "jobs", {"job_id": "streams"})
    assert lwr_server.request("POST", "jobs/streams/submit", {"command_line": command}) == (200, b"OK")
    status = wait_done(lwr_server, "streams")
    assert SECRET.decode().strip() not in json.dumps(status), status
    for key in ("stdout", "stderr", "job_stdout", "job_stderr"):
        assert status.get(key) in ("", None), (key, status.get(key))
