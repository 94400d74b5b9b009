"""FileStager / submit_job with a recording fake client (the client is the edge; the stager is under test)."""
import json
import os
import threading

import pytest

from lwr.lwr_client import ClientJobDescription, ClientOutputs, submit_job
from lwr.lwr_client.exceptions import StagingError
from lwr.lwr_client.job_directory import RemoteJobDirectory
from lwr.lwr_client.setup_handler import build_job_config
from lwr.lwr_client.util import unique_path_prefix

REMOTE = "/lwr/staging"


class Tool:
    def __init__(self, tool_dir):
        self.id = "tool1"
        self.version = "1.0"
        self.tool_dir = tool_dir


class FakeClient:
    """Records put_file / launch; answers setup like a server whose staging dir is ``REMOTE``."""

    def __init__(self, default_file_action="transfer", action_config_path=None, files_endpoint=None,
                 jobs_directory=None, transfer_threads=1, assigned_id=None, put_file_hook=None):
        self.job_id = "123"
        self.default_file_action = default_file_action
        self.action_config_path = action_config_path
        self.files_endpoint = files_endpoint
        self.jobs_directory = jobs_directory
        self.transfer_threads = transfer_threads
        self.assigned_id = assigned_id
        self.put_file_hook = put_file_hook
        self.put_files = []
        self.launched = None
        self.lock = threading.Lock()

    def setup(self, tool_id=None, tool_version=None):
        job_id = self.assigned_id or self.job_id
        return build_job_config(job_id, RemoteJobDirectory(REMOTE, job_id, "/"), {"separator": "/"},
                                tool_id, tool_version)

    def put_file(self, path, input_type, name=None, contents=None, action_type="transfer"):
        if self.put_file_hook:
            self.put_file_hook(path)
        name = name or os.path.basename(path)
        with self.lock:
            self.put_files.append({"path": path, "type": input_type, "name": name, "contents": contents,
                                   "action_type": action_type})
        return {"path": RemoteJobDirectory(REMOTE, self.job_id, "/").calculate_path(name, input_type)}

    def launch(self, **kwds):
        self.launched = kwds

    def uploads(self, type=None):
        return [(p["type"], p["name"]) for p in self.put_files if type is None or p["type"] == type]


@pytest.fixture
def job(tmp_path):
    """A Galaxy-like job: tool wrapper, input with extra files, working dir, config, outputs."""
    paths = {"tool_dir": tmp_path / "tool", "wd": tmp_path / "working", "files": tmp_path / "files"}
    for directory in paths.values():
        directory.mkdir()
    (paths["tool_dir"] / "wrapper.py").write_text("print(1)")
    (paths["files"] / "dataset_1.dat").write_text("input one")
    (paths["files"] / "dataset_2.dat").write_text("input two")
    extra = paths["files"] / "dataset_1_files" / "moo"
    extra.mkdir(parents=True)
    (extra / "cow.txt").write_text("moo")
    (paths["wd"] / "config.txt").write_text("in=%s\n" % (paths["files"] / "dataset_1.dat"))
    return paths


def description(job, command=None, rewrite_paths=True, **kwds):
    files = job["files"]
    if command is None:
        command = "python %s --in %s --extra %s --out %s --config %s" % (
            job["tool_dir"] / "wrapper.py", files / "dataset_1.dat", files / "dataset_1_files",
            files / "dataset_3.dat", job["wd"] / "config.txt")
    outputs = ClientOutputs(str(job["wd"]), [str(files / "dataset_3.dat")], version_file=str(job["wd"] / "VERSION"))
    return ClientJobDescription(Tool(str(job["tool_dir"])), command, [str(job["wd"] / "config.txt")],
                                [str(files / "dataset_1.dat"), str(files / "dataset_2.dat")], outputs,
                                str(job["wd"]), rewrite_paths=rewrite_paths, **kwds)


def test_tool_wrapper_uploaded_and_command_rewritten(job):
    client = FakeClient()
    submit_job(client, description(job))
    assert ("tool", "wrapper.py") in client.uploads()
    command = client.launched["command_line"]
    assert "%s/123/tool_files/wrapper.py" % REMOTE in command
    assert str(job["tool_dir"]) not in command


def test_referenced_inputs_and_extra_files_uploaded_and_rewritten(job):
    client = FakeClient()
    submit_job(client, description(job))
    inputs = client.uploads("input")
    assert ("input", "dataset_1.dat") in inputs
    assert ("input", "dataset_1_files/moo/cow.txt") in inputs
    assert ("input", "dataset_2.dat") not in inputs  # not referenced
    command = client.launched["command_line"]
    assert "--in %s/123/inputs/dataset_1.dat" % REMOTE in command
    assert "--out %s/123/outputs/dataset_3.dat" % REMOTE in command
    assert "--config %s/123/configs/config.txt" % REMOTE in command
    # The extra-files directory itself (Galaxy's $input.extra_files_path) points at its staged copy.
    assert "--extra %s/123/inputs/dataset_1_files " % REMOTE in command
    assert str(job["files"]) not in command


def test_without_rewriting_inputs_are_uploaded_and_only_tool_paths_change(job):
    client = FakeClient()
    desc = description(job, rewrite_paths=False)
    submit_job(client, desc)
    assert {("input", "dataset_1.dat"), ("input", "dataset_2.dat")} <= set(client.uploads("input"))
    # Only the tool wrapper is still rewritten (spec: tool renames are forced).
    expected = desc.command_line.replace(str(job["tool_dir"] / "wrapper.py"), REMOTE + "/123/tool_files/wrapper.py")
    assert client.launched["command_line"] == expected


def test_config_rewritten_and_uploaded_with_contents(job):
    client = FakeClient()
    submit_job(client, description(job))
    config_uploads = [p for p in client.put_files if p["type"] == "config"]
    assert len(config_uploads) == 1
    assert config_uploads[0]["contents"] == "in=%s/123/inputs/dataset_1.dat\n" % REMOTE
    assert ("workdir", "config.txt") in client.uploads()


def test_requirements_env_and_remote_staging_passed_to_launch(job):
    client = FakeClient()
    requirements = {"requirements": [{"name": "dep1", "version": "1.1", "type": "package"}]}
    env = [{"name": "A", "value": "b"}]
    job_id = submit_job(client, description(job, dependencies_description=requirements, env=env))
    assert job_id == "123"
    assert client.launched["dependencies_description"] == requirements
    assert client.launched["env"] == env
    staging = client.launched["remote_staging"]
    assert "setup" not in staging  # everything was uploaded by the client
    assert staging["action_mapper"]["default_action"] == "transfer"
    assert staging["client_outputs"]["output_files"] == [str(job["files"] / "dataset_3.dat")]
    json.dumps(staging)  # must be serializable


def test_server_assigned_job_id_is_adopted(job):
    client = FakeClient(assigned_id="abc")
    assert submit_job(client, description(job)) == "abc"
    assert client.job_id == "abc"


def test_copy_action_is_passed_to_put_file(job):
    client = FakeClient(default_file_action="copy")
    submit_job(client, description(job))
    actions = {(p["type"], p["action_type"]) for p in client.put_files}
    assert ("input", "copy") in actions and ("tool", "copy") in actions
    assert ("config", "message") in actions


def test_none_action_uploads_only_configs_and_keeps_paths(job):
    client = FakeClient(default_file_action="none")
    desc = description(job)
    submit_job(client, desc)
    assert {p["type"] for p in client.put_files} == {"workdir", "config"}  # workdir forced to copy
    assert "--in %s" % (job["files"] / "dataset_1.dat") in client.launched["command_line"]


def test_remote_copy_sends_setup_actions_instead_of_uploading(job):
    client = FakeClient(default_file_action="remote_copy")
    submit_job(client, description(job))
    assert client.uploads() == [("config", "config.txt")]  # only the rewritten config (a message)
    setup = client.launched["remote_staging"]["setup"]
    by_name = {(entry["type"], entry["name"]): entry["action"] for entry in setup}
    assert by_name[("input", "dataset_1.dat")] == {"path": str(job["files"] / "dataset_1.dat"),
                                                    "action_type": "remote_copy"}
    assert ("input", "dataset_1_files/moo/cow.txt") in by_name
    assert "--in %s/123/inputs/dataset_1.dat" % REMOTE in client.launched["command_line"]


def test_local_setup_sends_config_as_message_action(job):
    client = FakeClient(default_file_action="remote_copy", jobs_directory=REMOTE)
    submit_job(client, description(job))
    assert client.put_files == []
    setup = client.launched["remote_staging"]["setup"]
    messages = [entry for entry in setup if entry["action"]["action_type"] == "message"]
    assert [(m["type"], m["name"]) for m in messages] == [("config", "config.txt")]
    assert messages[0]["action"]["contents"].startswith("in=%s/123/inputs/" % REMOTE)


def test_remote_transfer_actions_carry_files_endpoint_url(job):
    client = FakeClient(default_file_action="remote_transfer",
                        files_endpoint="http://galaxy/api/jobs/1/files?job_key=k")
    submit_job(client, description(job))
    actions = [entry["action"] for entry in client.launched["remote_staging"]["setup"]]
    urls = [a["url"] for a in actions if a["action_type"] == "remote_transfer"]
    assert urls and all(url.startswith("http://galaxy/api/jobs/1/files?job_key=k&path=") for url in urls)


def test_unstructured_files_found_staged_and_rewritten(job, tmp_path):
    index = tmp_path / "idx" / "bwa"
    index.mkdir(parents=True)
    (index / "human.fa").write_text("fa")
    (index / "human.fa.fai").write_text("fai")
    (tmp_path / "idx" / "seq").mkdir()
    (tmp_path / "idx" / "seq" / "full").write_text("seq")
    config = tmp_path / "actions.yaml"
    config.write_text("paths:\n  - path: %s\n    path_types: '*any*'\n    depth: 2\n" % (tmp_path / "idx"))
    client = FakeClient(action_config_path=str(config))
    command = "bwa %s %s" % (index / "human.fa", job["files"] / "dataset_1.dat")
    submit_job(client, description(job, command=command))
    prefix = unique_path_prefix(str(index / "human.fa"))
    assert sorted(client.uploads("unstructured")) == [
        ("unstructured", "%s/bwa/human.fa" % prefix), ("unstructured", "%s/bwa/human.fa.fai" % prefix),
        ("unstructured", "%s/seq/full" % prefix)]
    assert client.launched["command_line"].startswith("bwa %s/123/unstructured/%s/bwa/human.fa " % (REMOTE, prefix))


def test_missing_referenced_input_is_skipped(job):
    client = FakeClient()
    desc = description(job)
    desc.input_files.append("/foo/bar/x")
    desc.command_line += " /foo/bar/x"
    submit_job(client, desc)
    assert "/foo/bar/x" in client.launched["command_line"]


def test_uploads_run_in_parallel(job):
    barrier = threading.Barrier(2, timeout=10)
    client = FakeClient(transfer_threads=2, put_file_hook=lambda path: barrier.wait()
                        if path.endswith(("wrapper.py", "dataset_1.dat")) else None)
    submit_job(client, description(job))  # would time out (BrokenBarrierError) if uploads were serial
    assert ("tool", "wrapper.py") in client.uploads() and ("input", "dataset_1.dat") in client.uploads()
    assert "%s/123/inputs/dataset_1.dat" % REMOTE in client.launched["command_line"]


def test_parallel_upload_failure_is_raised(job):
    def fail(path):
        if path.endswith("dataset_1.dat"):
            raise StagingError("disk full")

    client = FakeClient(transfer_threads=2, put_file_hook=fail)
    with pytest.raises(StagingError, match="disk full"):
        submit_job(client, description(job))
    assert client.launched is None
