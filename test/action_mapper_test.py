"""The action mapper: defaults per path type, mappers, config formats, serialization, actions."""
import json
import os

import pytest

from lwr.lwr_client.action_mapper import FileActionMapper, from_dict, load_action_config
from lwr.lwr_client.actions import MessageAction, RemoteCopyAction, RemoteTransferAction
from lwr.lwr_client.exceptions import FileActionConfigError, StagingError
from lwr.lwr_client.util import PathHelper, unique_path_prefix
from test.support.files_server import FilesServer


class Client:
    def __init__(self, default_file_action=None, action_config_path=None, files_endpoint=None):
        self.default_file_action = default_file_action
        self.action_config_path = action_config_path
        self.files_endpoint = files_endpoint


def mapper_for(paths, default_action="transfer", files_endpoint=None):
    return FileActionMapper(config={"default_action": default_action, "paths": paths,
                                    "files_endpoint": files_endpoint})


@pytest.mark.parametrize("default, type, expected", [
    ("transfer", "input", "transfer"),
    ("transfer", "tool", "transfer"),
    ("transfer", "output", "transfer"),
    ("transfer", "unstructured", "none"),
    ("copy", "config", "copy"),
    ("none", "input", "none"),
    ("none", "workdir", "copy"),
    ("none", "output_workdir", "copy"),
    ("remote_copy", "workdir", "remote_copy"),
    ("remote_copy", "output", "remote_copy"),
])
def test_default_action_per_path_type(default, type, expected):
    assert mapper_for([], default).action("/galaxy/x.dat", type).action_type == expected


@pytest.mark.parametrize("entry, path, type, expected", [
    ({"path": "/data/files"}, "/data/files/a.dat", "input", "transfer"),
    ({"path": "/data/files", "action": "copy"}, "/data/files/a/b.dat", "output", "copy"),
    ({"path": "/data/files", "action": "copy"}, "/data/filesX/a.dat", "input", "none"),
    ({"path": "/data/files", "action": "copy"}, "/data/files/../other/a.dat", "input", "none"),
    ({"path": "/data/*.fa", "match_type": "glob", "action": "copy"}, "/data/x.fa", "input", "copy"),
    ({"path": "/data/*.fa", "match_type": "glob", "action": "copy"}, "/data/x.fq", "input", "none"),
    ({"path": r".*/dataset_\d+\.dat", "match_type": "regex", "action": "copy"}, "/g/dataset_7.dat", "input", "copy"),
    ({"path": "/data", "action": "copy", "path_types": "input"}, "/data/a", "output", "none"),
    ({"path": "/data", "action": "copy", "path_types": "input,tool"}, "/data/a", "tool", "copy"),
    ({"path": "/data", "action": "transfer"}, "/data/a", "unstructured", "none"),
    ({"path": "/data", "action": "transfer", "path_types": "*any*"}, "/data/a", "unstructured", "transfer"),
    ({"path": "/data", "action": "transfer", "path_types": "*defaults*,unstructured"}, "/data/a",
     "unstructured", "transfer"),
])
def test_mapper_matching(entry, path, type, expected):
    assert mapper_for([entry], default_action="none").action(path, type).action_type == expected


def test_first_matching_mapper_wins():
    mapper = mapper_for([{"path": "/data/a", "action": "copy"}, {"path": "/data", "action": "remote_copy"}])
    assert mapper.action("/data/a/x", "input").action_type == "copy"
    assert mapper.action("/data/b/x", "input").action_type == "remote_copy"


@pytest.mark.parametrize("extension, text", [
    (".json", json.dumps({"paths": [{"path": "/data", "action": "copy", "path_types": "*any*", "depth": 1}]})),
    (".yaml", "paths:\n  - path: /data\n    action: copy\n    path_types: '*any*'\n    depth: 1\n"),
    (".yml", "paths:\n  - path: /data\n    action: copy\n    path_types: '*any*'\n    depth: 1\n"),
    (".conf", "paths:\n  - path: /data\n    action: copy\n    path_types: '*any*'\n    depth: 1\n"),
    (".ini", "[/data]\naction = copy\npath_types = *any*\ndepth = 1\n"),
])
def test_file_action_config_formats(tmp_path, extension, text):
    config = tmp_path / ("actions" + extension)
    config.write_text(text)
    mapper = FileActionMapper(Client(default_file_action="none", action_config_path=str(config)))
    action = mapper.action("/data/x", "unstructured")
    assert action.action_type == "copy"
    assert action.mapper.depth == 1
    assert mapper.action("/elsewhere/x", "input").action_type == "none"


@pytest.mark.parametrize("entry, message", [
    ({"path": "/data", "action": "teleport"}, "entry 1 (path '/data'): unknown action 'teleport'"),
    ({"path": "/data", "match_type": "fuzzy"}, "entry 1 (path '/data'): unknown match_type 'fuzzy'"),
    ({"path": "/data", "path_types": "input,bogus"}, "unknown path type 'bogus'"),
    ({"path": "/data", "depth": "deep"}, "depth must be an integer"),
    ({"path": "/data", "action": "rewrite", "source_directory": "/data"}, "needs 'destination_directory'"),
    ({"path": "/data", "action": "copy", "sorce_directory": "/x"}, "key 'sorce_directory' is not valid"),
    ({"path": "(", "match_type": "regex"}, "invalid regex"),
    ({"action": "copy"}, "entry 1 has no 'path'"),
])
def test_bad_config_entries_name_the_entry(tmp_path, entry, message):
    config = tmp_path / "actions.json"
    config.write_text(json.dumps({"paths": [entry]}))
    with pytest.raises(FileActionConfigError) as info:
        FileActionMapper(Client(action_config_path=str(config)))
    assert message in str(info.value)
    assert str(config) in str(info.value)


def test_second_entry_is_named(tmp_path):
    config = tmp_path / "actions.yaml"
    config.write_text("paths:\n  - path: /a\n  - path: /b\n    action: nope\n")
    with pytest.raises(FileActionConfigError, match=r"entry 2 \(path '/b'\): unknown action 'nope'"):
        FileActionMapper(Client(action_config_path=str(config)))


def test_unknown_default_action_is_an_error():
    with pytest.raises(FileActionConfigError, match="unknown default_file_action 'fling'"):
        FileActionMapper(Client(default_file_action="fling"))


def test_unreadable_config_is_an_error(tmp_path):
    with pytest.raises(FileActionConfigError, match="cannot read"):
        load_action_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(FileActionConfigError, match="not valid"):
        load_action_config(str(bad))


def test_mapper_to_dict_round_trip():
    paths = [
        {"path": "/data", "action": "copy", "path_types": "input,tool", "depth": 0},
        {"path": "/idx/*", "match_type": "glob", "action": "transfer", "path_types": "*any*", "depth": 2},
        {"path": "/shared", "action": "rewrite", "path_types": "unstructured",
         "source_directory": "/shared", "destination_directory": "/mnt/shared"},
        {"path": ".*\\.dat", "match_type": "regex", "action": "remote_transfer"},
    ]
    original = mapper_for(paths, default_action="remote_copy", files_endpoint="http://g/api/jobs/1/files?k=1")
    rebuilt = FileActionMapper(config=json.loads(json.dumps(original.to_dict())))
    assert rebuilt.to_dict() == original.to_dict()
    for path, type in [("/data/x", "input"), ("/idx/a", "unstructured"), ("/shared/y", "unstructured"),
                       ("/g/d.dat", "output"), ("/other", "output")]:
        assert rebuilt.action(path, type).to_dict() == original.action(path, type).to_dict()


@pytest.mark.parametrize("action", [
    RemoteCopyAction("/a/b.dat"),
    RemoteTransferAction("/a/b.dat", file_type="input", files_endpoint="http://g/files?job_key=k"),
    MessageAction("contents é"),
    mapper_for([]).action("/x", "unstructured"),
    mapper_for([{"path": "/s", "action": "rewrite", "source_directory": "/s",
                 "destination_directory": "/d"}]).action("/s/x", "input"),
])
def test_action_to_dict_from_dict_round_trip(action):
    rebuilt = from_dict(json.loads(json.dumps(action.to_dict())))
    assert type(rebuilt) is type(action)
    assert rebuilt.to_dict() == action.to_dict()


@pytest.mark.parametrize("action_dict, message", [
    ({"action_type": "evil", "path": "/x"}, "unknown action_type 'evil'"),
    ({"path": "/x"}, "unknown action_type None"),
    ({"action_type": "remote_copy"}, "needs a string path"),
    ({"action_type": "remote_transfer", "path": "/x"}, "needs a url"),
    ({"action_type": "message", "contents": 3}, "string contents"),
    ("remote_copy", "must be an object"),
])
def test_from_dict_rejects_bad_actions(action_dict, message):
    with pytest.raises(FileActionConfigError, match=message):
        from_dict(action_dict)


def test_remote_transfer_url_from_files_endpoint():
    with_query = RemoteTransferAction("/g/my data.dat", file_type="input", files_endpoint="http://g/files?job_key=k")
    assert with_query.url == "http://g/files?job_key=k&path=/g/my%20data.dat&file_type=input"
    without = RemoteTransferAction("/g/x", file_type="output", files_endpoint="http://g/files")
    assert without.url == "http://g/files?path=/g/x&file_type=output"


def test_remote_transfer_without_endpoint_is_an_error():
    with pytest.raises(FileActionConfigError, match="needs files_endpoint"):
        mapper_for([], default_action="remote_transfer").action("/g/x", "input")


def test_remote_copy_writes_both_ways_creating_parents(tmp_path):
    source = tmp_path / "galaxy" / "in.dat"
    source.parent.mkdir()
    source.write_text("input")
    RemoteCopyAction(str(source)).write_to_path(str(tmp_path / "job" / "inputs" / "in.dat"))
    assert (tmp_path / "job" / "inputs" / "in.dat").read_text() == "input"
    produced = tmp_path / "job" / "outputs" / "out.dat"
    produced.parent.mkdir(parents=True)
    produced.write_text("output")
    RemoteCopyAction(str(tmp_path / "galaxy" / "new" / "out.dat")).write_from_path(str(produced))
    assert (tmp_path / "galaxy" / "new" / "out.dat").read_text() == "output"


def test_remote_copy_of_missing_file_is_a_staging_error(tmp_path):
    with pytest.raises(StagingError, match="remote_copy of"):
        RemoteCopyAction(str(tmp_path / "missing")).write_to_path(str(tmp_path / "dest"))


def test_message_action_writes_contents(tmp_path):
    MessageAction("héllo").write_to_path(str(tmp_path / "configs" / "c.txt"))
    assert (tmp_path / "configs" / "c.txt").read_text(encoding="utf-8") == "héllo"


@pytest.mark.parametrize("action_type", ["none", "transfer", "copy"])
def test_local_actions_cannot_be_written_by_the_server(action_type, tmp_path):
    action = mapper_for([], default_action=action_type).action("/x", "input")
    action.write_from_path(str(tmp_path / "anything"))  # a no-op
    with pytest.raises(StagingError):
        action.write_to_path(str(tmp_path / "anything"))
    assert not (tmp_path / "anything").exists()


def test_remote_transfer_against_files_server(tmp_path):
    galaxy_input = tmp_path / "galaxy" / "input.dat"
    galaxy_input.parent.mkdir()
    galaxy_input.write_bytes(b"input bytes" * 1000)
    produced = tmp_path / "job_output.dat"
    produced.write_bytes(b"output bytes")
    with FilesServer(tmp_path) as files:
        mapper = mapper_for([], default_action="remote_transfer", files_endpoint=files.url)
        mapper.action(str(galaxy_input), "input").write_to_path(str(tmp_path / "job" / "inputs" / "input.dat"))
        galaxy_output = tmp_path / "galaxy" / "out" / "output.dat"
        mapper.action(str(galaxy_output), "output").write_from_path(str(produced))
        methods = [(r["method"], r["query"]["file_type"][0]) for r in files.requests]
    assert (tmp_path / "job" / "inputs" / "input.dat").read_bytes() == galaxy_input.read_bytes()
    assert galaxy_output.read_bytes() == b"output bytes"
    assert methods == [("GET", "input"), ("POST", "output")]


def test_remote_transfer_404_fails_with_message(tmp_path):
    with FilesServer(tmp_path) as files:
        action = mapper_for([], default_action="remote_transfer", files_endpoint=files.url).action(
            str(tmp_path / "missing.dat"), "input")
        with pytest.raises(Exception, match="404.*no such file"):
            action.write_to_path(str(tmp_path / "dest.dat"))
    assert not (tmp_path / "dest.dat").exists()


def _index_tree(tmp_path):
    for name in ("idx/bwa/human.fa", "idx/bwa/human.fa.fai", "idx/seq/human_full_seqs"):
        path = tmp_path.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return str(tmp_path / "idx" / "bwa" / "human.fa")


@pytest.mark.parametrize("depth, expected_names", [
    (0, ["human.fa"]),
    (1, ["human.fa", "human.fa.fai"]),
    (2, ["bwa/human.fa", "bwa/human.fa.fai", "seq/human_full_seqs"]),
])
def test_unstructured_map_depth(tmp_path, depth, expected_names):
    index = _index_tree(tmp_path)
    mapper = mapper_for([{"path": str(tmp_path / "idx"), "path_types": "unstructured", "depth": depth}])
    mapped = mapper.action(index, "unstructured").unstructured_map(PathHelper("/"))
    prefix = unique_path_prefix(index)
    assert sorted(mapped.values()) == ["%s/%s" % (prefix, name) for name in expected_names]
    assert all(os.path.isfile(path) for path in mapped)


def test_unstructured_map_of_rewrite_action_gives_rewritten_paths(tmp_path):
    mapper = mapper_for([{"path": "/shared", "action": "rewrite", "path_types": "unstructured",
                          "source_directory": "/shared", "destination_directory": "/mnt/s2"}])
    action = mapper.action("/shared/test1", "unstructured")
    assert action.unstructured_map(PathHelper("/")) == {"/shared/test1": "/mnt/s2/test1"}
    assert action.path_rewrite(PathHelper("\\")) == "/mnt/s2\\test1"


@pytest.mark.parametrize("entry, text, expected", [
    ({"path": "/idx"}, 'run "/idx/bwa/a.fa" /idxx/b /idx/c,d', ["/idx/bwa/a.fa", "/idx/c"]),
    ({"path": "/idx/*.fa", "match_type": "glob"}, "x /idx/a.fa /idx/b.fq '/idx/c.fa'", ["/idx/a.fa", "/idx/c.fa"]),
    ({"path": r"/idx/\w+\.fa", "match_type": "regex"}, "x /idx/a.fa /idx/b.fq", ["/idx/a.fa"]),
])
def test_mapper_pattern_finds_references(entry, text, expected):
    mapper = mapper_for([dict(entry, path_types="unstructured")]).unstructured_mappers()[0]
    assert [m.group(0) for m in mapper.to_pattern().finditer(text)] == expected
