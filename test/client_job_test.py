"""JobClient over HttpLwrInterface: exact URLs, methods and bodies (the transport is the recorded edge)."""
import json
from urllib.parse import parse_qs, urlparse

import pytest

from lwr.lwr_client import JobClient, OutputNotFoundException
from lwr.lwr_client.exceptions import ServerUnavailable, TransportError
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.transport import RetryPolicy


class RecordingTransport:
    def __init__(self, responses=None):
        self.calls = []
        self.responses = list(responses or [])

    def execute(self, url, method=None, data=None, input_path=None, output_path=None):
        parsed = urlparse(url)
        body = None
        if input_path is not None:
            with open(input_path, "rb") as handle:
                body = handle.read()
        self.calls.append({"path": parsed.path, "args": {k: v[0] for k, v in parse_qs(parsed.query).items()},
                           "method": method, "data": data, "body": body, "output_path": output_path})
        response = self.responses.pop(0) if self.responses else b"OK"
        if isinstance(response, Exception):
            raise response
        if output_path is not None:
            with open(output_path, "wb") as handle:
                handle.write(response)
        return response


def client_for(responses=None, **destination):
    transport = RecordingTransport(responses)
    params = {"url": "http://lwr.example:8913/"}
    params.update(destination)
    return JobClient(params, "543", HttpLwrInterface(params, transport)), transport


def test_setup_posts_jobs_with_job_id():
    client, transport = client_for([json.dumps({"job_id": "543", "working_directory": "C:\\lwr\\543\\working"})])
    config = client.setup()
    assert transport.calls[0]["path"] == "/jobs"
    assert transport.calls[0]["method"] == "POST"
    assert transport.calls[0]["args"] == {"job_id": "543"}
    assert config["working_directory"] == "C:\\lwr\\543\\working"  # Windows paths preserved


def test_setup_sends_tool_id_and_version():
    client, transport = client_for([json.dumps({"job_id": "543"})])
    client.setup("tool1", "1.0")
    assert transport.calls[0]["args"] == {"job_id": "543", "tool_id": "tool1", "tool_version": "1.0"}


def test_launch_sends_only_command_line_and_job_id():
    client, transport = client_for()
    client.launch("python x.py")
    assert transport.calls[0]["path"] == "/jobs/543/submit"
    assert transport.calls[0]["method"] == "POST"
    assert transport.calls[0]["args"] == {"command_line": "python x.py", "job_id": "543"}


def test_launch_sends_non_empty_optional_parameters_as_json():
    client, transport = client_for(submit_native_specification="-q fast")
    client.launch("cmd", dependencies_description={"requirements": []}, env=[{"name": "A", "value": "b"}],
                  remote_staging={"setup": []})
    args = transport.calls[0]["args"]
    assert json.loads(args["params"]) == {"native_specification": "-q fast"}
    assert json.loads(args["dependencies_description"]) == {"requirements": []}
    assert json.loads(args["env"]) == [{"name": "A", "value": "b"}]
    assert json.loads(args["remote_staging"]) == {"setup": []}
    assert "setup_params" not in args


def test_local_setup_computes_layout_and_sends_setup_params():
    client, transport = client_for(jobs_directory="/remote/staging", remote_sep="/",
                                   remote_property_galaxy_home="/galaxy")
    config = client.setup("tool1", "2.0")
    assert transport.calls == []
    assert config["working_directory"] == "/remote/staging/543/working"
    assert config["inputs_directory"] == "/remote/staging/543/inputs"
    assert config["system_properties"] == {"galaxy_home": "/galaxy", "separator": "/"}
    assert config["tool_id"] == "tool1"
    client.launch("cmd", job_config=config)
    assert json.loads(transport.calls[0]["args"]["setup_params"]) == {"job_id": "543", "tool_id": "tool1",
                                                                      "tool_version": "2.0"}


def test_token_is_sent_as_private_key():
    client, transport = client_for([b'{"status": "queued", "complete": "false"}'], private_token="s3cret")
    assert client.get_status() == "queued"
    assert transport.calls[0]["path"] == "/jobs/543/status"
    assert transport.calls[0]["args"]["private_key"] == "s3cret"


def test_tool_and_input_upload_with_file_body(tmp_path):
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text("print(1)")
    client, transport = client_for([b'{"path": "/lwr/543/tool_files/wrapper.py"}',
                                    b'{"path": "/lwr/543/inputs/wrapper.py"}'])
    assert client.put_file(str(wrapper), "tool") == {"path": "/lwr/543/tool_files/wrapper.py"}
    client.put_file(str(wrapper), "input")
    for call, type in zip(transport.calls, ("tool", "input")):
        assert call["path"] == "/jobs/543/files"
        assert call["method"] == "POST"
        assert call["args"] == {"name": "wrapper.py", "type": type, "job_id": "543"}
        assert call["body"] == b"print(1)"


def test_config_upload_body_is_contents(tmp_path):
    client, transport = client_for([b'{"path": "/lwr/543/configs/c.txt"}'])
    client.put_file(str(tmp_path / "c.txt"), "config", contents="rewritten é")
    assert transport.calls[0]["data"] == "rewritten é"
    assert transport.calls[0]["args"]["name"] == "c.txt"


def test_copy_action_copies_on_shared_file_system(tmp_path):
    source = tmp_path / "input.dat"
    source.write_text("shared")
    remote = tmp_path / "lwr" / "543" / "inputs" / "input.dat"
    client, transport = client_for([json.dumps({"path": str(remote)}).encode()])
    assert client.put_file(str(source), "input", action_type="copy") == {"path": str(remote)}
    assert [call["path"] for call in transport.calls] == ["/jobs/543/files/path"]
    assert transport.calls[0]["method"] == "GET"
    assert transport.calls[0]["body"] is None and transport.calls[0]["data"] is None
    assert remote.read_text() == "shared"


def test_download_output(tmp_path):
    client, transport = client_for([b"result"])
    client.fetch_output(str(tmp_path / "dataset_1.dat"), "dataset_1.dat", None, "transfer", "output")
    assert transport.calls[0]["path"] == "/jobs/543/files"
    assert transport.calls[0]["args"] == {"name": "dataset_1.dat", "type": "output", "job_id": "543"}
    assert (tmp_path / "dataset_1.dat").read_text() == "result"


def test_download_work_dir_output(tmp_path):
    client, transport = client_for([b"x"])
    client.fetch_output(str(tmp_path / "o.dat"), "sub/env_test", str(tmp_path), "transfer", "output_workdir")
    assert transport.calls[0]["args"]["type"] == "output_workdir"
    assert transport.calls[0]["args"]["name"] == "sub/env_test"


def test_missing_output_raises_output_not_found_naming_file(tmp_path):
    error = TransportError("GET ... failed: HTTP 404", status=404, server_message="job 543 has no output file")
    client, _ = client_for([error])
    with pytest.raises(OutputNotFoundException) as info:
        client.fetch_output(str(tmp_path / "dataset_9.dat"), "dataset_9.dat", None, "transfer", "output")
    assert "dataset_9.dat" in str(info.value)
    assert info.value.name == "dataset_9.dat"


def test_copy_of_missing_output_raises_output_not_found(tmp_path):
    client, _ = client_for([json.dumps({"path": str(tmp_path / "nope")}).encode()])
    with pytest.raises(OutputNotFoundException, match="'x.dat'"):
        client.fetch_output(str(tmp_path / "x.dat"), "x.dat", None, "copy", "output")


def test_none_action_fetches_nothing(tmp_path):
    client, transport = client_for()
    client.fetch_output(str(tmp_path / "x.dat"), "x.dat", None, "none", "output")
    assert transport.calls == []


def test_unknown_output_type_is_an_error(tmp_path):
    client, _ = client_for()
    with pytest.raises(ValueError, match="unknown output_type 'direct'"):
        client.fetch_output(str(tmp_path / "x"), "x", None, "transfer", "direct")


@pytest.mark.parametrize("method, path, http_method", [("kill", "/jobs/543/cancel", "PUT"),
                                                       ("clean", "/jobs/543", "DELETE")])
def test_kill_and_clean(method, path, http_method):
    client, transport = client_for()
    getattr(client, method)()
    assert (transport.calls[0]["path"], transport.calls[0]["method"]) == (path, http_method)


def test_managers_url_prefix_is_kept():
    client, transport = client_for(url="http://h:1/managers/fast/")
    client.kill()
    assert transport.calls[0]["path"] == "/managers/fast/jobs/543/cancel"


def test_url_without_scheme_gets_http():
    interface = HttpLwrInterface({"url": "h:1"}, RecordingTransport())
    assert interface.url("status", {"job_id": "1"}) == "http://h:1/jobs/1/status?job_id=1"


def test_retry_makes_exactly_the_configured_attempts_with_growing_pauses():
    attempts, pauses = [], []

    def flaky():
        attempts.append(1)
        raise TransportError("connection refused", url="http://h:1/x", transient=True)

    with pytest.raises(ServerUnavailable, match="after 5 attempts"):
        RetryPolicy(attempts=5, delay=0.1, jitter="none", sleep=pauses.append).call(flaky, "GET", "http://h:1/x")
    assert len(attempts) == 5
    assert pauses == [0.1, 0.2, 0.4, 0.8]


def test_retry_does_not_repeat_permanent_errors():
    attempts = []

    def refused():
        attempts.append(1)
        raise TransportError("HTTP 400", status=400, transient=False)

    with pytest.raises(TransportError):
        RetryPolicy(sleep=lambda _: None).call(refused, "GET", "http://h:1/x")
    assert len(attempts) == 1


class CacheInterface:
    """Answers the cache routes like a server whose cache becomes ready after the insert arrives."""

    def __init__(self, insert_fails=False):
        self.calls = []
        self.inserted = False
        self.insert_fails = insert_fails

    def execute(self, command, args=None, data=None, input_path=None, output_path=None):
        self.calls.append((command, dict(args or {}), data, input_path))
        if command == "cache_required":
            return "true"
        if command == "cache_insert":
            if self.insert_fails:
                raise TransportError("POST cache failed: HTTP 507", status=507)
            self.inserted = True
            return "null"
        if command == "file_available":
            return json.dumps({"token": "tok1", "ready": self.inserted})
        if command == "upload_file":
            return json.dumps({"path": "/lwr/543/inputs/" + args["name"]})
        raise AssertionError(command)


def test_caching_client_uploads_through_the_cache(tmp_path):
    from lwr.lwr_client import InputCachingJobClient
    from lwr.lwr_client.client import ClientCacher

    source = tmp_path / "input.dat"
    source.write_text("data")
    interface = CacheInterface()
    cacher = ClientCacher(2)
    try:
        client = InputCachingJobClient({"url": "http://h/"}, "543", interface, client_cacher=cacher)
        assert client.put_file(str(source), "input") == {"path": "/lwr/543/inputs/input.dat"}
    finally:
        cacher.shutdown()
    commands = [call[0] for call in interface.calls]
    assert commands[0] == "cache_required" and "cache_insert" in commands
    assert commands[-1] == "upload_file"
    insert = next(call for call in interface.calls if call[0] == "cache_insert")
    assert insert[1] == {"path": str(source)} and insert[3] == str(source)
    upload = interface.calls[-1]
    assert upload[1]["cache_token"] == "tok1" and upload[2] == b"" and upload[3] is None


def test_caching_client_reports_failed_cache_insert(tmp_path):
    from lwr.lwr_client import InputCachingJobClient
    from lwr.lwr_client.client import ClientCacher
    from lwr.lwr_client.exceptions import StagingError

    source = tmp_path / "input.dat"
    source.write_text("data")
    cacher = ClientCacher(1)
    try:
        client = InputCachingJobClient({"url": "http://h/"}, "543", CacheInterface(insert_fails=True),
                                       client_cacher=cacher)
        with pytest.raises(StagingError, match="caching .*input.dat.*507"):
            client.put_file(str(source), "input")
    finally:
        cacher.shutdown()


def test_path_parameters_are_quoted():
    interface = HttpLwrInterface({"url": "http://h:1/"}, RecordingTransport())
    assert interface.url("status", {"job_id": "../x"}) == "http://h:1/jobs/..%2Fx/status?job_id=..%2Fx"
