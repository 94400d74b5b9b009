"""Galaxy 26's stock ``PulsarRESTJobRunner`` (no LWR code on the Galaxy side) against a real LWR.

Five tools (transform an input; fail with stderr; a config file and several inputs; use $HOME and
$TMPDIR; outputs discovered through galaxy.json and a pattern) run through six destinations
(default transfer, copy, remote_transfer, a named manager, rewrite_parameters false, remote
metadata): every tool where file staging differs (default, remote_transfer, remote metadata),
the tools that move files where only the file action differs (copy, rewrite_parameters false),
the routing pair for the named manager.  One Galaxy and one LWR serve the module; every job is
submitted at once.  Needs ``LWR_TEST_GALAXY=1`` on a developer machine (CI always runs it).
"""
import pytest

from test.support.galaxy import GalaxyServer, galaxy_venv, reversed_lines, running
from test.support.server import LwrServer

pytestmark = [pytest.mark.galaxy, pytest.mark.server, pytest.mark.slow]

TOKEN = "pulsar-rest-galaxy-token-9c2e"
FIRST = "first line\nsecond line ünïcode\n\tthird line with tab\n"
SECOND = "another input\n"
PULSAR_RUNNER = {"load": "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner", "workers": 4}

#: destination name -> extra destination parameters (beside runner, url, private_token)
DESTINATIONS = {
    "default": {},
    "copy": {"default_file_action": "copy"},
    "remote_transfer": {"default_file_action": "remote_transfer"},
    "manager": {"manager": "named"},
    "no_rewrite": {"rewrite_parameters": False},
    "remote_metadata": {"manager": "meta", "remote_metadata": True},
}
TOOLS = ("pulsar_transform", "pulsar_fail", "pulsar_configfile", "pulsar_home_tmp", "pulsar_discover")
#: destination -> the tools run there
MATRIX = {
    "default": TOOLS,
    "remote_transfer": TOOLS,
    "remote_metadata": TOOLS,
    "copy": ("pulsar_transform", "pulsar_configfile", "pulsar_discover"),
    "no_rewrite": ("pulsar_transform", "pulsar_configfile", "pulsar_home_tmp", "pulsar_discover"),
    "manager": ("pulsar_transform", "pulsar_fail"),
}
PAIRS = [(tool, destination) for destination, tools in sorted(MATRIX.items()) for tool in tools]


def _pairs(tool):
    return [destination for name, destination in PAIRS if name == tool]


def _managers_ini(galaxy_venv):
    # The remote-metadata manager knows where Galaxy is: Galaxy from PyPI has no lib/ directory,
    # its virtualenv is what metadata/set.py needs (galaxy_home must still be set: Galaxy asks).
    return ("[manager:_default_]\ntype = queued_python\nnum_concurrent_jobs = 4\n\n"
            "[manager:named]\ntype = unqueued\n\n"
            "[manager:meta]\ntype = unqueued\ngalaxy_home = %s\ngalaxy_virtual_env = %s\n"
            % (galaxy_venv, galaxy_venv))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(galaxy, lwr, api)``: an LWR and a Galaxy routing every tool copy to its destination."""
    venv = galaxy_venv()
    base = tmp_path_factory.mktemp("galaxy-pulsar-rest")
    lwr = LwrServer(base / "lwr", app_conf={"private_key": TOKEN}, job_managers_ini=_managers_ini(venv),
                    log_level="DEBUG").start()
    environments = {"pr_%s" % name: dict({"runner": "pulsar_rest", "url": lwr.url, "private_token": TOKEN},
                                         **params) for name, params in DESTINATIONS.items()}
    copies = {"%s_%s" % (tool, destination): "%s.xml" % tool for tool, destination in PAIRS}
    routes = {"%s_%s" % (tool, destination): "pr_%s" % destination for tool, destination in PAIRS}
    galaxy = GalaxyServer(venv, base / "galaxy", environments, routes, runners={"pulsar_rest": PULSAR_RUNNER},
                          tool_copies=copies)
    try:
        with running(galaxy, "pulsarrest") as api:
            yield galaxy, lwr, api
    finally:
        lwr.stop()


@pytest.fixture(scope="module")
def runs(stack):
    """Every tool on every destination, submitted together; ``{(tool, destination): (run, job)}``."""
    galaxy, lwr, api = stack
    history = api.new_history("pulsar-rest")
    # The tools without inputs run while the inputs upload.
    submitted = {(tool, destination): api.run_tool(history, "%s_%s" % (tool, destination))
                 for tool, destination in PAIRS if tool not in ("pulsar_transform", "pulsar_configfile")}
    uploads = [api.start_upload(history, FIRST), api.start_upload(history, SECOND)]
    first, second = [api.finish_upload(upload) for upload in uploads]
    inputs = {
        "pulsar_transform": {"input": {"src": "hda", "id": first}},
        "pulsar_configfile": {"first": {"src": "hda", "id": first}, "second": {"src": "hda", "id": second},
                              "greeting": "hi there"},
    }
    submitted.update({(tool, destination): api.run_tool(history, "%s_%s" % (tool, destination), inputs[tool])
                      for tool, destination in PAIRS if tool in inputs})
    finished = {key: (run, api.wait_for_job(run["job"], timeout=400)) for key, run in submitted.items()}
    return {"first": api.download(first).decode("utf-8"), "second": api.download(second).decode("utf-8"),
            "jobs": finished}


def _ok(stack, runs, tool, destination):
    galaxy, lwr, api = stack
    run, job = runs["jobs"][(tool, destination)]
    assert job["state"] == "ok", (tool, destination, api.admin.job(run["job"]), galaxy.log(6000),
                                  lwr.log()[-6000:])
    return run


@pytest.mark.parametrize("destination", _pairs("pulsar_transform"))
def test_transform_output_is_byte_exact_and_ran_on_lwr(stack, runs, destination):
    galaxy, lwr, api = stack
    run = _ok(stack, runs, "pulsar_transform", destination)
    assert runs["first"].count("\n") == 3
    assert api.download(run["outputs"][0]) == reversed_lines(runs["first"])
    details = api.admin.job(run["job"])
    assert details["external_id"], details
    # Galaxy cleaned the job on success (cleanup_job onsuccess): LWR now reports it lost.
    prefix = "managers/%s/" % DESTINATIONS[destination]["manager"] if "manager" in DESTINATIONS[destination] else ""
    assert lwr.json("GET", prefix + "jobs/%s/status" % details["external_id"])["status"] == "lost"


@pytest.mark.parametrize("destination", _pairs("pulsar_fail"))
def test_failing_tool_errors_with_its_stderr_shown(stack, runs, destination):
    galaxy, lwr, api = stack
    run, job = runs["jobs"][("pulsar_fail", destination)]
    assert job["state"] == "error", job
    details = api.admin.job(run["job"])
    assert "pulsar-fail-tool: something went wrong" in (details.get("tool_stderr") or ""), details
    assert "to stdout before failing" in (details.get("tool_stdout") or ""), details
    assert "pulsar-fail-tool" not in (details.get("job_stderr") or ""), details
    assert details.get("exit_code") == 1, details


@pytest.mark.parametrize("destination", _pairs("pulsar_configfile"))
def test_config_file_and_several_inputs(stack, runs, destination):
    galaxy, lwr, api = stack
    run = _ok(stack, runs, "pulsar_configfile", destination)
    expected = "greeting: hi there\n%s%slines in first: 3\n" % (runs["first"], runs["second"])
    assert api.download(run["outputs"][0]) == expected.encode("utf-8")


@pytest.mark.parametrize("destination", _pairs("pulsar_home_tmp"))
def test_home_and_tmpdir_are_the_jobs_own_and_usable(stack, runs, destination):
    galaxy, lwr, api = stack
    run = _ok(stack, runs, "pulsar_home_tmp", destination)
    assert api.download(run["outputs"][0]) == (b"HOME is the job's home, writable\n"
                                               b"TMPDIR is the job's tmp, writable\n")


@pytest.mark.parametrize("destination", _pairs("pulsar_discover"))
def test_outputs_discovered_through_galaxy_json_and_a_pattern(stack, runs, destination):
    galaxy, lwr, api = stack
    run = _ok(stack, runs, "pulsar_discover", destination)
    listed = api.collection_elements(run["collections"]["listed"])
    assert sorted(listed) == ["first", "second"]
    assert api.download(listed["first"]) == b"alpha\n"
    assert api.download(listed["second"]) == b"beta\n"
    patterned = api.collection_elements(run["collections"]["patterned"])
    assert sorted(patterned) == ["c1", "c2"]
    assert api.download(patterned["c1"]) == b"gamma\n"
    assert api.download(patterned["c2"]) == b"delta\n"


def test_remote_metadata_ran_on_lwr(stack, runs):
    """Galaxy set the metadata of the remote-metadata jobs on the LWR, not itself."""
    galaxy, lwr, api = stack
    run = _ok(stack, runs, "pulsar_transform", "remote_metadata")
    details = api.admin.job(run["job"])
    assert "not found" not in (details.get("job_stderr") or ""), details
    assert api.dataset(run["outputs"][0])["metadata_data_lines"] == 3
    # The command Galaxy submitted ran metadata/set.py on the LWR, and Galaxy fetched its results.
    with open(lwr.log_path, errors="replace") as handle:
        job_requests = [line for line in handle if "/managers/meta/jobs/%s/" % details["external_id"] in line]
    assert any("/submit?" in line and "metadata%2Fset.py" in line for line in job_requests)
    assert any("name=metadata_out_output" in line and "type=output_metadata" in line for line in job_requests)
