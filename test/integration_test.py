"""The client <-> server matrix: ``check.run`` over real HTTP (``paster serve``) and in process."""
import os
import subprocess
import sys

import pytest

from lwr.lwr_client import build_client_manager
from lwr.lwr_client.exceptions import ServerRefusedToken, ServerUnavailable
from lwr.lwr_client.test import check
from lwr.lwr_client.transport import pycurl_available
from test.support.files_server import FilesServer
from test.support.server import PASTER, REPO_ROOT, free_port, settled_listing
from test.support.services import require

TOKEN = "itest-token"
FULL = {"test_env": True, "test_unicode": True, "test_rewrite_action": True}

# name -> (check options, needs files server, local setup via jobs_directory)
MATRIX = {
    "default": (dict(FULL, test_requirement=True, test_errors=True), False, False),
    "copy": (dict(FULL, default_file_action="copy"), False, False),
    "none": (dict(FULL, default_file_action="none"), False, False),
    "remote_copy": (dict(FULL, default_file_action="remote_copy"), False, False),
    "remote_transfer": (dict(FULL, default_file_action="remote_transfer"), True, False),
    "local_setup_remote_copy": (dict(FULL, default_file_action="remote_copy"), False, True),
    "local_setup_remote_transfer": (dict(FULL, default_file_action="remote_transfer"), True, True),
    "cache": (dict(FULL, cache=True), False, False),
    "serial_uploads": (dict(FULL, transfer_threads=1), False, False),
    "unicode": ({"test_unicode": True}, False, False),
    "test_errors": ({"test_errors": True}, False, False),
}


def _prepare(directory):
    """Server directory with dep1/1.1 (MOO=moo_override) in its tool_dependency_dir."""
    dependency = os.path.join(str(directory), "dependencies", "dep1", "1.1")
    os.makedirs(dependency, exist_ok=True)
    with open(os.path.join(dependency, "env.sh"), "w") as handle:
        handle.write("MOO=moo_override; export MOO\n")
    return {"file_cache_dir": os.path.join(str(directory), "file_cache")}


@pytest.fixture
def http_server(lwr_server_factory, tmp_path):
    require(os.path.exists(PASTER), "paster is not installed in the virtualenv")
    directory = tmp_path / "server"
    app_conf = _prepare(directory)
    app_conf["private_key"] = TOKEN
    return lwr_server_factory(directory=directory, app_conf=app_conf)


@pytest.fixture
def files_server():
    import tempfile
    with FilesServer(tempfile.gettempdir()) as server:
        yield server


def _options(name, files_server, staging_directory):
    options, needs_files, local_setup = MATRIX[name]
    options = dict(options, suppress_output=True, python=sys.executable)
    if needs_files:
        options["files_endpoint"] = files_server.url
    if local_setup:
        options["jobs_directory"] = staging_directory
    return options


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_http_matrix(name, http_server, files_server):
    options = _options(name, files_server, http_server.staging_directory)
    check.run(dict(options, url=http_server.url, private_token=TOKEN))
    if MATRIX[name][1]:
        methods = {request["method"] for request in files_server.requests}
        assert methods == {"GET", "POST"}  # inputs fetched and outputs pushed by the server
    if name != "test_errors":
        assert settled_listing(http_server.staging_directory) == []  # cleaned up
    assert bool(_cached_files(http_server.app_conf["file_cache_dir"])) == (name == "cache")


def _cached_files(cache_dir):
    """Files the server's cache holds (``<cache_dir>/<64 hex token>``)."""
    if not os.path.isdir(cache_dir):
        return []
    return [name for name in os.listdir(cache_dir) if len(name) == 64]


@pytest.mark.server
def test_http_curl_transport(http_server):
    require(pycurl_available(), "pycurl is not installed")
    check.run(dict(FULL, url=http_server.url, private_token=TOKEN, transport="curl", test_errors=True,
                   suppress_output=True, python=sys.executable))


@pytest.mark.server
def test_http_named_manager_url(http_server):
    check.run({"url": http_server.url, "manager_url": http_server.url + "managers/_default_/",
               "private_token": TOKEN, "suppress_output": True, "python": sys.executable})


@pytest.mark.server
def test_wrong_token_is_refused(http_server):
    with pytest.raises(ServerRefusedToken, match="refused the token") as info:
        check.run({"url": http_server.url, "private_token": "bad-tok-77", "suppress_output": True})
    assert "bad-tok-77" not in str(info.value) and "private_key=***" in str(info.value)


@pytest.mark.server
def test_missing_token_is_refused(http_server):
    with pytest.raises(ServerRefusedToken):
        check.run({"url": http_server.url, "suppress_output": True})


@pytest.mark.server
def test_run_client_tests_script(http_server):
    script = os.path.join(REPO_ROOT, "run_client_tests.py")
    base = [sys.executable, script, "--url", http_server.url, "--python", sys.executable]
    ok = subprocess.run(base + ["--private_token", TOKEN, "--test_errors", "--test_requirement"],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All checks passed" in ok.stdout and ok.stdout.rstrip().endswith("OK")
    refused = subprocess.run(base + ["--private_token", "nope", "--suppress_output"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "refused the token" in refused.stderr and refused.stdout == ""


@pytest.mark.server
def test_https_server(lwr_server_factory, tmp_path, monkeypatch):
    require(os.path.exists(PASTER), "paster is not installed in the virtualenv")
    monkeypatch.setenv("LWR_SSL_VERIFY", "0")  # the test server's certificate is self-signed
    temporary = tmp_path / "tmp"  # the server's TMPDIR: where ``*`` makes its key and certificate
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    server = lwr_server_factory(directory=tmp_path / "tls", app_conf={"private_key": TOKEN}, ssl_pem="*")
    assert server.url.startswith("https://")
    assert os.listdir(temporary) == []  # the generated private key is not left on disk
    check.run({"url": server.url, "private_token": TOKEN, "suppress_output": True, "python": sys.executable})


def test_server_down_names_url_with_token_masked():
    url = "http://127.0.0.1:%d/" % free_port()
    manager = build_client_manager()
    client = manager.get_client({"url": url, "private_token": "s3cret", "retry_budget": "1",
                                 "retry_initial_backoff": "0.05"}, "1")
    with pytest.raises(ServerUnavailable) as info:
        client.full_status()
    message = str(info.value)
    assert url in message and "private_key=***" in message and "s3cret" not in message
    assert "the 1 s retry budget (retry_budget) is spent" in message


# -- in process: LocalLwrInterface routes the same requests without HTTP ---------------------------
@pytest.fixture
def lwr_app(tmp_path):
    from lwr.core import LwrApp
    directory = tmp_path / "app"
    conf = _prepare(directory)
    app = LwrApp(staging_directory=str(directory / "staging"), persistence_directory=str(directory / "persisted"),
                 tool_dependency_dir=str(directory / "dependencies"), **conf).start()
    yield app
    app.shutdown()


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_in_process_matrix(name, lwr_app, files_server):
    options = _options(name, files_server, lwr_app.staging_directory)
    check.run(dict(options, job_manager=lwr_app.managers["_default_"], file_cache=lwr_app.file_cache))
    if name != "test_errors":
        assert settled_listing(lwr_app.staging_directory) == []
    assert bool(_cached_files(lwr_app.config["file_cache_dir"])) == (name == "cache")
