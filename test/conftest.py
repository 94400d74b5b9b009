"""Shared fixtures: real LWR servers started with ``paster serve``; the Galaxy modules' history
and dataset.  A test that starts a server without the ``server`` marker fails."""
import pytest

from test.support import server as server_support
from test.support.galaxy import SAMPLE_TEXT
from test.support.server import LwrServer


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before any fixture of the test (module-scoped ones included) may start a server.
    server_support.current_test_marked_server = item.get_closest_marker("server") is not None


def pytest_runtest_teardown(item):
    server_support.current_test_marked_server = None


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


# -- Galaxy modules: each defines a module-scoped ``stack`` fixture, ``(galaxy, LWR side, api)`` --------
@pytest.fixture(scope="module")
def history(stack):
    """A new history of the module's Galaxy user."""
    return stack[2].new_history()


@pytest.fixture(scope="module")
def text_dataset(stack, history):
    """:data:`test.support.galaxy.SAMPLE_TEXT` uploaded into ``history``."""
    return stack[2].upload_text(history, SAMPLE_TEXT)
