"""Pushing tool_stdout / tool_stderr, which Galaxy's job files API appends to: a retry after
a lost answer must not put the tool's output into Galaxy twice (real HTTP, the files-server
stand-in with Galaxy's append rule)."""
import os

import pytest

from lwr.lwr_client.actions import RemoteTransferAction
from lwr.lwr_client.transport import RetryPolicy, UrllibTransport
from lwr.lwr_client.transport.appending import appends, post_file_once_only
from test.support.files_server import FilesServer

STDOUT = b"tool output line 1\ntool output line 2\n" * 1000


@pytest.fixture
def files(tmp_path):
    with FilesServer(tmp_path / "galaxy") as server:
        yield server


def _url(files, path):
    return "%s&path=%s&file_type=output" % (files.url, path)


def _local(tmp_path, data=STDOUT):
    path = tmp_path / "tool_stdout"
    path.write_bytes(data)
    return str(path)


def _transport():
    return UrllibTransport(retry=RetryPolicy(attempts=4, delay=0.01))


def test_appending_names():
    assert appends("/galaxy/jobs/1/outputs/tool_stdout") and appends("tool_stderr")
    assert not appends("/galaxy/jobs/1/outputs/dataset_1.dat") and not appends("tool_stdout.txt")


def test_stand_in_appends_like_galaxy_and_a_plain_retry_duplicates(files, tmp_path):
    # The hazard itself: without the read-back, a lost answer means two copies.
    remote = os.path.join(files.root, "job", "tool_stdout")
    files.drop_answer_next = 1
    _transport().post_file(_url(files, remote), _local(tmp_path))
    assert open(remote, "rb").read() == STDOUT * 2


def test_lost_answer_is_not_sent_again(files, tmp_path):
    remote = os.path.join(files.root, "job", "tool_stdout")
    files.drop_answer_next = 1
    post_file_once_only(_transport(), _url(files, remote), _local(tmp_path))
    assert open(remote, "rb").read() == STDOUT
    posts = [r for r in files.requests if r["method"] == "POST"]
    assert len(posts) == 1


def test_existing_content_is_kept_and_extended_once(files, tmp_path):
    remote = os.path.join(files.root, "job", "tool_stderr")
    os.makedirs(os.path.dirname(remote))
    with open(remote, "wb") as handle:
        handle.write(b"written by Galaxy before\n")
    files.drop_answer_next = 1
    post_file_once_only(_transport(), _url(files, remote), _local(tmp_path))
    assert open(remote, "rb").read() == b"written by Galaxy before\n" + STDOUT


def test_a_refused_attempt_is_retried_and_lands_once(files, tmp_path):
    remote = os.path.join(files.root, "job", "tool_stdout")
    files.fail_next = 2  # the first read-back and the first POST get 503
    post_file_once_only(_transport(), _url(files, remote), _local(tmp_path))
    assert open(remote, "rb").read() == STDOUT


def test_a_permanent_refusal_is_raised(files, tmp_path):
    from lwr.lwr_client.exceptions import TransportError
    with pytest.raises(TransportError) as raised:
        post_file_once_only(_transport(), _url(files, "/etc/tool_stdout"), _local(tmp_path))
    assert raised.value.status == 403


def test_remote_transfer_action_uses_it_for_tool_streams(files, tmp_path, monkeypatch):
    monkeypatch.setenv("LWR_CLIENT_RETRY_DELAY", "0.01")
    remote = os.path.join(files.root, "job", "tool_stdout")
    files.drop_answer_next = 1
    RemoteTransferAction(remote, file_type="output", files_endpoint=files.url).write_from_path(_local(tmp_path))
    assert open(remote, "rb").read() == STDOUT
