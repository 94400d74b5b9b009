"""Disk full during an upload: an error response, a job that reads failed, no partial file."""
import json
import os
import subprocess

import pytest

from test.support.server import LwrServer
from test.support.services import require

pytestmark = [pytest.mark.server, pytest.mark.root]


@pytest.fixture
def small_disk(tmp_path):
    require(os.geteuid() == 0, "mounting a 4 MiB tmpfs needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_upload_on_full_disk_fails_the_job_cleanly(tmp_path, small_disk):
    server = LwrServer(tmp_path / "srv", app_conf={"staging_directory": str(small_disk / "staging")}).start()
    try:
        server.json("POST", "jobs", {"job_id": "full"})
        code, body = server.request("POST", "jobs/full/files", {"name": "big.dat", "type": "input"},
                                    data=os.urandom(6 * 1024 * 1024))
        assert code == 507, body
        assert "disk space" in json.loads(body)["error"]
        inputs = os.path.join(str(small_disk), "staging", "full", "inputs")
        assert os.listdir(inputs) == []  # no partial file under any name
        status = server.json("GET", "jobs/full/status")
        assert status["status"] == "failed" and status["complete"] == "true"
        assert "disk space" in status["stderr"]
        # The server keeps serving, and cleaning frees the space.
        assert server.request("DELETE", "jobs/full") == (200, b"OK")
        server.json("POST", "jobs", {"job_id": "after"})
        assert server.json("POST", "jobs/after/files", {"name": "s", "type": "input"}, data=b"ok")
    finally:
        server.stop()


def test_setup_on_full_disk_is_507_and_leaves_no_job(tmp_path, small_disk):
    staging = small_disk / "staging"
    server = LwrServer(tmp_path / "srv", app_conf={"staging_directory": str(staging)}).start()
    try:
        filler = small_disk / "filler"
        fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT)  # fill the file system to the last block
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        code, body = server.request("POST", "jobs", {"job_id": "nospace"})
        assert code == 507, body
        assert "disk space" in json.loads(body)["error"]
        assert server.json("GET", "jobs/nospace/status")["status"] == "lost"  # not stuck in preprocessing
        os.unlink(str(filler))
        assert server.json("POST", "jobs", {"job_id": "nospace"})["job_id"] == "nospace"
    finally:
        server.stop()
