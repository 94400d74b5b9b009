"""test/support/tcp_proxy.py itself: what a client sees when the server or a fault ends a relay."""
import socket
import threading
import time

import pytest

from test.support.tcp_proxy import CUTS, Fault, FaultyProxy, TcpProxy

MIB = 1024 * 1024


class EarlyAnswer(threading.Thread):
    """A server that reads nothing for ``pause`` seconds (the sender's buffers fill), answers,
    drains a little and closes: LWR answering 409 before the body, then lingering."""

    def __init__(self, pause=0.5):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pause = pause

    def run(self):
        conn, _ = self.listener.accept()
        with conn:
            time.sleep(self.pause)
            conn.sendall(b"HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.shutdown(socket.SHUT_WR)
            drained = 0
            while drained < 8 * MIB:
                data = conn.recv(65536)
                if not data:
                    break
                drained += len(data)
        self.listener.close()


def _send_until_refused(port, seconds):
    """Send zeros until the connection fails; the time that took (None: still sending)."""
    return _send_until_refused_on(socket.create_connection(("127.0.0.1", port)), seconds)


@pytest.mark.parametrize("proxy_class", [TcpProxy, FaultyProxy])
def test_a_sender_gets_an_error_once_the_server_has_closed(proxy_class):
    """Both relays end: the proxy closes its sockets, so the client's next bytes are refused.
    (They were only shut down: with the receive buffer full, the client stalled on a zero
    window until its timeout, the bench's --cut-at hang.)"""
    server = EarlyAnswer()
    server.start()
    proxy = proxy_class(("127.0.0.1", server.port)).start()
    try:
        took = _send_until_refused(proxy.port, 6)
    finally:
        proxy.close()
    assert took is not None and took < 3, took


@pytest.mark.parametrize("how", CUTS)
def test_a_cut_refuses_the_client_and_leaves_the_server_side_as_asked(how):
    listener = socket.create_server(("127.0.0.1", 0))
    proxy = FaultyProxy(listener.getsockname()[:2], faults=[Fault("up", cut=MIB, how=how)]).start()
    try:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        upstream, _ = listener.accept()
        upstream.settimeout(1)
        took = _send_until_refused_on(client, 3)
        received, ended = 0, None
        try:
            while received < 2 * MIB:
                data = upstream.recv(65536)
                if not data:
                    ended = "eof"
                    break
                received += len(data)
        except ConnectionResetError:
            ended = "reset"
        except socket.timeout:
            ended = "open"
        upstream.close()
    finally:
        proxy.close()
        listener.close()
    assert took is not None and took < 2
    assert ended == {"close": "eof", "reset": "reset", "half-open": "open"}[how]
    # a reset drops what the server's kernel held unread; the other cuts deliver every relayed byte
    assert received <= MIB if how == "reset" else received == MIB


def _send_until_refused_on(sock, seconds):
    """Send zeros on ``sock`` until it fails; the time that took (None: still sending after
    ``seconds``). Closes ``sock``."""
    sock.settimeout(seconds)
    block = bytes(MIB)
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            sock.sendall(block)
    except socket.timeout:
        return None
    except OSError:
        return time.monotonic() - started
    finally:
        sock.close()
    return None
