"""Client managers: caching client / thread selection, transports, destination strings."""
import pytest

from lwr.lwr_client import ClientManager, InputCachingJobClient, JobClient, build_client_manager
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.transport import PycurlTransport, UrllibTransport, pycurl_available
from test.support.services import require


@pytest.mark.parametrize("kwds, environ, caching, threads", [
    ({}, {}, False, 2),
    ({}, {"LWR_CACHE_TRANSFERS": "1"}, True, 2),
    ({}, {"LWR_CACHE_TRANSFERS": "0"}, False, 2),
    ({}, {"LWR_CACHE_TRANSFERS": "1", "LWR_CACHE_THREADS": "4"}, True, 4),
    ({"cache": True}, {}, True, 2),
    ({"cache": False}, {"LWR_CACHE_TRANSFERS": "1"}, False, 2),
    ({"cache": True, "transfer_threads": 3}, {"LWR_CACHE_THREADS": "5"}, True, 3),
    ({"transfer_threads": 6}, {}, False, 6),
])
def test_caching_client_and_threads(kwds, environ, caching, threads):
    manager = ClientManager(environ=environ, **kwds)
    try:
        client = manager.get_client({"url": "http://h:1/"}, "1")
        assert isinstance(client, InputCachingJobClient) is caching
        assert isinstance(client, JobClient)
        assert client.transfer_threads == threads
    finally:
        manager.shutdown()


def test_string_destination_is_parsed_and_extra_kwargs_merged():
    manager = build_client_manager()
    client = manager.get_client("lwr://https://tok@h:8913", "7", default_file_action="copy")
    assert client.destination_params["url"] == "https://h:8913/"
    assert client.destination_params["private_token"] == "tok"
    assert client.default_file_action == "copy"
    assert isinstance(client.job_manager_interface, HttpLwrInterface)


@pytest.mark.parametrize("transport, environ, expected", [
    (None, {}, UrllibTransport),
    ("urllib", {"LWR_CURL_TRANSPORT": "1"}, UrllibTransport),
    ("curl", {}, PycurlTransport),
    (None, {"LWR_CURL_TRANSPORT": "1"}, PycurlTransport),
])
def test_transport_selection(transport, environ, expected):
    if expected is PycurlTransport:
        require(pycurl_available(), "pycurl is not installed")
    manager = ClientManager(transport=transport, environ=environ)
    client = manager.get_client({"url": "http://h:1/"}, "1")
    assert isinstance(client.job_manager_interface.transport, expected)


def test_amqp_url_needs_message_queue_manager():
    try:
        import lwr.lwr_client.amqp_manager as amqp_manager
    except ImportError:
        amqp_manager = None
    if amqp_manager is None:
        with pytest.raises(ImportError, match="amqp://guest@localhost//.*lwr.lwr_client.amqp_manager"):
            build_client_manager(url="amqp://guest@localhost//")
    else:
        manager = build_client_manager(url="memory://client_manager_test")
        try:
            assert type(manager).__name__ == "MessageQueueClientManager"
        finally:
            manager.shutdown()


def test_an_unknown_client_manager_option_is_named_in_a_warning_not_ignored_silently(caplog):
    from lwr.lwr_client.manager import ClientManager, ObjectStoreClientManager
    with caplog.at_level("WARNING", logger="lwr.lwr_client.manager"):
        ClientManager(transport=None, cache=False, transfer_thread=4).shutdown()
        ObjectStoreClientManager(transprot="curl")
    messages = [r.getMessage() for r in caplog.records]
    assert any("ClientManager: ignoring unknown option(s) transfer_thread" in m for m in messages), messages
    assert any("ObjectStoreClientManager: ignoring unknown option(s) transprot" in m for m in messages), messages
    caplog.clear()
    with caplog.at_level("WARNING", logger="lwr.lwr_client.manager"):
        ClientManager(transport=None, cache=False, transfer_threads=4, url=None).shutdown()
    assert not caplog.records
