"""PathMapper: where Galaxy's local paths land on the server."""
import pytest

from lwr.lwr_client import PathMapper
from lwr.lwr_client.action_mapper import FileActionMapper

JOB_CONFIG = {
    "inputs_directory": "/lwr/staging/1/inputs",
    "outputs_directory": "/lwr/staging/1/outputs",
    "working_directory": "/lwr/staging/1/working",
    "unstructured_files_directory": "/lwr/staging/1/unstructured",
    "configs_directory": "/lwr/staging/1/configs",
    "system_properties": {"separator": "/"},
}


def path_mapper(default_action="transfer", paths=(), job_config=JOB_CONFIG):
    mapper = FileActionMapper(config={"default_action": default_action, "paths": list(paths)})
    return PathMapper(None, job_config, "/galaxy/jobs/1", action_mapper=mapper)


@pytest.mark.parametrize("method, local, expected", [
    ("remote_input_path_rewrite", "/galaxy/files/dataset_1.dat", "/lwr/staging/1/inputs/dataset_1.dat"),
    ("remote_output_path_rewrite", "/galaxy/files/dataset_2.dat", "/lwr/staging/1/outputs/dataset_2.dat"),
    ("remote_output_path_rewrite", "/galaxy/jobs/1/out.txt", "/lwr/staging/1/working/out.txt"),
    ("remote_version_path_rewrite", "/galaxy/jobs/1/GALAXY_VERSION_X", "/lwr/staging/1/outputs/COMMAND_VERSION"),
])
def test_staged_paths(method, local, expected):
    assert getattr(path_mapper(), method)(local) == expected


@pytest.mark.parametrize("method", ["remote_input_path_rewrite", "remote_output_path_rewrite",
                                    "remote_version_path_rewrite"])
def test_no_staging_keeps_the_path(method):
    assert getattr(path_mapper("none"), method)("/galaxy/files/dataset_1.dat") is None


def test_rewrite_action_gives_rewritten_path():
    mapper = path_mapper("none", [{"path": "/galaxy/files", "action": "rewrite",
                                   "source_directory": "/galaxy/files", "destination_directory": "/mnt/galaxy"}])
    assert mapper.remote_input_path_rewrite("/galaxy/files/a/dataset_1.dat") == "/mnt/galaxy/a/dataset_1.dat"


def test_windows_server_separator():
    config = dict(JOB_CONFIG, inputs_directory="C:\\lwr\\1\\inputs", system_properties={"separator": "\\"})
    assert path_mapper(job_config=config).remote_input_path_rewrite("/g/d.dat") == "C:\\lwr\\1\\inputs\\d.dat"


def test_arbitrary_rewrite_stages_unstructured_files(tmp_path):
    index = tmp_path / "idx" / "a.fa"
    index.parent.mkdir()
    index.write_text("x")
    mapper = path_mapper(paths=[{"path": str(tmp_path / "idx"), "path_types": "unstructured"}])
    remote, actions = mapper.check_for_arbitrary_rewrite(str(index))
    assert remote.startswith("/lwr/staging/1/unstructured/") and remote.endswith("/a.fa")
    assert [action.action_type for action in actions] == ["transfer"]
    assert path_mapper().check_for_arbitrary_rewrite("/elsewhere/x") == (None, [])
