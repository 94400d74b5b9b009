"""AMQP over TLS (``amqp_connect_ssl_*``): a real lwr.daemon and client talk to the real RabbitMQ
through a TLS terminator in front of it, as they would to a broker with a TLS listener."""
import ssl

import pytest

from lwr.web.httpserver import self_signed_pem
from test.amqp_harness_test import (
    CopyJob,
    DaemonProcess,
    RecordingClientManager,
    SlowFilesServer,
    assert_exactly_one_complete,
    delete_queues,
    random_manager_name,
    require_broker,
)
from test.support.tcp_proxy import TcpProxy
from test.support.wait import wait_for

pytestmark = pytest.mark.amqp


class TlsTerminator(TcpProxy):
    """Accepts TLS on a free port and forwards the plain bytes to RabbitMQ on 127.0.0.1:5672."""

    def __init__(self, pem):
        super().__init__(("127.0.0.1", 5672))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pem)
        self.handshakes = 0
        self.failed_handshakes = 0
        self.start()

    def url(self):
        return "amqp://guest:guest@127.0.0.1:%d//" % self.port

    def accepted(self, client):
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            with self._lock:
                self.failed_handshakes += 1
            client.close()
            return None
        with self._lock:
            self.handshakes += 1
        return secure


@pytest.fixture
def tls_broker(tmp_path):
    require_broker()
    terminator = TlsTerminator(self_signed_pem(str(tmp_path / "broker.pem"), "127.0.0.1"))
    yield terminator
    terminator.close()


def _tls_options(ca_path):
    return {"amqp_connect_ssl_ca_certs": ca_path, "amqp_connect_ssl_cert_reqs": "cert_required"}


def test_job_over_tls_to_the_broker_completes_once(tls_broker, tmp_path):
    name = random_manager_name("tls")
    ca = str(tmp_path / "broker.pem")
    daemon = DaemonProcess(tmp_path / "lwr", name, url=tls_broker.url(), extra_conf=_tls_options(ca))
    files = SlowFilesServer(tmp_path).start()
    client_manager = RecordingClientManager(tls_broker.url(), manager=name, amqp_reconnect_max="2",
                                            **_tls_options(ca))
    try:
        assert client_manager.wait_connected(15), "status consumer did not connect over TLS"
        daemon.start()
        job = CopyJob(tmp_path, "tls1")
        job.submit(client_manager, daemon.staging_directory, files.url)
        assert_exactly_one_complete(client_manager, [job])
        assert tls_broker.handshakes >= 2  # the daemon's and the client's connections at least
        assert tls_broker.failed_handshakes == 0
    finally:
        daemon.kill()
        client_manager.shutdown()
        files.stop()
        delete_queues(name)


def test_broker_certificate_signed_by_another_ca_is_refused_and_logged(tls_broker, tmp_path):
    name = random_manager_name("tlsbad")
    other_ca = self_signed_pem(str(tmp_path / "other.pem"), "127.0.0.1")
    daemon = DaemonProcess(tmp_path / "lwr", name, url=tls_broker.url(), extra_conf=_tls_options(other_ca))
    try:
        daemon.start()
        wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in daemon.log(), 30,
                 message="the daemon to log the refused certificate")
        assert daemon.process.poll() is None  # it keeps retrying with backoff, as with a broker down
        assert tls_broker.handshakes == 0 and tls_broker.failed_handshakes >= 1
        assert "guest:guest" not in daemon.log()  # the URL's password is never logged
    finally:
        daemon.kill()
        delete_queues(name)
