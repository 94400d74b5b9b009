"""Shared fixtures: real LWR servers started with ``paster serve``."""
import pytest

from test.support.server import LwrServer


@pytest.fixture
def lwr_server_factory(tmp_path):
    """``factory(**LwrServer kwargs)`` -> a started server; all are stopped at teardown."""
    servers = []

    def factory(**kwargs):
        directory = kwargs.pop("directory", None) or tmp_path / ("server%d" % len(servers))
        server = LwrServer(directory, **kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def lwr_server(lwr_server_factory):
    return lwr_server_factory()
