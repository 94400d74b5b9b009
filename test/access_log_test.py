"""The access log: one line per request with its byte counts and duration, token masked."""
import http.client
import os
import re
import socket
import time

import pytest

TOKEN = "access-log-token-1234"
LINE = re.compile(r"\[lwr\.access\] (?P<addr>\S+) (?P<method>[A-Z]+) (?P<target>\S+) (?P<status>\d{3}|-) "
                  r"in=(?P<bytes_in>\d+) out=(?P<bytes_out>\d+) (?P<seconds>\d+\.\d{3})s$")

pytestmark = pytest.mark.server


@pytest.fixture
def server(lwr_server_factory):
    return lwr_server_factory(app_conf={"private_key": TOKEN})


def _access_lines(server, fragment, count=1, timeout=10.0):
    """The parsed access-log lines whose target contains ``fragment`` (waits for ``count``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in (LINE.search(line) for line in server.log().splitlines()) if m]
        found = [m for m in found if fragment in m.group("target")]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _setup(server, job_id):
    assert server.json("POST", "jobs", {"job_id": job_id})["job_id"] == job_id


def test_upload_logs_request_bytes_and_masks_token(server):
    _setup(server, "acc1")
    body = os.urandom(3 * 1024 * 1024 + 17)
    status, answer = server.request("POST", "jobs/acc1/files", {"name": "in.dat", "type": "input"}, data=body)
    assert status == 200, answer
    (line,) = _access_lines(server, "/jobs/acc1/files")
    assert line.group("method") == "POST" and line.group("status") == "200"
    assert int(line.group("bytes_in")) == len(body)
    assert int(line.group("bytes_out")) == len(answer)
    assert "private_key=********" in line.group("target")
    assert TOKEN not in server.log()


def test_chunked_upload_counts_what_was_read(server):
    _setup(server, "acc2")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    pieces = [b"a" * 100000, b"b" * 5, b"c" * 70000]
    connection.request("POST", "/jobs/acc2/files?name=c.dat&type=input&private_key=" + TOKEN,
                       body=iter(pieces), encode_chunked=True,
                       headers={"Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    assert response.status == 200, answer
    (line,) = _access_lines(server, "/jobs/acc2/files")
    assert int(line.group("bytes_in")) == sum(map(len, pieces))
    assert int(line.group("bytes_out")) == len(answer)


def test_download_logged_after_the_body_was_sent(server):
    """A download is logged once the server closed it: its size, and a duration covering the
    transfer to a client that reads slowly."""
    _setup(server, "acc3")
    outputs = os.path.join(server.staging_directory, "acc3", "outputs")
    os.makedirs(outputs, exist_ok=True)
    size = 16 * 1024 * 1024
    with open(os.path.join(outputs, "big.out"), "wb") as handle:
        handle.write(b"x" * size)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.connect()
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # socket buffers hide less
    connection.request("GET", "/jobs/acc3/files?name=big.out&private_key=" + TOKEN)
    response = connection.getresponse()
    received = 0
    started = time.monotonic()
    while True:
        block = response.read(512 * 1024)
        if not block:
            break
        received += len(block)
        time.sleep(0.05)  # ~10 MiB/s
    elapsed = time.monotonic() - started
    connection.close()
    assert received == size
    (line,) = _access_lines(server, "/jobs/acc3/files")
    assert line.group("method") == "GET" and line.group("status") == "200"
    assert int(line.group("bytes_in")) == 0
    assert int(line.group("bytes_out")) == size
    assert float(line.group("seconds")) >= elapsed * 0.5, (line.group(0), elapsed)


def test_error_answers_are_logged_with_their_size(server):
    status, answer = server.request("GET", "jobs/nosuch/status", token=False)
    assert status == 401
    (line,) = _access_lines(server, "/jobs/nosuch/status")
    assert line.group("status") == "401"
    assert int(line.group("bytes_out")) == len(answer)


def test_levels_print_in_full():
    """The sample's formatter no longer cuts WARNING to WARNI."""
    import configparser
    from test.support.server import REPO_ROOT

    parser = configparser.RawConfigParser()
    parser.read(os.path.join(REPO_ROOT, "server.ini.sample"))
    for section in parser.sections():
        if section.startswith("formatter_"):
            assert re.search(r"%\(levelname\)s", parser.get(section, "format")), section
            assert not re.search(r"%\(levelname\)-?\d", parser.get(section, "format")), section
