"""ResultsCollector / finish_job: what is collected, from where, and the cleanup policy."""
import pytest

from lwr.lwr_client import ClientOutputs, LwrOutputs, finish_job
from lwr.lwr_client.action_mapper import FileActionMapper
from lwr.lwr_client.staging.down import ResultsCollector


class RecordingCollector:
    def __init__(self, fail_on=()):
        self.collected = []
        self.fail_on = fail_on

    def collect_output(self, results_collector, output_type, action, name):
        if action.path in self.fail_on:
            raise IOError("cannot fetch %s" % action.path)
        self.collected.append((output_type, action.path, name))
        return True


def outputs(tmp_path):
    wd = str(tmp_path / "w")
    return wd, ClientOutputs(wd, [str(tmp_path / "dataset_1.dat"), str(tmp_path / "dataset_2.dat"),
                                  str(tmp_path / "dataset_77.dat")],
                             work_dir_outputs=[(wd + "/sub/env_test", str(tmp_path / "dataset_77.dat"))],
                             version_file=str(tmp_path / "VERSION"))


def test_collects_every_kind_of_output(tmp_path):
    wd, client_outputs = outputs(tmp_path)
    lwr_outputs = LwrOutputs(["sub/env_test", "galaxy.json", "primary_1_x", "junk.txt", "metadata_3"],
                             ["dataset_1.dat", "dataset_1_files/extra", "dataset_1_files/d/e", "COMMAND_VERSION"],
                             "/")
    collector = RecordingCollector()
    mapper = FileActionMapper(config={"default_action": "transfer"})
    assert ResultsCollector(collector, mapper, client_outputs, lwr_outputs).collect() == []
    assert collector.collected == [
        ("output_workdir", str(tmp_path / "dataset_77.dat"), "sub/env_test"),
        ("output", str(tmp_path / "dataset_1.dat"), None),
        ("output", str(tmp_path / "dataset_1_files" / "extra"), "dataset_1_files/extra"),
        ("output", str(tmp_path / "dataset_1_files" / "d" / "e"), "dataset_1_files/d/e"),
        ("output", str(tmp_path / "VERSION"), "COMMAND_VERSION"),
        ("output_workdir", wd + "/galaxy.json", "galaxy.json"),
        ("output_workdir", wd + "/primary_1_x", "primary_1_x"),
        ("output_workdir", wd + "/metadata_3", "metadata_3"),
    ]
    assert client_outputs.output_files[-1].endswith("dataset_77.dat")  # the caller's list is not mutated


def test_windows_server_names_are_converted(tmp_path):
    wd, client_outputs = outputs(tmp_path)
    lwr_outputs = LwrOutputs.from_status_response({
        "working_directory_contents": ["sub\\env_test"],
        "outputs_directory_contents": ["dataset_1_files\\x\\y"],
        "system_properties": {"separator": "\\"}})
    collector = RecordingCollector()
    ResultsCollector(collector, FileActionMapper(config={}), client_outputs, lwr_outputs).collect()
    assert ("output_workdir", str(tmp_path / "dataset_77.dat"), "sub\\env_test") in collector.collected
    assert ("output", str(tmp_path / "dataset_1_files" / "x" / "y"), "dataset_1_files\\x\\y") in collector.collected


def test_failures_are_collected_not_raised(tmp_path):
    _, client_outputs = outputs(tmp_path)
    lwr_outputs = LwrOutputs([], ["dataset_1.dat", "dataset_2.dat"])
    collector = RecordingCollector(fail_on=(str(tmp_path / "dataset_1.dat"),))
    failures = ResultsCollector(collector, FileActionMapper(config={}), client_outputs, lwr_outputs).collect()
    assert [str(f) for f in failures] == ["cannot fetch %s" % (tmp_path / "dataset_1.dat")]
    assert ("output", str(tmp_path / "dataset_2.dat"), None) in collector.collected


class FakeClient:
    default_file_action = "transfer"
    action_config_path = None
    files_endpoint = None

    def __init__(self, fail_fetch=False):
        self.fetched = []
        self.cleaned = 0
        self.fail_fetch = fail_fetch

    def fetch_output(self, path, name, working_directory, action_type, output_type):
        if self.fail_fetch:
            raise IOError("fetch failed")
        self.fetched.append((output_type, path, name, action_type))

    def clean(self):
        self.cleaned += 1


@pytest.mark.parametrize("fail_fetch, cleanup_job, completed, cleaned", [
    (False, "always", True, 1),
    (False, "onsuccess", True, 1),
    (False, "never", True, 0),
    (True, "always", True, 1),
    (True, "onsuccess", True, 0),
    (True, "never", True, 0),
    (False, "onsuccess", False, 1),
])
def test_cleanup_policy(tmp_path, fail_fetch, cleanup_job, completed, cleaned):
    client = FakeClient(fail_fetch)
    client_outputs = ClientOutputs(str(tmp_path), [str(tmp_path / "dataset_1.dat")])
    failures = finish_job(client, cleanup_job, completed, client_outputs, LwrOutputs([], ["dataset_1.dat"]))
    assert client.cleaned == cleaned
    assert bool(failures) == (fail_fetch and completed)


def test_client_collector_fetches_only_locally_staged(tmp_path):
    client = FakeClient()
    client.default_file_action = "remote_copy"
    client_outputs = ClientOutputs(str(tmp_path), [str(tmp_path / "dataset_1.dat")])
    finish_job(client, "never", True, client_outputs, LwrOutputs(["galaxy.json"], ["dataset_1.dat"]))
    assert client.fetched == []
    client.default_file_action = "copy"
    finish_job(client, "never", True, client_outputs, LwrOutputs(["galaxy.json"], ["dataset_1.dat"]))
    assert client.fetched == [("output", str(tmp_path / "dataset_1.dat"), None, "copy"),
                              ("output_workdir", str(tmp_path / "galaxy.json"), "galaxy.json", "copy")]


def test_client_outputs_round_trip(tmp_path):
    _, client_outputs = outputs(tmp_path)
    assert ClientOutputs.from_dict(client_outputs.to_dict()) == client_outputs
    assert client_outputs.to_dict()["work_dir_outputs"] == [[str(tmp_path / "w") + "/sub/env_test",
                                                             str(tmp_path / "dataset_77.dat")]]
