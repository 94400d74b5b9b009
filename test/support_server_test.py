"""The test support's own promises: a test server survives a port taken under it."""
import socket

import pytest

from test.support.server import LwrServer

pytestmark = pytest.mark.server


def test_a_port_taken_between_choice_and_start_is_replaced(tmp_path):
    server = LwrServer(tmp_path / "srv")
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        server.port = squatter.getsockname()[1]  # as if another process took the chosen port
        server._write_ini()
        try:
            server.start()
            assert server.port != squatter.getsockname()[1]
            assert server.request("GET", "healthz")[0] == 200
            assert "Address already in use" in server.log()
        finally:
            server.stop()


def test_an_explicit_port_taken_is_an_error(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        server = LwrServer(tmp_path / "srv", port=squatter.getsockname()[1])
        with pytest.raises(RuntimeError, match="is taken"):
            server.start()
