"""File cache: one uploader per (ip, path), atomic insertion, durable claims (spec §8)."""
import hashlib
import io
import os
import threading

import pytest

from lwr.cache import CHUNK_SIZE, Cache


@pytest.fixture
def cache(tmp_path):
    return Cache(str(tmp_path / "cache"))


def test_cache_required_only_for_first_caller(cache):
    assert cache.cache_required("127.0.0.2", "/galaxy/dataset1.dat")
    assert not cache.cache_required("127.0.0.2", "/galaxy/dataset1.dat")
    assert cache.cache_required("127.0.0.3", "/galaxy/dataset1.dat")
    assert cache.cache_required("127.0.0.2", "/galaxy/dataset2.dat")


def test_token_is_wire_compatible(cache):
    expected = hashlib.sha256(b"IP:127.0.0.2:/galaxy/dataset1.dat").hexdigest()
    assert cache.file_available("127.0.0.2", "/galaxy/dataset1.dat") == {"token": expected, "ready": False}


def test_file_ready_only_after_caching(cache, tmp_path):
    assert cache.cache_required("127.0.0.2", "/galaxy/dataset1.dat")
    assert not cache.file_available("127.0.0.2", "/galaxy/dataset1.dat")["ready"]
    local = tmp_path / "upload"
    local.write_bytes(b"Hello World!")
    cache.cache_file(str(local), "127.0.0.2", "/galaxy/dataset1.dat")
    available = cache.file_available("127.0.0.2", "/galaxy/dataset1.dat")
    assert available["ready"]
    with open(cache.destination(available["token"]), "rb") as handle:
        assert handle.read() == b"Hello World!"


class CountingReader(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.sizes = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def test_cache_stream_copies_in_chunks_and_leaves_no_temp_files(cache):
    data = os.urandom(CHUNK_SIZE * 2 + 17)
    reader = CountingReader(data)
    path = cache.cache_stream(reader, "::1", "/data/big")
    assert reader.sizes and all(size == CHUNK_SIZE for size in reader.sizes)
    with open(path, "rb") as handle:
        assert handle.read() == data
    assert [n for n in os.listdir(cache.cache_directory) if "_TMP" in n] == []
    assert cache.file_available("::1", "/data/big")["ready"]


class FailingReader:
    def __init__(self):
        self.calls = 0

    def read(self, size=-1):
        self.calls += 1
        if self.calls > 1:
            raise ConnectionResetError("client went away")
        return b"partial"


def test_failed_upload_leaves_nothing_and_frees_the_claim(cache):
    assert cache.cache_required("1.2.3.4", "/a")
    with pytest.raises(ConnectionResetError):
        cache.cache_stream(FailingReader(), "1.2.3.4", "/a")
    assert not cache.file_available("1.2.3.4", "/a")["ready"]
    assert os.listdir(cache.cache_directory) == ["cache.sqlite3"]
    assert cache.cache_required("1.2.3.4", "/a")


def test_claims_survive_restart(tmp_path):
    directory = str(tmp_path / "cache")
    assert Cache(directory).cache_required("10.0.0.1", "/x")
    restarted = Cache(directory)
    assert not restarted.cache_required("10.0.0.1", "/x")


def test_concurrent_callers_get_exactly_one_true(cache):
    results = []
    barrier = threading.Barrier(8)

    def claim():
        barrier.wait()
        results.append(cache.cache_required("10.0.0.1", "/same"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.parametrize("token", [
    "", "../" + "a" * 61, "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 64 + "\n", "/" + "a" * 63, None, 42,
])
def test_destination_rejects_malformed_tokens(cache, token):
    with pytest.raises(ValueError):
        cache.destination(token)


def test_destination_is_inside_cache_dir(cache):
    token = "0123456789abcdef" * 4
    assert cache.destination(token) == os.path.join(cache.cache_directory, token)
