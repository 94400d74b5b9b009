"""Hostile and slow clients against a real ``paster serve`` (issue 11, items 3-6).

Request smuggling framing, request-line/header/parameter limits, malformed chunked bodies,
idle and slow connections. Loopback only; each test bounded to a few seconds.
"""
import json
import os
import socket
import time

import pytest

from test.support.server import LwrServer

pytestmark = pytest.mark.server

FAST = {"socket_timeout": "1", "min_rate": "1000", "header_timeout": "2", "keepalive_timeout": "2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LwrServer(tmp_path_factory.mktemp("door"), server_options=FAST).start()
    server.json("POST", "jobs", {"job_id": "door"})
    yield server
    server.stop()


def _connect(server, timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return sock


def _response(sock, pending=None):
    """``(status, body)`` of one response; bytes read past it stay in ``pending`` (a bytearray)."""
    data = pending if pending is not None else bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    rest = bytearray(rest)
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while length is not None and len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, extra = (bytes(rest[:length]), rest[length:]) if length is not None else (bytes(rest), b"")
    data[:] = extra
    status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/") else b""
    return status, body


def _exchange(server, raw, timeout=5.0):
    with _connect(server, timeout) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything
        return _response(sock)


def _healthz_seconds(server, timeout=5.0):
    started = time.monotonic()
    status, body = _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout)
    assert status == b"200", (status, body)
    return time.monotonic() - started


@pytest.mark.parametrize("headers,complaint", [
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", "conflicting Content-Length"),
    (b"Content-Length: 5, 6\r\n", "conflicting Content-Length"),
    (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "Content-Length and Transfer-Encoding"),
    (b"Content-Length: abc\r\n", "invalid Content-Length"),
    (b"Content-Length: -5\r\n", "invalid Content-Length"),
    (b"Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding"),
])
def test_ambiguous_body_framing_is_refused(server, headers, complaint):
    raw = b"POST /jobs?job_id=smuggle HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello!"
    status, body = _exchange(server, raw)
    assert status in (b"400", b"501"), (status, body)
    assert complaint in json.loads(body)["error"]
    assert not os.path.exists(os.path.join(server.staging_directory, "smuggle"))


@pytest.mark.parametrize("raw,expected,complaint", [
    (b"GET /healthz?" + b"a" * (100 * 1024), b"414", "max_request_line"),
    (b"GET /healthz?" + b"a=1&" * 2000 + b" HTTP/1.1\r\n\r\n", b"414", "max_query_parameters"),
    (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 1000) for i in range(80)) + b"\r\n",
     b"431", "max_header_size"),
    (b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 150 + b"\r\n", b"431", "max_headers"),
])
def test_oversized_request_heads_are_refused_at_the_limit(server, raw, expected, complaint):
    status, body = _exchange(server, raw)
    assert status == expected, (status, body[:200])
    assert complaint in json.loads(body)["error"]
    assert _healthz_seconds(server) < 2


@pytest.mark.parametrize("chunks,complaint", [
    (b"zz\r\nhello\r\n0\r\n\r\n", "bad chunk size"),
    (b"-5\r\nhello\r\n0\r\n\r\n", "bad chunk size"),
    (b"5\r\nhelloXX0\r\n\r\n", "not followed by CRLF"),
    (b"f" * 5000 + b"\r\nhello\r\n0\r\n\r\n", "longer than"),
])
def test_malformed_chunked_body_is_400_naming_the_problem(server, chunks, complaint):
    raw = (b"POST /jobs/door/files?name=c.dat&type=input HTTP/1.1\r\nHost: x\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    status, body = _exchange(server, raw)
    assert status == b"400", (status, body)
    message = json.loads(body)["error"]
    assert complaint in message and "chunked" in message
    assert not os.path.exists(os.path.join(server.staging_directory, "door", "inputs", "c.dat"))


def test_idle_and_half_sent_connections_do_not_stop_the_server(server):
    """Ten workers; sixty connections that never finish their request must not hold them."""
    idle = []
    try:
        for index in range(60):
            sock = _connect(server)
            if index % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a head
            idle.append(sock)
        keep_alive = _connect(server)  # a finished request whose connection stays open
        keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(keep_alive)[0] == b"200"
        idle.append(keep_alive)
        assert max(_healthz_seconds(server) for _ in range(5)) < 1.0
    finally:
        for sock in idle:
            sock.close()


def test_a_half_sent_head_is_answered_408_after_header_timeout(server):
    with _connect(server, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        status, body = _response(sock)
        elapsed = time.monotonic() - started
    assert status == b"408" and "header_timeout" in json.loads(body)["error"]
    assert 1.5 < elapsed < 5


def test_a_slow_sender_is_dropped_after_socket_timeout(server):
    with _connect(server, timeout=10) as sock:
        sock.sendall(b"POST /jobs/door/files?name=slow.dat&type=input HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000000\r\n\r\n" + b"x" * 100)
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 8:
            try:
                sock.sendall(b"x")  # 10 bytes/s, under min_rate = 1000
                sock.settimeout(0.1)
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            finally:
                sock.settimeout(10)
        elapsed = time.monotonic() - started
    assert closed and elapsed < 5, elapsed
    assert not os.path.exists(os.path.join(server.staging_directory, "door", "inputs", "slow.dat"))


def test_a_slow_reader_is_dropped_and_never_gets_the_whole_file(server):
    size = 64 * 1024 * 1024
    output = os.path.join(server.staging_directory, "door", "outputs", "big.dat")
    with open(output, "wb") as handle:
        handle.truncate(size)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    with sock:
        sock.sendall(b"GET /jobs/door/files?name=big.dat HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        time.sleep(4)  # read nothing: the server must give up on us
        received = 0
        try:
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                received += len(data)
        except ConnectionResetError:
            pass
    assert received < size // 2, received
    assert _healthz_seconds(server) < 1


def test_keep_alive_and_pipelined_requests_still_work(server):
    with _connect(server) as sock:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request * 3)
        pending = bytearray()
        for _ in range(3):
            status, body = _response(sock, pending)
            assert status == b"200" and b"version" in body
        sock.sendall(request)
        assert _response(sock)[0] == b"200"


@pytest.mark.parametrize("option,value", [("socket_timeout", "soon"), ("max_request_line", "-1"),
                                          ("min_rate", "nan")])
def test_a_bad_server_option_is_refused_at_start_naming_it(tmp_path, option, value):
    server = LwrServer(tmp_path, server_options={option: value})
    try:
        with pytest.raises(RuntimeError):
            server.start(timeout=15)
    finally:
        server.stop()  # in case it started after all
    lines = [line for line in server.log().splitlines() if option in line]
    assert lines and "[server:main] %s = %r" % (option, value) in lines[-1], server.log()


@pytest.mark.parametrize("variant", ["buffer", "sendfile", "tls"])
def test_a_download_the_client_pauses_is_finished_byte_exact_by_the_front_door(lwr_server_factory, variant):
    """A client that stops reading for a while moves its download from the worker to the
    event loop (for TLS with the record in flight resent as is); the bytes stay exact."""
    import hashlib
    import ssl

    options = {"use_sendfile": "true" if variant == "sendfile" else "false"}
    server = lwr_server_factory(server_options=options, ssl_pem="*" if variant == "tls" else None)
    server.json("POST", "jobs", {"job_id": "pause"})
    payload = os.urandom(1 << 20) * 32  # more than the socket buffers hold
    with open(os.path.join(server.staging_directory, "pause", "outputs", "p.dat"), "wb") as handle:
        handle.write(payload)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    if variant == "tls":
        sock = ssl._create_unverified_context().wrap_socket(sock)
    with sock:
        sock.sendall(b"GET /jobs/pause/files?name=p.dat HTTP/1.1\r\nHost: x\r\n\r\n")
        data = sock.recv(4096)
        time.sleep(1.5)  # longer than the worker's hand-off wait
        pending = bytearray(data)
        status, body = _response(sock, pending)
        assert status == b"200"
        assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # still kept alive
        assert _response(sock, pending)[0] == b"200"


def test_trickled_uploads_do_not_stop_status_requests(server):
    """Twelve uploads whose bodies never come occupy at most all workers but two."""
    uploads = []
    try:
        for index in range(12):
            sock = _connect(server)
            sock.sendall(b"POST /jobs/door/files?name=t%d.dat&type=input HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 1000000\r\n\r\nxx" % index)
            uploads.append(sock)
        time.sleep(0.2)
        assert max(_healthz_seconds(server) for _ in range(3)) < 0.5
    finally:
        for sock in uploads:
            sock.close()
