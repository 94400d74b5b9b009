"""Temporary files a killed server left behind are removed when the next one starts; files of live
requests, and files that merely look alike, are never touched."""
import os
import socket
import time

import pytest

from lwr.managers.base import leftovers
from test.support.wait import wait_for, wait_for_value

STALE = ["inputs/.upload-ab3_x9z0.part", "inputs/dataset_1_files/.upload-qqqqqqqq.part",
         "configs/.cache-0a1b2c3d.part", "inputs/.input.dat.k2j4h5g6.part", "configs/.message.zz99yy88.part",
         ".final_status.1234.140245.tmp", "inputs/old.dat.cache-part"]
LOOK_ALIKES = ["working/x.part", "working/.hidden", "working/data.tmp", "working/.x.part",
               "outputs/.upload-short.part", "working/.a.1.tmp.keep", "inputs/real.dat"]


def _write(path, size=10):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"x" * size)


@pytest.fixture
def staging(tmp_path):
    directory = tmp_path / "staging"
    for sub in ("inputs", "configs", "working", "outputs"):
        (directory / "job1" / sub).mkdir(parents=True)
    return directory


def test_stale_temporaries_go_live_ones_and_look_alikes_stay(staging, tmp_path):
    job = staging / "job1"
    for name in STALE + LOOK_ALIKES:
        _write(str(job / name))
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(str(outside / ".upload-outside1.part"))
    os.symlink(str(outside), str(job / "working" / "link"))
    (staging / ".lwr-clock-abcdefgh").write_bytes(b"")  # a start mark a crash left
    time.sleep(0.05)
    started = leftovers.mark_start(str(staging))
    live = [str(job / "inputs" / ".upload-l1ve0000.part"), str(job / ".launch_config.99.1.tmp")]
    for path in live:
        _write(path)  # written by this server's requests after it started

    removed = leftovers.sweep(str(staging), started)

    assert removed == {"files": len(STALE) + 1, "bytes": 10 * len(STALE)}
    for name in STALE:
        assert not (job / name).exists(), name
    for name in LOOK_ALIKES:
        assert (job / name).exists(), name
    assert all(os.path.exists(path) for path in live)
    assert (outside / ".upload-outside1.part").exists()
    assert not (staging / ".lwr-clock-abcdefgh").exists()
    assert [n for n in os.listdir(str(staging)) if n.startswith(".lwr-clock-")] == []


def test_a_submitted_jobs_tool_directories_are_the_tools(staging):
    job = staging / "job1"
    (job / "launch_config").write_text("{}")
    tools = [str(job / "working" / ".out.abcdefgh.part"), str(job / "outputs" / ".x.1.2.tmp")]
    ours = str(job / "inputs" / ".upload-abcdefgh.part")
    for path in tools + [ours]:
        _write(path)
    time.sleep(0.05)
    leftovers.sweep(str(staging), leftovers.mark_start(str(staging)))
    assert all(os.path.exists(path) for path in tools) and not os.path.exists(ours)


def test_a_temporary_still_being_written_is_kept(staging):
    path = str(staging / "job1" / "inputs" / ".upload-w0rk1ng0.part")
    _write(path)
    started = leftovers.mark_start(str(staging))
    with open(path, "ab") as handle:  # a live upload appends after the start
        handle.write(b"more")
    assert leftovers.sweep(str(staging), started) == {"files": 0, "bytes": 0}
    assert os.path.exists(path)


# -- a real server killed in the middle of an upload -------------------------------------------------
@pytest.mark.server
def test_upload_cut_by_a_crash_is_swept_at_the_next_start(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "crash"})
    inputs = os.path.join(lwr_server.staging_directory, "crash", "inputs")
    declared = 1024 ** 3  # 1 GiB announced, 8 MiB sent, then the server is killed
    with socket.create_connection(("127.0.0.1", lwr_server.port), timeout=10) as sock:
        sock.sendall(("POST /jobs/crash/files?name=big.dat&type=input HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: %d\r\n\r\n" % declared).encode())
        chunk = b"\0" * (1024 * 1024)
        for _ in range(8):
            sock.sendall(chunk)
        wait_for(lambda: [n for n in os.listdir(inputs) if n.endswith(".part")], 10, "a partial upload",
                 interval=0.02)
        lwr_server.kill()
    partial = [n for n in os.listdir(inputs) if n.endswith(".part")]
    assert len(partial) == 1
    lwr_server.start()
    wait_for_value(lambda: os.listdir(inputs), lambda names: names == [], 15, "the partial upload to be swept")
    assert lwr_server.json("POST", "jobs/crash/files", {"name": "big.dat", "type": "input"}, data=b"ok")
    assert "removed 1 temporary files" in lwr_server.log()
