"""pulsar-app 0.16's own client check (``pulsar-check``, from PyPI) against a ``paster serve`` LWR.

Every mode of ``pulsar-check --help`` runs as the command; the modes only its Python interface
offers (``default_file_action``, ``jobs_directory``, requirements, env, rewrite actions) run
through ``pulsar.client.test.check.run`` in the same venv.  Needs the cached pulsar-app venv
(``scripts/services/install-pulsar.sh``; marker ``pulsar``).
"""
import os
import uuid

import pytest

from test.support.files_server import FilesServer
from test.support.pulsar import install_pulsar, pulsar_check, pulsar_check_run, pycurl_installed
from test.support.server import LwrServer
from test.support.services import require

pytestmark = [pytest.mark.pulsar, pytest.mark.server, pytest.mark.slow]

TOKEN = "pulsar-check-token-41"
MANAGERS = "[manager:_default_]\ntype = queued_python\n\n[manager:named]\ntype = unqueued\n"


@pytest.fixture(scope="module")
def venv():
    path, reason = install_pulsar()
    require(path is not None, reason)
    return path


def _server(directory, **app_conf):
    dependency = os.path.join(str(directory), "dependencies", "dep1", "1.1")
    os.makedirs(dependency)
    with open(os.path.join(dependency, "env.sh"), "w") as handle:
        handle.write("MOO=moo_override; export MOO\n")
    app_conf.setdefault("file_cache_dir", os.path.join(str(directory), "file_cache"))
    return LwrServer(directory, app_conf=app_conf, job_managers_ini=MANAGERS, log_level="DEBUG").start()


@pytest.fixture(scope="module")
def lwr(venv, tmp_path_factory):
    server = _server(tmp_path_factory.mktemp("pulsar-check-lwr"), private_key=TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_lwr(venv, tmp_path_factory):
    """An LWR without a private token."""
    server = _server(tmp_path_factory.mktemp("pulsar-check-open-lwr"))
    yield server
    server.stop()


@pytest.fixture
def client_tmp(tmp_path):
    directory = tmp_path / "client"
    directory.mkdir()
    return directory


def _job_id():
    return str(uuid.uuid4().int % 10 ** 9)


def _job_dirs(server):
    return sorted(name for name in os.listdir(server.staging_directory) if not name.startswith("."))


def _assert_passed(result, server):
    assert result.returncode == 0, "pulsar-check failed:\n%s\n%s\n--- LWR log ---\n%s" % (
        result.stdout[-4000:], result.stderr[-8000:], server.log()[-6000:])


CLI_MODES = {
    "default": [],
    "test_errors": ["--test_errors"],
    "cache": ["--cache"],
    "legacy_galaxy_json": ["--legacy_galaxy_json"],
    "explicit_tool_declarations": ["--explicit_tool_declarations"],
    "debug": ["--debug"],
    "all_flags": ["--legacy_galaxy_json", "--explicit_tool_declarations", "--cache", "--test_errors"],
}


@pytest.mark.parametrize("mode", sorted(CLI_MODES))
def test_pulsar_check_modes_pass(venv, lwr, client_tmp, mode):
    job_id = _job_id()
    result = pulsar_check(venv, ["--url", lwr.url, "--private_token", TOKEN, "--suppress_output",
                                 "--job_id", job_id] + CLI_MODES[mode], client_tmp)
    _assert_passed(result, lwr)
    assert job_id not in _job_dirs(lwr)  # pulsar-check cleaned up
    if mode == "test_errors":
        # the deliberate download of a missing output was answered 404 (and did not break anything)
        assert "dataset_1.datx" in lwr.log()
    if mode in ("cache", "all_flags"):
        assert os.listdir(os.path.join(lwr.directory, "file_cache"))


def test_pulsar_check_with_curl_transport(venv, lwr, client_tmp):
    require(pycurl_installed(venv), "pycurl did not install in the pulsar-app venv")
    result = pulsar_check(venv, ["--url", lwr.url, "--private_token", TOKEN, "--suppress_output",
                                 "--transport", "curl", "--job_id", _job_id()], client_tmp)
    _assert_passed(result, lwr)


def test_pulsar_check_through_a_named_manager_url(venv, lwr, client_tmp):
    result = pulsar_check(venv, ["--url", lwr.url + "managers/named/", "--private_token", TOKEN,
                                 "--suppress_output", "--job_id", _job_id()], client_tmp)
    _assert_passed(result, lwr)
    assert "managers/named/jobs" in lwr.log()


def test_pulsar_check_without_a_token_against_an_open_server(venv, open_lwr, client_tmp):
    result = pulsar_check(venv, ["--url", open_lwr.url, "--suppress_output", "--job_id", _job_id()], client_tmp)
    _assert_passed(result, open_lwr)


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_pulsar_check_with_a_missing_or_wrong_token_fails_and_leaves_nothing(venv, lwr, client_tmp, token):
    before = _job_dirs(lwr)
    args = ["--url", lwr.url, "--suppress_output", "--job_id", _job_id()]
    result = pulsar_check(venv, args + (["--private_token", token] if token else []), client_tmp)
    assert result.returncode != 0
    assert "401" in result.stdout + result.stderr
    assert _job_dirs(lwr) == before


def test_pulsar_check_disable_cleanup_keeps_the_job_for_inspection(venv, lwr, client_tmp):
    job_id = _job_id()
    result = pulsar_check(venv, ["--url", lwr.url, "--private_token", TOKEN, "--suppress_output",
                                 "--disable_cleanup", "--job_id", job_id], client_tmp)
    _assert_passed(result, lwr)
    job = os.path.join(lwr.staging_directory, job_id)
    with open(os.path.join(job, "metadata", "tool_stdout")) as handle:
        assert handle.read() == "stdout output\n"
    assert os.path.isdir(os.path.join(job, "home")) and os.path.isdir(os.path.join(job, "tmp"))
    assert lwr.json("GET", "jobs/%s/status" % job_id)["status"] == "complete"
    assert lwr.request("DELETE", "jobs/%s" % job_id)[0] == 200


FULL = {"test_env": True, "test_rewrite_action": True, "test_unicode": True}
RUN_MODES = {
    "transfer_with_requirement": dict(FULL, default_file_action="transfer", test_requirement=True),
    "copy": dict(FULL, default_file_action="copy"),
    "none": dict(FULL, default_file_action="none"),
    "remote_copy": dict(FULL, default_file_action="remote_copy"),
    "remote_transfer": dict(FULL, default_file_action="remote_transfer"),
    "jobs_directory_remote_copy": dict(FULL, default_file_action="remote_copy", jobs_directory=True),
    "jobs_directory_remote_transfer": dict(FULL, default_file_action="remote_transfer", jobs_directory=True),
}


@pytest.mark.parametrize("mode", sorted(RUN_MODES))
def test_pulsar_check_run_file_actions(venv, lwr, client_tmp, mode):
    """What ``pulsar.client.test.check.run`` offers beyond the command line.  remote_transfer
    needs Galaxy's job files API: a local stand-in serves the client's files (test/support)."""
    options = dict(RUN_MODES[mode], url=lwr.url, private_token=TOKEN, job_id=_job_id())
    if options.pop("jobs_directory", False):
        options["jobs_directory"] = lwr.staging_directory  # the client lays the job out itself
    if options["default_file_action"] == "remote_transfer":
        with FilesServer(str(client_tmp)) as files:
            options["files_endpoint"] = files.url
            result = pulsar_check_run(venv, options, client_tmp)
        assert any(request["method"] == "POST" for request in files.requests)
    else:
        result = pulsar_check_run(venv, options, client_tmp)
    _assert_passed(result, lwr)
    assert options["job_id"] not in _job_dirs(lwr)
