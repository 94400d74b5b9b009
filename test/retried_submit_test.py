"""A submit whose answer is lost after it reached the real server: the client's retry must not
turn the server's 409 ("already submitted") into a failed job, and the job runs once."""
import socket

import pytest

from lwr.lwr_client import JobClient
from lwr.lwr_client.exceptions import TransportError
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.transport import get_transport
from test.support.tcp_proxy import TcpProxy
from test.support.wait import wait_for

pytestmark = [pytest.mark.server]


class AnswerDroppingProxy(TcpProxy):
    """Forwards each connection to ``target_port``; for the first request whose head contains
    ``marker`` it forwards the request, waits for the server's answer and closes the client's
    socket with a reset instead of passing the answer on."""

    def __init__(self, target_port, marker):
        super().__init__(("127.0.0.1", target_port))
        self.marker = marker
        self.dropped = 0
        self.start()

    def relay(self, client, upstream):
        head = b""
        while b"\r\n\r\n" not in head:
            block = client.recv(65536)
            if not block:
                break
            head += block
        upstream.sendall(head)
        if self.marker in head and not self.dropped:
            self.dropped += 1
            upstream.recv(65536)  # the server has answered: the submit landed
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            client.close()
            upstream.close()
            return
        super().relay(client, upstream)


def _client(port, job_id, token=None):
    params = {"url": "http://127.0.0.1:%d/" % port}
    if token:
        params["private_token"] = token
    return JobClient(params, job_id, HttpLwrInterface(params, get_transport()))


def test_lost_submit_answer_is_retried_and_the_job_runs_once(lwr_server):
    proxy = AnswerDroppingProxy(lwr_server.port, b"/submit")
    try:
        client = _client(proxy.port, "once", lwr_server.private_key)
        client.setup()
        client.launch("echo ran >> ../outputs/runs.txt")
        assert proxy.dropped == 1
        wait_for(lambda: client.get_status() == "complete", 30, "the job to complete", interval=0.1)
        assert lwr_server.request("GET", "jobs/once/files", {"name": "runs.txt"}) == (200, b"ran\n")
    finally:
        proxy.close()


def test_a_second_submit_without_a_failed_attempt_is_still_refused(lwr_server):
    client = _client(lwr_server.port, "twice", lwr_server.private_key)
    client.setup()
    client.launch("true")
    with pytest.raises(TransportError) as raised:
        client.launch("true")
    assert raised.value.status == 409 and not raised.value.retried
