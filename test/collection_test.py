"""Which extra job files come back: patterns, Galaxy collector descriptions, galaxy.json references."""
import os

import pytest

from lwr.lwr_client.action_mapper import FileActionMapper
from lwr.lwr_client.staging import ClientOutputs, LwrOutputs
from lwr.lwr_client.staging.collection import (DEFAULT_DYNAMIC_COLLECTION_PATTERN, OutputMatcher,
                                               dynamic_file_source_references)
from lwr.lwr_client.staging.down import ResultsCollector


@pytest.mark.parametrize("name, current, legacy", [
    ("galaxy.json", True, True),
    ("galaxy.json.bak", True, False),  # current clients match prefixes
    ("primary_1_x_visible_txt", True, True),
    ("metadata_results_out", True, True),
    ("__instrument_core_epoch_start", True, True),
    ("dataset_3.dat", True, True),
    ("dataset_3_files/a/b", True, True),
    ("outputs_populated/x.json", True, False),
    ("tool_stdout", True, False),
    ("tool_stderr", True, False),
    ("job_stdout", False, False),
    ("random.txt", False, False),
])
def test_default_patterns_of_current_and_legacy_clients(name, current, legacy):
    assert OutputMatcher(DEFAULT_DYNAMIC_COLLECTION_PATTERN).matches(name) is current
    assert OutputMatcher(None).matches(name) is legacy


@pytest.mark.parametrize("description, name, wanted", [
    ({"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt"}, "one.txt", True),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt"}, "sub/one.txt", True),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt", "directory": "out"}, "out/one.txt", True),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt", "directory": "out"}, "one.txt", False),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>[^/]+)\.txt", "directory": "out/"}, "out/a.txt", True),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>[^/]+)\.txt", "directory": "out",
      "match_relative_path": True}, "out/deep/a.txt", False),
    ({"discover_via": "pattern", "pattern": r"(?P<designation>.+)\.txt", "directory": "out",
      "match_relative_path": True}, "out/deep/a.txt", True),
    ({"discover_via": "pattern", "pattern": "__designation_and_ext__", "directory": "out"}, "out/x.bed", True),
    ({"discover_via": "pattern", "pattern": "__default__"}, "primary_DATASET_ID_a_visible_txt", True),
    ({"discover_via": "tool_provided_metadata"}, "anything", False),
    ({"discover_via": "pattern", "pattern": "(unclosed"}, "(unclosed", False),  # ignored, logged
])
def test_collector_descriptions(description, name, wanted):
    assert OutputMatcher([], [description]).matches(name) is wanted


def test_galaxy_json_references_both_styles():
    sources = [
        {"path": "galaxy.json", "type": "galaxy",
         "contents": '{"out": {"filename": "a.txt", "elements": [{"filename": "sub/b.txt"}]}}'},
        {"path": "legacy.json", "type": "legacy_galaxy",
         "contents": '{"filename": "c.txt"}\n\n{"extra_files": "d_files"}\nnot json\n'},
    ]
    references = dynamic_file_source_references(sources)
    assert references == {"filename": ["a.txt", "sub/b.txt", "c.txt"], "extra_files": ["d_files"]}


def test_client_outputs_round_trip_keeps_current_keys_and_the_0_2_0_shape():
    current = ClientOutputs("/w", ["/o/1.dat"], metadata_directory="/m", dynamic_outputs=["x.*"],
                            dynamic_file_sources=[{"path": "galaxy.json", "type": "galaxy"}],
                            dataset_collector_descriptions=[{"pattern": "y"}])
    assert ClientOutputs.from_dict(current.to_dict()) == current
    assert set(ClientOutputs("/w", []).to_dict()) == {"working_directory", "work_dir_outputs", "output_files",
                                                      "version_file"}


class _Recorder:
    def __init__(self, missing=()):
        self.collected = []
        self.missing = missing

    def collect_output(self, results_collector, output_type, action, name):
        if name in self.missing:
            raise FileNotFoundError("output %r was not produced by the job" % name)
        self.collected.append((output_type, name, action.path))
        return True


def test_results_collector_brings_metadata_files_galaxy_json_references_and_directory_outputs(tmp_path):
    outputs = ClientOutputs(
        str(tmp_path / "w"), [str(tmp_path / "dataset_1.dat"), str(tmp_path / "dataset_2.dat")],
        work_dir_outputs=[(str(tmp_path / "w" / "outdir"), str(tmp_path / "dataset_1.dat")),
                          (str(tmp_path / "w" / "missing.txt"), str(tmp_path / "dataset_2.dat"))],
        metadata_directory=str(tmp_path / "m"), dynamic_outputs=DEFAULT_DYNAMIC_COLLECTION_PATTERN,
        dataset_collector_descriptions=[{"pattern": r"(?P<designation>.+)\.bed", "directory": "beds"}])
    lwr_outputs = LwrOutputs(
        ["outdir/a", "outdir/sub/b", "galaxy.json", "named.txt", "beds/x.bed", "other.txt"], [], "/",
        metadata_directory_contents=["tool_stdout", "job_stdout", "metadata_out_x"],
        realized_dynamic_file_sources=[{"path": "galaxy.json", "type": "galaxy",
                                        "contents": '{"filename": "named.txt"}'}])
    recorder = _Recorder(missing=("missing.txt",))
    failures = ResultsCollector(recorder, FileActionMapper(config={"default_action": "transfer"}), outputs,
                                lwr_outputs).collect()
    assert failures == []  # a from_work_dir file the tool did not write is not a failure
    got = {(output_type, name): path for output_type, name, path in recorder.collected}
    assert got == {
        ("output_workdir", "outdir/a"): str(tmp_path / "dataset_1.dat" / "a"),
        ("output_workdir", "outdir/sub/b"): os.path.join(str(tmp_path / "dataset_1.dat"), "sub", "b"),
        ("output_workdir", "galaxy.json"): str(tmp_path / "w" / "galaxy.json"),
        ("output_workdir", "named.txt"): str(tmp_path / "w" / "named.txt"),
        ("output_workdir", "beds/x.bed"): str(tmp_path / "w" / "beds" / "x.bed"),
        ("output_metadata", "tool_stdout"): str(tmp_path / "m" / "tool_stdout"),
        ("output_metadata", "metadata_out_x"): str(tmp_path / "m" / "metadata_out_x"),
    }


def test_results_collector_of_a_0_2_0_client_collects_what_0_2_0_did(tmp_path):
    outputs = ClientOutputs(str(tmp_path / "w"), [])
    lwr_outputs = LwrOutputs(["galaxy.json", "galaxy.json.bak", "tool_stdout"], [], "/",
                             metadata_directory_contents=["tool_stdout"])
    recorder = _Recorder()
    ResultsCollector(recorder, FileActionMapper(config={"default_action": "transfer"}), outputs,
                     lwr_outputs).collect()
    assert [(output_type, name) for output_type, name, _ in recorder.collected] == [("output_workdir", "galaxy.json")]
