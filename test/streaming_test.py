"""Large, chunked, 100-continue and HTTPS transfers through a real server."""
import hashlib
import http.client
import json
import os
import socket
import ssl
import threading
import time

import psutil
import pytest

from test.support.wait import wait_for_value

pytestmark = pytest.mark.server

BLOCK = os.urandom(1024 * 1024)


def _blocks(total):
    """Deterministic pseudo-random data: each MiB differs (index prefix), generated on the fly."""
    for index in range(total // len(BLOCK)):
        yield index.to_bytes(8, "big") + BLOCK[8:]


class _Body:
    """A file-like request body of ``total`` bytes that never exists in memory at once."""

    def __init__(self, total):
        self.iterator = _blocks(total)
        self.digest = hashlib.sha256()

    def read(self, size=-1):
        chunk = next(self.iterator, b"")
        self.digest.update(chunk)
        return chunk


def _connection(server):
    if server.ssl_pem:
        return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=120,
                                           context=ssl._create_unverified_context())
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.start_rss = self.process.memory_info().rss
        self.peak = self.start_rss
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.join()
        return (self.peak - self.start_rss) / 2 ** 20


@pytest.mark.slow
def test_two_gib_upload_and_download_stream_with_flat_rss(lwr_server):
    total = 2 * 1024 ** 3
    lwr_server.json("POST", "jobs", {"job_id": "big"})
    sampler = RssSampler(lwr_server.pid)
    sampler.start()
    body = _Body(total)
    connection = _connection(lwr_server)
    connection.request("POST", "/jobs/big/files?name=big.dat&type=output", body=body,
                       headers={"Content-Length": str(total)})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    path = json.loads(response.read())["path"]
    assert os.path.getsize(path) == total
    connection.request("GET", "/jobs/big/files?name=big.dat")
    response = connection.getresponse()
    assert response.status == 200
    assert int(response.getheader("Content-Length")) == total
    downloaded = hashlib.sha256()
    received = 0
    while True:
        chunk = response.read(4 * 1024 * 1024)
        if not chunk:
            break
        received += len(chunk)
        downloaded.update(chunk)
    growth = sampler.stop()
    assert received == total
    assert downloaded.hexdigest() == body.digest.hexdigest()
    assert growth < 60, "server RSS grew by %.1f MiB" % growth
    os.unlink(path)


@pytest.mark.parametrize("use_sendfile", ["false", "true"])
def test_download_is_byte_exact_with_either_send_path(tmp_path, use_sendfile):
    from test.support.server import LwrServer
    size = 5 * 1024 * 1024 + 12345  # not a multiple of the 1 MiB buffer
    payload = os.urandom(size)
    server = LwrServer(tmp_path / "srv", server_options={"use_sendfile": use_sendfile}).start()
    try:
        server.json("POST", "jobs", {"job_id": "dl"})
        path = os.path.join(server.staging_directory, "dl", "outputs", "o.dat")
        with open(path, "wb") as handle:
            handle.write(payload)
        connection = _connection(server)
        for _ in range(2):  # keep-alive: the second response starts where the first ended
            connection.request("GET", "/jobs/dl/files?name=o.dat")
            response = connection.getresponse()
            assert response.status == 200
            assert int(response.getheader("Content-Length")) == size
            assert hashlib.sha256(response.read()).digest() == hashlib.sha256(payload).digest()
        connection.close()
    finally:
        server.stop()


def _raw_request(server, head: bytes, body_parts=(), wait_for_continue=False):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(head)
        if wait_for_continue:
            interim = sock.recv(1024)
            assert interim.startswith(b"HTTP/1.1 100"), interim
        for part in body_parts:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, rest = data.split(b"\r\n\r\n", 1)
        length = int([l for l in header.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
                     .split(b":")[1])
        while len(rest) < length:
            rest += sock.recv(65536)
        return header.split(b" ")[1], rest
    finally:
        sock.close()


def test_chunked_upload_is_stored_completely(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "ch"})
    payload = os.urandom(300000)
    parts = [payload[i:i + 70000] for i in range(0, len(payload), 70000)]
    encoded = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]
    head = (b"POST /jobs/ch/files?name=c.dat&type=input HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    status, body = _raw_request(lwr_server, head, encoded)
    assert status == b"200", body
    assert open(json.loads(body)["path"], "rb").read() == payload


def test_expect_100_continue(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "ex"})
    payload = os.urandom(200000)
    head = (b"POST /jobs/ex/files?name=e.dat&type=input HTTP/1.1\r\nHost: x\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(payload))
    status, body = _raw_request(lwr_server, head, [payload], wait_for_continue=True)
    assert status == b"200", body
    assert open(json.loads(body)["path"], "rb").read() == payload


def test_interrupted_upload_leaves_no_file(lwr_server):
    lwr_server.json("POST", "jobs", {"job_id": "cut"})
    sock = socket.create_connection(("127.0.0.1", lwr_server.port))
    sock.sendall(b"POST /jobs/cut/files?name=cut.dat&type=input HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 1000000\r\n\r\n" + b"x" * 1000)
    sock.close()
    inputs = os.path.join(lwr_server.staging_directory, "cut", "inputs")
    wait_for_value(lambda: os.listdir(inputs), lambda names: names == [], 5, "the cut upload to be removed")


@pytest.mark.parametrize("pem", ["*", "file"])
def test_https_bodies_over_16k(lwr_server_factory, tmp_path, pem):
    if pem == "file":
        from lwr.web.httpserver import self_signed_pem
        pem = self_signed_pem(str(tmp_path / "host.pem"))
    server = lwr_server_factory(ssl_pem=pem, app_conf={"private_key": "tok"})
    assert server.url.startswith("https://")
    server.json("POST", "jobs", {"job_id": "tls"})
    for size in (10, 17000, 3 * 1024 * 1024):
        payload = os.urandom(size)
        result = server.json("POST", "jobs/tls/files", {"name": "f%d" % size, "type": "output"}, data=payload)
        assert open(result["path"], "rb").read() == payload
        assert server.request("GET", "jobs/tls/files", {"name": "f%d" % size}) == (200, payload)


def test_plain_paste_server_refuses_chunked_instead_of_storing_nothing(lwr_server_factory):
    """Under ``egg:Paste#http`` (a 2014 server.ini) a chunked body would arrive empty: 411 instead."""
    server = lwr_server_factory(server_use="egg:Paste#http", app_factory="lwr.app:app_factory")
    server.json("POST", "jobs", {"job_id": "old"})
    assert server.json("POST", "jobs/old/files", {"name": "a", "type": "input"}, data=b"sized body")
    head = (b"POST /jobs/old/files?name=c.dat&type=input HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    status, body = _raw_request(server, head, [b"5\r\nhello\r\n0\r\n\r\n"])
    assert status == b"411", body
    assert "chunked" in json.loads(body)["error"]
    assert not os.path.exists(os.path.join(server.staging_directory, "old", "inputs", "c.dat"))


def test_a_refused_large_upload_gets_its_answer_not_a_reset(lwr_server):
    # The server answers 404 without reading the 32 MiB body; it must read and drop the rest
    # before closing, or the client's send fails with "connection reset" instead of the 404.
    for _ in range(3):
        code, body = lwr_server.request("POST", "jobs/nosuchjob/files", {"name": "x", "type": "input"},
                                        data=os.urandom(32 * 1024 * 1024))
        assert code == 404 and b"nosuchjob" in body, (code, body[:200])
