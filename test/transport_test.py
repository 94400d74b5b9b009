"""Both transports against a real tiny HTTP server on loopback (no mocks)."""
import hashlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lwr.lwr_client.digests import repr_digest
from lwr.lwr_client.exceptions import DigestMismatch, ServerRefusedToken, ServerUnavailable, TransportError
from lwr.lwr_client.transport import RetryPolicy, get_transport, mask_url, pycurl_available, transport_type
from test.support.files_server import FilesServer
from test.support.server import free_port
from test.support.services import require

TRANSPORTS = ["urllib", "curl"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _script(self):
        stub = self.server.stub
        body = b""
        length = self.headers.get("Content-Length")
        if length is not None:
            remaining = int(length)
            chunks = []
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            body = b"".join(chunks)
        stub.requests.append({"method": self.command, "path": self.path, "body": body,
                              "content_length": length,
                              "transfer_encoding": self.headers.get("Transfer-Encoding"),
                              "headers": dict(self.headers)})
        action = stub.responses.pop(0) if stub.responses else stub.default
        return action

    def _handle(self):
        status, payload, mode = self._script()
        if mode == "sleep":
            time.sleep(1.0)
        if mode == "truncate":
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload) * 2))
            for name, value in self.server.stub.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status >= 400 else "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        extra = mode if isinstance(mode, dict) else {}  # a mode may be an answer's own headers
        for name, value in dict(self.server.stub.headers, **extra).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class Stub:
    """Answers each request with the next ``(status, body, mode)`` from ``responses``."""

    def __init__(self):
        self.requests = []
        self.responses = []
        self.default = (200, b"OK", None)
        self.headers = {}  # sent with every answer
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.stub = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="x"):
        return "http://127.0.0.1:%d/%s" % (self.httpd.server_address[1], path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    if request.param == "curl":
        require(pycurl_available(), "pycurl is not installed")
    return get_transport(request.param, retry=RetryPolicy(attempts=3, delay=0.01), timeout=5)


def _error_body(message):
    return json.dumps({"error": message}).encode("utf-8")


def test_get_returns_body(stub, transport):
    stub.default = (200, b"hello", None)
    assert transport.execute(stub.url("a?b=1")) == b"hello"
    assert stub.requests[0]["method"] == "GET"
    assert stub.requests[0]["path"] == "/a?b=1"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_execute_uses_the_given_method(stub, transport, method):
    transport.execute(stub.url(), method=method)
    assert stub.requests[0]["method"] == method


def test_upload_streams_file_with_explicit_content_length(stub, transport, tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    transport.execute(stub.url(), method="POST", input_path=str(path))
    request = stub.requests[0]
    assert request["transfer_encoding"] is None
    assert request["content_length"] == str(len(data))
    assert request["body"] == data


def test_upload_of_empty_file_sends_zero_length(stub, transport, tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    transport.execute(stub.url(), method="POST", input_path=str(path))
    assert stub.requests[0]["content_length"] == "0"
    assert stub.requests[0]["body"] == b""


@pytest.mark.parametrize("data", ["text é", b"\x00bytes"])
def test_upload_data(stub, transport, data):
    transport.execute(stub.url(), method="POST", data=data)
    expected = data.encode("utf-8") if isinstance(data, str) else data
    assert stub.requests[0]["body"] == expected
    assert stub.requests[0]["content_length"] == str(len(expected))


def test_download_streams_to_output_path_without_leftovers(stub, transport, tmp_path):
    data = os.urandom(2 * 1024 * 1024 + 5)
    stub.default = (200, data, None)
    target = tmp_path / "sub" / "out.dat"
    assert transport.execute(stub.url(), output_path=str(target)) == str(target)
    assert target.read_bytes() == data
    assert sorted(os.listdir(target.parent)) == ["out.dat"]


def test_interrupted_download_never_leaves_partial_file(stub, transport, tmp_path):
    stub.default = (200, b"x" * 100000, "truncate")
    target = tmp_path / "out.dat"
    target.write_bytes(b"previous")
    with pytest.raises(TransportError):
        transport.execute(stub.url(), output_path=str(target))
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.dat"]
    assert len(stub.requests) == 3  # truncation is transient: retried, then given up


def test_transient_statuses_are_retried_until_success(stub, transport):
    stub.responses = [(503, _error_body("busy"), None), (429, _error_body("slow down"), None),
                      (200, b"done", None)]
    assert transport.execute(stub.url()) == b"done"
    assert len(stub.requests) == 3


def test_transient_status_gives_up_naming_status_and_message(stub, transport):
    stub.default = (502, _error_body("upstream down"), None)
    with pytest.raises(TransportError) as info:
        transport.execute(stub.url())
    assert info.value.status == 502
    assert "502" in str(info.value) and "upstream down" in str(info.value)
    assert len(stub.requests) == 3


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_permanent_4xx_fails_at_once_with_server_message(stub, transport, status):
    stub.default = (status, _error_body("parameter 'name' is bad"), None)
    with pytest.raises(TransportError) as info:
        transport.execute(stub.url("jobs?private_key=s3cret"), method="POST", data="x")
    assert len(stub.requests) == 1
    assert info.value.status == status
    message = str(info.value)
    assert str(status) in message and "parameter 'name' is bad" in message
    assert "s3cret" not in message


def test_401_says_the_token_was_refused(stub, transport):
    stub.default = (401, _error_body("the private_key token is missing or wrong"), None)
    with pytest.raises(ServerRefusedToken) as info:
        transport.execute(stub.url("jobs?private_key=s3cret"))
    assert "refused the token" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert len(stub.requests) == 1


def test_server_down_is_a_clear_error_after_retries(transport):
    url = "http://127.0.0.1:%d/jobs?job_id=1&private_key=s3cret" % free_port()
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as info:
        transport.execute(url)
    message = str(info.value)
    assert "not reachable" in message and "3 attempts" in message
    assert "127.0.0.1" in message and "private_key=***" in message and "s3cret" not in message
    assert time.monotonic() - started < 5


def test_timeout_is_transient(stub, pycurl_or_urllib_short_timeout):
    stub.responses = [(200, b"late", "sleep"), (200, b"on time", None)]
    assert pycurl_or_urllib_short_timeout.execute(stub.url()) == b"on time"
    assert len(stub.requests) == 2


@pytest.fixture(params=TRANSPORTS)
def pycurl_or_urllib_short_timeout(request):
    if request.param == "curl":
        require(pycurl_available(), "pycurl is not installed")
    return get_transport(request.param, retry=RetryPolicy(attempts=2, delay=0.01), timeout=0.3)


def test_post_file_is_multipart_with_content_length(transport, tmp_path):
    source = tmp_path / "source.bin"
    data = os.urandom(1024 * 1024 + 3)
    source.write_bytes(data)
    destination = tmp_path / "stored" / "copy.bin"
    with FilesServer(tmp_path) as files:
        transport.post_file(files.url + "&path=%s&file_type=output" % destination, str(source))
        assert files.requests[-1]["transfer_encoding"] is None
        assert int(files.requests[-1]["content_length"]) > len(data)
    assert destination.read_bytes() == data


def test_get_file_downloads(transport, tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("contents")
    with FilesServer(tmp_path) as files:
        transport.get_file(files.url + "&path=%s&file_type=input" % source, str(tmp_path / "got.txt"))
    assert (tmp_path / "got.txt").read_text() == "contents"


# -- the resumable protocol (lwr.lwr_client.transport.resumable), request by request ---------------
def _urls(upload_id, commit):
    return "/up?upload_id=%s&commit=%s" % (upload_id, commit)


def _stub_urls(stub):
    return lambda upload_id, commit: stub.url(_urls(upload_id, commit).lstrip("/"))


def test_resumable_upload_goes_on_from_the_409_offset_and_commits_with_the_digest(stub, transport, tmp_path):
    data = os.urandom(100000)
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "f").write_bytes(data)
    stub.responses = [(409, json.dumps({"error": "elsewhere", "offset": 40000}).encode(), None),
                      (200, json.dumps({"offset": 100000, "complete": False}).encode(), None),
                      (200, json.dumps({"complete": True, "sha256": digest}).encode(), None)]
    answer = json.loads(transport.upload_resumable(_stub_urls(stub), str(tmp_path / "f")))
    assert answer == {"complete": True, "sha256": digest}
    first, rest, commit = stub.requests
    upload_id = first["path"].split("upload_id=")[1].split("&")[0]
    assert first["path"] == rest["path"] == _urls(upload_id, False) and first["body"] == data
    assert "Content-Range" not in first["headers"]
    assert rest["headers"]["Content-Range"] == "bytes 40000-99999/100000" and rest["body"] == data[40000:]
    assert commit["path"] == _urls(upload_id, True) and commit["body"] == b""
    assert commit["headers"]["Repr-Digest"] == repr_digest(digest)
    assert commit["headers"]["Content-Range"] == "bytes */100000"


@pytest.mark.parametrize("first_answer", [{"complete": True}, {"path": "/x"}], ids=["committed-at-once", "no-partials"])
def test_no_commit_when_the_first_answer_is_complete_or_the_server_keeps_no_partials(stub, transport, tmp_path,
                                                                                     first_answer):
    data = b"small file"
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "f").write_bytes(data)
    stub.responses = [(200, json.dumps(dict(first_answer, sha256=digest)).encode(), None)]
    transport.upload_resumable(_stub_urls(stub), str(tmp_path / "f"))
    assert len(stub.requests) == 1 and stub.requests[0]["body"] == data


def test_a_digest_mismatch_at_the_commit_is_sent_again_then_fails(stub, transport, tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    refusal = json.dumps({"error": "the client sent X, the server received %s" % ("0" * 64)}).encode()
    stub.responses = [(200, b'{"complete": false}', None), (422, refusal, None)] * 2
    with pytest.raises(DigestMismatch) as info:
        transport.upload_resumable(_stub_urls(stub), str(tmp_path / "f"))
    assert info.value.remote_digest == "0" * 64 and str(tmp_path / "f") in str(info.value)
    assert len(stub.requests) == 4 and stub.requests[0]["path"] != stub.requests[2]["path"]  # a new upload id


def test_resumable_download_checks_the_repr_digest(stub, transport, tmp_path):
    data = os.urandom(300000)
    stub.default = (200, data, None)
    stub.headers = {"Repr-Digest": repr_digest(hashlib.sha256(data).hexdigest()), "ETag": '"v1"'}
    assert transport.get_file(stub.url(), str(tmp_path / "ok")) == str(tmp_path / "ok")
    assert (tmp_path / "ok").read_bytes() == data
    stub.headers["Repr-Digest"] = repr_digest("1" * 64)
    with pytest.raises(DigestMismatch) as info:
        transport.get_file(stub.url(), str(tmp_path / "bad"))
    assert info.value.remote_digest == "1" * 64 and info.value.local_digest == hashlib.sha256(data).hexdigest()
    assert sorted(os.listdir(tmp_path)) == ["ok"]


def test_a_cut_download_resumes_with_range_and_if_range(stub, transport, tmp_path):
    data = os.urandom(200000)
    stub.headers = {"ETag": '"v1"', "Repr-Digest": repr_digest(hashlib.sha256(data).hexdigest())}
    stub.responses = [(200, data[:100000], "truncate"),  # announces 200000 bytes, sends half
                      (206, data[100000:], {"Content-Range": "bytes 100000-199999/200000"})]
    transport.get_file(stub.url(), str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == data
    assert "Range" not in stub.requests[0]["headers"]
    assert stub.requests[1]["headers"]["Range"] == "bytes=100000-" and stub.requests[1]["headers"]["If-Range"] == '"v1"'


@pytest.mark.parametrize("given, environ, expected", [
    (None, {}, "urllib"),
    (None, {"LWR_CURL_TRANSPORT": "0"}, "urllib"),
    (None, {"LWR_CURL_TRANSPORT": ""}, "urllib"),
    (None, {"LWR_CURL_TRANSPORT": "1"}, "curl"),
    ("urllib", {"LWR_CURL_TRANSPORT": "1"}, "urllib"),
    ("curl", {}, "curl"),
    ("pycurl", {}, "curl"),
])
def test_transport_type_selection(given, environ, expected):
    assert transport_type(given, environ) == expected


def test_unknown_transport_name_is_an_error():
    with pytest.raises(ValueError, match="unknown LWR transport 'ftp'"):
        transport_type("ftp", {})


@pytest.mark.parametrize("url, masked", [
    ("http://h/jobs?private_key=abc&x=1", "http://h/jobs?private_key=***&x=1"),
    ("http://h/jobs?x=1&private_token=abc", "http://h/jobs?x=1&private_token=***"),
    ("https://tok@h:8913/", "https://***@h:8913/"),
    ("http://h/jobs?x=1", "http://h/jobs?x=1"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked
