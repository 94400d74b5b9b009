"""lwr.web.resumable without HTTP: partials, their hash state, one writer at a time, the sweep."""
import errno
import hashlib
import io
import os
import threading
import time

import pytest

from lwr import file_digests
from lwr.web import resumable
from lwr.web.framework import HttpError


class GatedStream:
    """A request body that hands out ``data`` only once ``gate`` is set."""

    def __init__(self, data, gate):
        self.data = io.BytesIO(data)
        self.gate = gate

    def read(self, size=-1):
        self.gate.wait()
        return self.data.read(size)


def test_appends_in_pieces_and_commits_with_the_digest_of_the_whole(tmp_path):
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u1")
    assert resumable.partial_offset(partial) == 0
    assert resumable.append_to_partial(partial, io.BytesIO(b"hello "), 6, 0, 11) == (6, None)
    offset, digest = resumable.append_to_partial(partial, io.BytesIO(b"world"), 5, 6, 11)
    assert (offset, digest) == (11, hashlib.sha256(b"hello world").hexdigest())
    final = tmp_path / "inputs" / "a.dat"
    assert resumable.commit_partial(partial, str(final), digest, 11) == digest
    assert final.read_bytes() == b"hello world" and not os.path.exists(partial)


def test_a_range_that_does_not_start_at_the_held_offset_answers_409_with_it(tmp_path):
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u2")
    resumable.append_to_partial(partial, io.BytesIO(b"abc"), 3, 0, 10)
    with pytest.raises(resumable.OffsetMismatch) as info:
        resumable.append_to_partial(partial, io.BytesIO(b"x"), 1, 5, 10)
    assert (info.value.status, info.value.offset) == (409, 3)


def test_a_cut_body_keeps_what_arrived_and_the_hash_state_after_a_restart_is_rebuilt(tmp_path):
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u3")
    with pytest.raises(HttpError) as info:
        resumable.append_to_partial(partial, io.BytesIO(b"12345"), 10, 0, 10)
    assert info.value.status == 408 and resumable.partial_offset(partial) == 5
    resumable._STATES.clear()  # what a server restart loses
    assert resumable.append_to_partial(partial, io.BytesIO(b"67890"), 5, 5, 10)[1] == \
        hashlib.sha256(b"1234567890").hexdigest()


def test_a_wrong_client_digest_removes_the_partial_and_names_both(tmp_path):
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u4")
    resumable.append_to_partial(partial, io.BytesIO(b"data"), 4, 0, 4)
    with pytest.raises(HttpError) as info:
        resumable.commit_partial(partial, str(tmp_path / "a.dat"), "0" * 64, 4)
    assert info.value.status == 422
    assert "0" * 64 in info.value.message and hashlib.sha256(b"data").hexdigest() in info.value.message
    assert not os.path.exists(partial) and not os.path.exists(tmp_path / "a.dat")


def test_one_writer_per_partial(tmp_path, monkeypatch):
    """A writer that cannot be stopped (no ``abort``) keeps the partial: the newer request gets 409."""
    monkeypatch.setattr(resumable, "TAKEOVER_GRACE_SECONDS", 0.1)
    monkeypatch.setattr(resumable, "WRITER_WAIT_SECONDS", 0.2)
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u5")
    gate = threading.Event()
    first = threading.Thread(target=resumable.append_to_partial,
                             args=(partial, GatedStream(b"abcd", gate), 4, 0, 8))
    first.start()
    try:
        with pytest.raises(resumable.OffsetMismatch):
            resumable.append_to_partial(partial, io.BytesIO(b"efgh"), 4, 0, 8)
    finally:
        gate.set()
        first.join()
    assert resumable.append_to_partial(partial, io.BytesIO(b"efgh"), 4, 4, 8)[0] == 8


class DeadConnection:
    """A request body whose connection went quiet after ``data``: reads block until ``abort``
    (what shutting the socket down does to a blocked read: the end of the stream)."""

    def __init__(self, data):
        self.data = io.BytesIO(data)
        self.gone = threading.Event()
        self.aborted = 0

    def abort(self):
        self.aborted += 1
        self.gone.set()

    def read(self, size=-1):
        block = self.data.read(size)
        if block:
            return block
        self.gone.wait()
        return b""


def _writing(partial, stream, length, total):
    """``append_to_partial`` in a thread; the list gets its HttpError status (or the result)."""
    outcome = []

    def run():
        try:
            outcome.append(resumable.append_to_partial(partial, stream, length, 0, total, abort=stream.abort))
        except HttpError as exc:
            outcome.append(exc.status)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_newer_request_takes_the_partial_from_a_writer_on_a_dead_connection(tmp_path, monkeypatch):
    monkeypatch.setattr(resumable, "TAKEOVER_GRACE_SECONDS", 0.2)
    monkeypatch.setattr(resumable, "WRITER_WAIT_SECONDS", 5)
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u6")
    stream = DeadConnection(b"abcd")
    thread, outcome = _writing(partial, stream, 8, 8)
    while stream.data.tell() < 4:  # read (in the file's buffer until the writer lets go)
        time.sleep(0.01)
    started = time.monotonic()
    assert resumable.settled_offset(partial) == 4  # the offset query stops the dead writer
    assert time.monotonic() - started < 2 and stream.aborted == 1
    thread.join(2)
    assert outcome == [408]
    assert resumable.append_to_partial(partial, io.BytesIO(b"efgh"), 4, 4, 8)[1] == \
        hashlib.sha256(b"abcdefgh").hexdigest()


def test_an_upload_request_takes_over_too_and_a_writer_that_finishes_in_the_grace_is_left_be(tmp_path,
                                                                                            monkeypatch):
    monkeypatch.setattr(resumable, "TAKEOVER_GRACE_SECONDS", 0.2)
    monkeypatch.setattr(resumable, "WRITER_WAIT_SECONDS", 5)
    partial = resumable.partial_path(str(tmp_path), "input", "a.dat", "u7")
    stream = DeadConnection(b"ab")
    thread, outcome = _writing(partial, stream, 4, 4)
    while stream.data.tell() < 2:
        time.sleep(0.01)
    assert resumable.append_to_partial(partial, io.BytesIO(b"cd"), 2, 2, 4)[0] == 4
    thread.join(2)
    assert outcome == [408] and stream.aborted == 1
    # a writer storing its last bytes (slow disk, a network buffer to drain) is waited for, not stopped
    other = resumable.partial_path(str(tmp_path), "input", "b.dat", "u8")
    gate = threading.Event()
    slow = GatedStream(b"wxyz", gate)
    slow.abort = lambda: pytest.fail("a writer finishing within the grace was stopped")
    thread, outcome = _writing(other, slow, 4, 4)
    threading.Timer(0.05, gate.set).start()
    assert resumable.settled_offset(other) in (0, 4)  # 0 only if asked before the writer started
    thread.join(2)
    assert resumable.settled_offset(other) == 4 and outcome[0][0] == 4


def test_the_sweep_removes_only_partials_idle_past_the_timeout(tmp_path):
    old = resumable.partial_path(str(tmp_path), "input", "a", "old")
    new = resumable.partial_path(str(tmp_path), "input", "a", "new")
    for path in (old, new):
        resumable.append_to_partial(path, io.BytesIO(b"x"), 1, 0, 2)
    os.utime(old, (1000, 1000))
    assert resumable.sweep_partials(str(tmp_path), 3600) == 1
    assert not os.path.exists(old) and os.path.exists(new)
    assert resumable.sweep_partials(str(tmp_path / "missing"), 1) == 0


@pytest.mark.parametrize("text, expected", [
    ("bytes 0-9/10", (0, 9, 10)), ("bytes */10", (None, None, 10)), ("", None), (None, None)])
def test_content_range_parsing(text, expected):
    assert resumable.parse_content_range(text) == expected


@pytest.mark.parametrize("text", ["bytes 9-0/10", "bytes 0-10/10", "bytes=0-9/10", "items 0-1/2", "bytes 0-1/*"])
def test_bad_content_ranges_are_400(text):
    with pytest.raises(HttpError) as info:
        resumable.parse_content_range(text)
    assert info.value.status == 400


def _digest_of_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_a_recorded_digest_lives_in_an_extended_attribute_and_follows_the_file(tmp_path):
    job = tmp_path / "job"
    (job / "outputs").mkdir(parents=True)
    path = job / "outputs" / "o.dat"
    path.write_bytes(b"abc" * 1000)
    file_digests.record_digest(str(job), str(path), "0" * 64)  # deliberately not the real digest
    assert b"0" * 64 in os.getxattr(str(path), file_digests.DIGEST_XATTR)
    assert not (job / file_digests.DIGEST_DIRECTORY).exists()  # no record file where xattrs work
    with open(path, "rb") as handle:
        assert file_digests.cached_digest(str(job), str(path), handle) == "0" * 64  # the record, unread
    with open(path, "ab") as handle:
        handle.write(b"more")  # the file changed: its digest is computed again and recorded
    with open(path, "rb") as handle:
        assert file_digests.cached_digest(str(job), str(path), handle) == _digest_of_file(path)
    with open(path, "rb") as handle:
        assert file_digests.cached_digest(str(job), str(path), handle) == _digest_of_file(path)


def test_without_extended_attributes_the_digest_is_recorded_in_the_job_directory(tmp_path, monkeypatch):
    def refuse(*args, **kwds):  # a file system without user xattrs (the OS edge, faked)
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", refuse)
    monkeypatch.setattr(os, "getxattr", refuse)
    job = tmp_path / "job"
    job.mkdir()
    path = job / "o.dat"
    path.write_bytes(b"xyz")
    file_digests.record_digest(str(job), str(path), "1" * 64)
    assert len(os.listdir(job / file_digests.DIGEST_DIRECTORY)) == 1
    with open(path, "rb") as handle:
        assert file_digests.cached_digest(str(job), str(path), handle) == "1" * 64
