"""A resumed upload must not wait for the request whose connection was cut (a real ``paster
serve`` LWR behind :class:`~test.support.tcp_proxy.FaultyProxy`).

The bench's ``--cut-at`` mode once hung a minute: the client asked the offset while the cut
request's worker was still storing what the network had buffered, so it resumed from a stale
offset; the server answered 409 without reading that body and the client, still sending,
stalled until its timeout (on the proxy's zero window: ``test/tcp_proxy_test.py``). Now the
offset route answers once no earlier request writes the partial (one still blocked on a dead
connection is stopped after a second), and a newer upload request takes the partial over the
same way.
"""
import hashlib
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

from lwr.lwr_client.client import JobClient
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.transport import RetryPolicy, UrllibTransport
from test.support.tcp_proxy import CUTS, Fault, FaultyProxy

pytestmark = pytest.mark.server

TOKEN = "takeover-token-1234"
MIB = 1024 * 1024
SIZE = 24 * MIB
#: A resumed upload of SIZE on loopback takes well under a second; a wait on the cut request's
#: worker took 30 s (the lock) or 60 s (the client's timeout).
QUICK = 6.0


@pytest.fixture
def server(lwr_server_factory):
    return lwr_server_factory(app_conf={"private_key": TOKEN})


def make_file(path, size):
    block = os.urandom(MIB)
    with open(path, "wb") as handle:
        for index in range(size // MIB):
            handle.write(index.to_bytes(8, "big") + block[8:])
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def job_client(url, job_id):
    """A client that would fail the test's time limit, not hang it: 5 s per socket call."""
    transport = UrllibTransport(timeout=5, retry=RetryPolicy(attempts=6, delay=0.05, max_delay=0.2, budget=10))
    destination = {"url": url, "private_token": TOKEN}
    client = JobClient(destination, job_id, HttpLwrInterface(destination, transport))
    client.setup()
    return client


@pytest.mark.parametrize("how", CUTS)
@pytest.mark.parametrize("cut", (0.1, 0.5, 0.9))
def test_an_upload_cut_any_way_resumes_at_once(server, tmp_path, how, cut):
    source = tmp_path / "big.dat"
    digest = make_file(source, SIZE)
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    try:
        client = job_client("http://127.0.0.1:%d/" % proxy.port, "cut-" + how)
        proxy.add_fault(Fault("up", cut=int(SIZE * cut), how=how))
        started = time.monotonic()
        answer = client.put_file(str(source), "input")
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    assert answer["sha256"] == digest
    assert elapsed < QUICK, "the upload cut (%s) at %d%% took %.1f s" % (how, 100 * cut, elapsed)
    assert proxy.moved["up"] <= 1.2 * SIZE


def _post(url, body, headers, timeout):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_offset_waits_for_a_writer_on_a_half_open_connection_only_briefly(server, tmp_path):
    """The cut request's connection stays open and silent (a lost network); the offset counts
    every byte it delivered and the rest goes on at once (was: a 30 s wait for the lock)."""
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    query = "jobs/half/files?job_id=half&name=a.dat&type=input&upload_id=u1&private_key=" + TOKEN
    url = server.url + query
    server.json("POST", "jobs", {"job_id": "half"})
    sent = 4 * MIB
    proxy.add_fault(Fault("up", cut=sent + 300, how="half-open"))  # the head, then 4 MiB of the body
    proxied = "http://127.0.0.1:%d/%s" % (proxy.port, query)
    headers = {"Content-Type": "application/octet-stream"}
    first = threading.Thread(target=lambda: _try(lambda: _post(proxied, b"x" * SIZE, headers, 5)), daemon=True)
    try:
        first.start()
        time.sleep(0.5)  # the 4 MiB are through; the server's worker waits for more
        started = time.monotonic()
        offset = server.json("GET", "jobs/half/files/offset",
                             {"job_id": "half", "name": "a.dat", "type": "input", "upload_id": "u1"})["offset"]
        asked = time.monotonic() - started
        rest = dict(headers, **{"Content-Range": "bytes %d-%d/%d" % (offset, SIZE - 1, SIZE)})
        status = _post(url, b"x" * (SIZE - offset), rest, 5)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
        first.join(5)
    assert sent < offset < sent + 300  # the body bytes of the 4 MiB + 300 relayed, all of them
    assert status == 200 and asked < 3 and elapsed < QUICK, (status, asked, elapsed)


def _try(step):
    try:
        step()
    except OSError:
        pass
