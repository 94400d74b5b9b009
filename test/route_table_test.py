"""One declared route table: the server serves exactly it, the client's commands reach the
handler of their name, and the HTTP API docs list every route."""
import os
import re
import types

import pytest

from lwr.lwr_client import interface
from lwr.lwr_client.route_table import MANAGER_PREFIX, ROUTES, ROUTES_BY_NAME, Route, fill_path, path_parameters
from lwr.web.framework import bind_routes
from lwr.web.local import local_app
from test.support.server import REPO_ROOT

SAMPLE_VALUES = {"job_id": "j1", "object_id": "7", "manager_name": "_default_"}


def _server_routes():
    """(path pattern, method, handler name, response) as the real app dispatches, in order."""
    app = local_app(job_manager=None)
    return [(regex, method, func.__name__, response) for regex, method, func, response, _name in app.routes]


def _dispatch(path, method):
    """The handler name the real app picks for ``method path`` (None: no route)."""
    for regex, route_method, name, _response in _server_routes():
        if regex.match(path) and route_method in (None, method):
            return name
    return None


def test_the_server_serves_every_declared_route_at_the_root_and_under_a_manager():
    served = [(regex.pattern, method, name, response) for regex, method, name, response in _server_routes()]
    expected = []
    for route in ROUTES:
        for template in (route.path, MANAGER_PREFIX + route.path):
            pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
            expected.append((pattern, route.method, route.name, route.response))
    assert served == expected


def test_the_clients_commands_are_the_declared_routes():
    assert list(interface.COMMANDS) == [route.name for route in ROUTES]


@pytest.mark.parametrize("name", sorted(interface.COMMANDS))
@pytest.mark.parametrize("prefix", ["", "managers/_default_/"])
def test_each_client_command_reaches_the_server_handler_of_its_name(name, prefix):
    """Built the way the client builds a URL, matched the way the server matches one."""
    path, method = interface._path(name, SAMPLE_VALUES)
    assert "{" not in path and "$" not in path
    assert _dispatch("/" + prefix + path, method or "GET") == name


def test_client_urls_are_those_of_lwr_0_2_0():
    """A few URLs written out in full, as LWR 0.2.0 and Pulsar clients send them."""
    http = interface.HttpLwrInterface({"url": "host:8913", "private_token": "t"}, transport=None)
    assert http.url("setup", {"job_id": "1"}) == "http://host:8913/jobs?job_id=1&private_key=t"
    assert http.url("submit", {"job_id": "a b"}) == "http://host:8913/jobs/a%20b/submit?job_id=a+b&private_key=t"
    assert http.url("download_output", {"job_id": "1", "name": "o"}) == \
        "http://host:8913/jobs/1/files?job_id=1&name=o&private_key=t"
    assert http.url("object_store_get_store_usage_percent") == \
        "http://host:8913/object_store_usage_percent?private_key=t"
    assert http.url("object_store_size", {"object_id": "5"}) == \
        "http://host:8913/objects/5/size?object_id=5&private_key=t"


def test_route_names_and_paths_are_unique_and_parameters_named():
    assert len(ROUTES_BY_NAME) == len(ROUTES)
    assert len({(route.method, route.path) for route in ROUTES}) == len(ROUTES)
    assert {name for route in ROUTES for name in path_parameters(route.path)} <= set(SAMPLE_VALUES)
    assert {route.response for route in ROUTES} == {"OK", "json", "file", "text", "html"}
    assert {route.auth for route in ROUTES} == {"token", "cookie", "login"}


def test_a_declared_route_without_exactly_one_handler_is_refused():
    def handler():
        pass

    module = types.ModuleType("fake_routes")
    handler.__module__ = "fake_routes"
    module.known = handler
    assert bind_routes([Route("known", "GET", "/known")], [module]) == [(Route("known", "GET", "/known"), handler)]
    with pytest.raises(LookupError, match="'missing' has 0 handlers"):
        bind_routes([Route("missing", "GET", "/missing")], [module])
    with pytest.raises(LookupError, match="'known' has 2 handlers"):
        bind_routes([Route("known", "GET", "/known")], [module, module])
    module.imported = os.path.join  # a name imported into a route module is not a handler
    with pytest.raises(LookupError, match="'imported' has 0 handlers"):
        bind_routes([Route("imported", "GET", "/x")], [module])


def _documented_routes(doc):
    """(method, path) of every row of the route tables in ``docs/<doc>``."""
    with open(os.path.join(REPO_ROOT, "docs", doc), encoding="utf-8") as handle:
        text = handle.read()
    return re.findall(r"^(GET|POST|PUT|DELETE|any)\s+``(/[^`]*)``", text, re.MULTILINE)


def _as_documented(route):
    return (route.method or "any", fill_path(route.path, {"job_id": "<id>", "object_id": "<id>"}))


def test_the_api_docs_list_every_declared_route_and_no_other():
    documented = _documented_routes("api.rst")
    assert sorted(documented) == sorted(_as_documented(route) for route in ROUTES)


def test_the_object_store_docs_list_every_object_store_route():
    declared = [_as_documented(route) for route in ROUTES if route.name.startswith("object_store_")]
    assert sorted(_documented_routes("object_store.rst")) == sorted(declared)
