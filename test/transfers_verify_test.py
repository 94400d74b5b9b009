"""Verification switched on and off, and the one-request upload of small files
(docs/transfers.rst), against a real ``paster serve`` LWR behind a :class:`FaultyProxy`."""
import base64
import hashlib
import json
import os
import urllib.error
import urllib.request

import pytest

from lwr.lwr_client.client import JobClient
from lwr.lwr_client.digests import THREAD_THRESHOLD
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.manager import build_client_manager, destination_transport
from lwr.lwr_client.transport import RetryPolicy, UrllibTransport, get_transport
from lwr.lwr_client.transport.resumable import DigestMismatch
from lwr.lwr_client.transport.standard import transfer_verify_default
from test.support.tcp_proxy import Fault, FaultyProxy
from test.transfers_test import MIB, TOKEN, TRANSPORTS, make_file, partials, server_path, sha256_of

pytestmark = pytest.mark.server


@pytest.fixture
def server(lwr_server_factory):
    return lwr_server_factory(app_conf={"private_key": TOKEN})


def client_through(proxy, job_id, verify=True, transport="urllib"):
    transport = get_transport(transport, timeout=60, retry=RetryPolicy(attempts=8, delay=0.2, max_delay=1.0),
                              verify=verify)
    destination = {"url": "http://127.0.0.1:%d/" % proxy.port, "private_token": TOKEN}
    client = JobClient(destination, job_id, HttpLwrInterface(destination, transport))
    client.setup()
    return client


def post(server, query, body=b"", headers=None):
    url = "http://127.0.0.1:%d/jobs%s&private_key=%s" % (server.port, query, TOKEN)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def header_of(digest):
    return "sha-256=:%s:" % base64.b64encode(bytes.fromhex(digest)).decode()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("size", [0, 1, 2 * MIB])
def test_a_small_file_is_uploaded_and_committed_in_one_request(server, tmp_path, size, transport):
    source = tmp_path / "small.dat"
    digest = make_file(source, size)
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    client = client_through(proxy, "one1", transport=transport)
    before = proxy.connections
    answer = client.put_file(str(source), "input")
    proxy.close()
    assert proxy.connections - before == 1  # no separate commit request
    assert answer["sha256"] == digest and answer["complete"] is True
    assert sha256_of(server_path(server, "one1", "inputs", "small.dat")) == digest
    assert partials(server, "one1") == []


def test_a_large_file_still_sends_its_digest_with_a_commit(server, tmp_path):
    source = tmp_path / "large.dat"
    digest = make_file(source, 12 * MIB)
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    client = client_through(proxy, "two1")
    before = proxy.connections
    answer = client.put_file(str(source), "input")
    proxy.close()
    assert proxy.connections - before == 2  # the streamed body, then the commit with the digest
    assert answer["sha256"] == digest


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("size", [2 * MIB, 12 * MIB])
def test_verification_off_resumes_but_compares_nothing(server, tmp_path, size, transport):
    """A corrupting link goes unnoticed with verification off (nothing is hashed on the
    client), while a cut large file is still resumed rather than restarted (a small one is
    sent in one request, and again whole after a cut)."""
    source = tmp_path / "in.dat"
    digest = make_file(source, size)
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    client = client_through(proxy, "off1", verify=False, transport=transport)
    proxy.add_fault(Fault("up", corrupt=size - 100))
    answer = client.put_file(str(source), "input")
    stored = server_path(server, "off1", "inputs", "in.dat")
    assert os.path.getsize(stored) == size and sha256_of(stored) != digest  # taken as it came
    assert answer["sha256"] == sha256_of(stored)  # the server still says what it received

    sent_before = proxy.moved["up"]
    proxy.add_fault(Fault("up", cut=size // 2))
    answer = client.put_file(str(source), "input", name="again.dat")
    assert sha256_of(server_path(server, "off1", "inputs", "again.dat")) == digest
    if size >= THREAD_THRESHOLD:
        assert proxy.moved["up"] - sent_before <= 1.1 * size  # resumed, not sent again from zero
    else:
        assert 1.4 * size <= proxy.moved["up"] - sent_before <= 1.6 * size  # half, then all of it

    output = server_path(server, "off1", "outputs", "o.dat")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    make_file(output, size)
    proxy.add_fault(Fault("down", corrupt=size // 3))
    client.fetch_output(str(tmp_path / "o.dat"), "o.dat")
    proxy.close()
    assert sha256_of(tmp_path / "o.dat") != sha256_of(output)


def test_verification_on_catches_what_off_lets_through(server, tmp_path):
    source = tmp_path / "in.dat"
    make_file(source, 2 * MIB)
    proxy = FaultyProxy(("127.0.0.1", server.port)).start()
    client = client_through(proxy, "on1", verify=True)
    proxy.always = Fault("up", corrupt=MIB)
    with pytest.raises(DigestMismatch):
        client.put_file(str(source), "input")
    proxy.close()
    assert not os.path.exists(server_path(server, "on1", "inputs", "in.dat"))


def test_a_data_request_with_a_wrong_digest_is_refused_and_its_partial_dropped(server):
    assert post(server, "?job_id=dig1")[0] == 200
    body = b"x" * 1000
    status, answer = post(server, "/dig1/files?job_id=dig1&name=a.dat&type=input&upload_id=u1", body,
                          {"Repr-Digest": header_of(hashlib.sha256(b"other").hexdigest())})
    assert status == 422 and hashlib.sha256(body).hexdigest() in answer["error"]
    assert not os.path.exists(server_path(server, "dig1", "inputs", "a.dat"))
    assert partials(server, "dig1") == []
    status, answer = post(server, "/dig1/files?job_id=dig1&name=a.dat&type=input&upload_id=u2", body,
                          {"Repr-Digest": "sha-256=:not base64:"})
    assert status == 400 and "Repr-Digest" in answer["error"]


def test_a_commit_without_a_digest_is_an_unverified_commit(server):
    assert post(server, "?job_id=dig2")[0] == 200
    body = b"y" * 5000
    status, answer = post(server, "/dig2/files?job_id=dig2&name=b.dat&type=input&upload_id=u1", body)
    assert status == 200 and answer["complete"] is False and answer["sha256"] == hashlib.sha256(body).hexdigest()
    status, answer = post(server, "/dig2/files?job_id=dig2&name=b.dat&type=input&upload_id=u1&commit=true",
                          headers={"Content-Range": "bytes */5000"})
    assert status == 200 and answer["complete"] is True
    with open(server_path(server, "dig2", "inputs", "b.dat"), "rb") as handle:
        assert handle.read() == body


def test_verify_transfers_destination_parameter():
    transport = UrllibTransport(verify=True)
    assert destination_transport(transport, {"verify_transfers": "false"}).verify is False
    assert destination_transport(transport, {"verify_transfers": "true"}).verify is True
    assert destination_transport(transport, {}) is transport
    with pytest.raises(ValueError, match="verify_transfers"):
        destination_transport(transport, {"verify_transfers": "maybe"})
    assert transport.verify is True  # the shared transport is not changed
    client = build_client_manager().get_client({"url": "http://127.0.0.1:1/", "verify_transfers": "no"}, "x")
    assert client.job_manager_interface.transport.verify is False


def test_verify_default_from_the_environment():
    assert transfer_verify_default({}) is True
    assert transfer_verify_default({"LWR_VERIFY_TRANSFERS": "0"}) is False
    assert transfer_verify_default({"LWR_VERIFY_TRANSFERS": "false"}) is False


def test_a_download_answers_no_digest_to_a_client_that_does_not_want_one(server, tmp_path):
    client_through(FaultyProxy(("127.0.0.1", server.port)).start(), "want1")  # sets the job up
    output = server_path(server, "want1", "outputs", "o.dat")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    digest = make_file(output, 3 * MIB)
    url = "http://127.0.0.1:%d/jobs/want1/files?job_id=want1&name=o.dat&type=output&private_key=%s" % (
        server.port, TOKEN)
    for want, expected in ((None, True), ("sha-256=0", False), ("sha-256=3", True), ("sha-512=0", True)):
        request = urllib.request.Request(url, headers={"Want-Repr-Digest": want} if want else {})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert hashlib.sha256(response.read()).hexdigest() == digest
            assert (response.headers.get("Repr-Digest") == header_of(digest)) is expected, want
