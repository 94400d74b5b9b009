"""The object store (``/objects/...``): disk/hierarchical/distributed stores and their routes.

Unit tests drive the stores directly; route tests go through ``ObjectStoreClientManager``
both over HTTP to a real ``paster serve`` process (with ``private_key``, as the 0.2.0
object-store test did) and in process.
"""
import os
import random
import stat

import pytest

from lwr.lwr_client import ObjectStoreClientManager
from lwr.lwr_client.exceptions import TransportError
from lwr.objectstore import Dataset, InvalidObjectRequest, ObjectNotFound, build_object_store_from_config
from lwr.objectstore.config import ObjectStoreConfigError
from lwr.objectstore.disk import directory_hash_id

DISK_XML = """<?xml version="1.0"?>
<object_store type="disk">
    <files_dir path="{root}/files"/>
    <extra_dir type="job_work" path="{root}/job_work"/>
    <extra_dir type="temp" path="{root}/tmp"/>
</object_store>
"""

HIERARCHICAL_XML = """<object_store type="hierarchical"><backends>
    <backend id="old" type="disk" order="1"><files_dir path="{root}/old"/></backend>
    <backend id="new" type="disk" order="0"><files_dir path="{root}/new"/></backend>
</backends></object_store>
"""

DISTRIBUTED_YAML = """type: distributed
backends:
  - id: light
    type: disk
    weight: 1
    files_dir: {root}/light
  - id: heavy
    type: disk
    weight: 3
    files_dir: {root}/heavy
"""


def _store(tmp_path, text=DISK_XML, name="object_store_conf.xml", **kwds):
    path = tmp_path / name
    path.write_text(text.format(root=tmp_path))
    return build_object_store_from_config(str(path), **kwds)


# -- layout and the disk store ---------------------------------------------------------------------
@pytest.mark.parametrize("object_id, expected", [
    (7, ["000"]), (999, ["000"]), (1000, ["001"]), (1234, ["001"]), (12345, ["012"]),
    (123456, ["123"]), (1234567, ["001", "234"]),
])
def test_directory_hash_id_matches_galaxy(object_id, expected):
    assert directory_hash_id(object_id) == expected


def test_disk_store_paths_and_operations(tmp_path):
    store = _store(tmp_path)
    dataset = Dataset("1234")
    path = store.get_filename(dataset)
    assert path == str(tmp_path / "files" / "001" / "dataset_1234.dat")
    assert not store.exists(dataset)
    assert store.size(dataset) == 0
    store.create(dataset)
    assert store.exists(dataset) and store.file_ready(dataset) and store.empty(dataset)
    with open(path, "wb") as handle:
        handle.write(b"hello")
    assert store.size(dataset) == 5 and not store.empty(dataset)
    assert store.delete(dataset) is True and store.delete(dataset) is False
    with pytest.raises(ObjectNotFound):
        store.empty(dataset)


def test_disk_store_location_options(tmp_path):
    store = _store(tmp_path)
    dataset = Dataset("42")
    assert store.get_filename(dataset, base_dir="job_work", dir_only=True, extra_dir="dataset_42_files") \
        == str(tmp_path / "job_work" / "000" / "dataset_42_files")
    assert store.get_filename(dataset, extra_dir="x", extra_dir_at_root=True, alt_name="a/b.txt") \
        == str(tmp_path / "files" / "x" / "000" / "a" / "b.txt")
    store.create(dataset, dir_only=True, extra_dir="dataset_42_files")
    assert store.exists(dataset, dir_only=True, extra_dir="dataset_42_files")
    assert not store.exists(dataset)  # the directory is not the dataset's file


@pytest.mark.parametrize("kwds", [
    {"extra_dir": "../x"}, {"extra_dir": "/etc"}, {"alt_name": "../../x"}, {"alt_name": "/etc/passwd"},
    {"alt_name": "a/../../x"}, {"base_dir": "nowhere"}, {"alt_name": "a\x00b"},
])
def test_disk_store_refuses_paths_outside(tmp_path, kwds):
    store = _store(tmp_path)
    with pytest.raises(InvalidObjectRequest):
        store.create(Dataset("5"), **kwds)
    assert sorted(os.listdir(tmp_path)) == ["files", "job_work", "object_store_conf.xml", "tmp"]


def test_disk_store_refuses_a_planted_symlink(tmp_path):
    store = _store(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.makedirs(tmp_path / "files" / "000")
    os.symlink(outside, tmp_path / "files" / "000" / "link")
    with pytest.raises(InvalidObjectRequest):
        store.create(Dataset("5"), alt_name="link/x")
    assert os.listdir(outside) == []


@pytest.mark.parametrize("object_id", ["", "..", ".", "a/b", "../x", "x" * 129, "é", "-a", "a b"])
def test_object_ids_are_checked(object_id):
    with pytest.raises(InvalidObjectRequest):
        Dataset(object_id)


def test_update_from_file_copies_only_from_allowed_roots(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    source = staging / "o.dat"
    source.write_bytes(b"data")
    store = _store(tmp_path, allowed_source_roots=[str(staging)])
    dataset = Dataset("9")
    store.update_from_file(dataset, file_name=str(source), create=True)
    assert open(store.get_filename(dataset), "rb").read() == b"data"
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    with pytest.raises(InvalidObjectRequest):
        store.update_from_file(dataset, file_name=str(secret))
    os.symlink(secret, staging / "sneaky")
    with pytest.raises(InvalidObjectRequest):
        store.update_from_file(dataset, file_name=str(staging / "sneaky"))
    with pytest.raises(ObjectNotFound):
        store.update_from_file(Dataset("10"), file_name=str(source))  # not created
    assert open(store.get_filename(dataset), "rb").read() == b"data"


def test_umask_sets_modes(tmp_path):
    store = _store(tmp_path, umask=0o027)
    dataset = Dataset("1001")
    store.create(dataset)
    assert stat.S_IMODE(os.stat(store.get_filename(dataset)).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "files" / "001").st_mode) == 0o750


def test_disk_defaults_come_from_server_options(tmp_path):
    store = _store(tmp_path, text='<object_store type="disk"/>', file_path=str(tmp_path / "fp"),
                   job_working_directory=str(tmp_path / "jwd"), new_file_path=str(tmp_path / "nfp"))
    assert store.get_filename(Dataset("1")) == str(tmp_path / "fp" / "000" / "dataset_1.dat")
    assert store.get_filename(Dataset("1"), base_dir="job_work", dir_only=True) == str(tmp_path / "jwd" / "000")
    assert store.get_filename(Dataset("1"), base_dir="temp", dir_only=True) == str(tmp_path / "nfp" / "000")


# -- nested stores ---------------------------------------------------------------------------------
def test_hierarchical_creates_in_first_by_order_and_finds_in_any(tmp_path):
    store = _store(tmp_path, HIERARCHICAL_XML)
    store.create(Dataset("1"))
    assert os.path.exists(tmp_path / "new" / "000" / "dataset_1.dat")
    os.makedirs(tmp_path / "old" / "000")
    (tmp_path / "old" / "000" / "dataset_2.dat").write_bytes(b"legacy")
    assert store.exists(Dataset("2")) and store.size(Dataset("2")) == 6
    assert store.get_filename(Dataset("2")) == str(tmp_path / "old" / "000" / "dataset_2.dat")
    with pytest.raises(ObjectNotFound):
        store.get_filename(Dataset("3"))
    assert store.delete(Dataset("2")) and not store.exists(Dataset("2"))


def test_distributed_draws_backends_by_weight(tmp_path):
    store = _store(tmp_path, DISTRIBUTED_YAML, name="object_store_conf.yml")
    store.chooser = random.Random(1)
    for index in range(400):
        store.create(Dataset(str(index)))
    light = len(os.listdir(tmp_path / "light" / "000"))
    heavy = len(os.listdir(tmp_path / "heavy" / "000"))
    assert light + heavy == 400
    assert 2.0 < heavy / light < 4.5, (light, heavy)
    assert store.exists(Dataset("399"))


def test_distributed_skips_full_backends(tmp_path):
    text = DISTRIBUTED_YAML.replace("weight: 3", "weight: 3\n    max_percent_full: 0.0001")
    store = _store(tmp_path, text, name="object_store_conf.yml")
    for index in range(20):
        store.create(Dataset(str(index)))
    assert len(os.listdir(tmp_path / "light" / "000")) == 20
    assert os.listdir(tmp_path / "heavy") == []


@pytest.mark.parametrize("text, message", [
    ('<object_store type="s3"/>', "'s3' is not one of"),
    ("<object_store", "object_store_conf.xml"),
    ('<object_store type="distributed"><backends><backend type="disk" weight="x">'
     '<files_dir path="a"/></backend></backends></object_store>', "weight='x' is not a number"),
])
def test_bad_configurations_name_the_problem(tmp_path, text, message):
    with pytest.raises(ObjectStoreConfigError, match=message):
        _store(tmp_path, text)


# -- the routes, over HTTP and in process ------------------------------------------------------------
@pytest.fixture(params=[pytest.param("http", marks=pytest.mark.server), "in_process"])
def client(request, tmp_path, lwr_server_factory):
    conf_path = tmp_path / "object_store_conf.xml"
    conf_path.write_text(DISK_XML.format(root=tmp_path))
    if request.param == "http":
        server = lwr_server_factory(app_conf={"private_key": "12345",
                                              "object_store_config_file": str(conf_path)})
        return ObjectStoreClientManager().get_client({"url": server.url, "private_token": "12345"})
    store = build_object_store_from_config(str(conf_path))
    return ObjectStoreClientManager(object_store=store).get_client({"url": "http://unused/"})


def test_object_store_routes_like_the_original(client, tmp_path):
    assert client.exists(object_id=1) is False
    client.create(object_id=1)
    assert client.exists(object_id=1) is True
    assert client.empty(object_id=1) is True
    path = client.get_filename(object_id=1)
    assert path == str(tmp_path / "files" / "000" / "dataset_1.dat")
    with open(path, "w") as handle:
        handle.write("Hello World!")
    assert client.empty(object_id=1) is False
    assert client.get_data(object_id=1, start=1, count=6) == "ello W"
    assert client.get_data(object_id=1) == "Hello World!"
    assert client.size(object_id=1) == 12
    assert 0 < client.get_store_usage_percent() < 100
    assert client.file_ready(object_id=1) is True
    # update_from_file with create, from a file inside the store's own directories
    client.update_from_file(object_id=2, create=True, file_name=path)
    assert client.get_data(object_id=2) == "Hello World!"
    assert client.delete(object_id=2) is True
    assert client.exists(object_id=2) is False
    assert client.delete(object_id=2) is False


def test_booleans_are_parsed_not_truthy(client, tmp_path):
    client.create(object_id=5, dir_only=True, extra_dir="dataset_5_files")
    assert client.exists(object_id=5, dir_only="False") is False  # 0.2.0 read "False" as true
    assert client.exists(object_id=5, dir_only="True", extra_dir="dataset_5_files") is True
    with pytest.raises(TransportError) as raised:
        client.exists(object_id=5, dir_only="maybe")
    assert raised.value.status == 400 and "dir_only" in str(raised.value)


def test_get_data_streams_text_and_marks_undecodable_bytes(client, tmp_path):
    client.create(object_id=6)
    text = "αβγ → ✓ " * 200000  # ~3 MiB of multi-byte text: chunk borders fall inside characters
    with open(client.get_filename(object_id=6), "wb") as handle:
        handle.write(text.encode("utf-8") + b"\xff\"\\\n")
    data = client.get_data(object_id=6)
    assert data == text + "\ufffd\"\\\n"
    assert client.get_data(object_id=6, start=2, count=2) == "β"


@pytest.mark.parametrize("call, kwds, status, words", [
    ("exists", {"object_id": "..x"}, 400, "object_id"),
    ("exists", {"object_id": "a%00b"}, 400, "object_id"),
    ("create", {"object_id": 1, "extra_dir": "../../etc"}, 400, "extra_dir"),
    ("create", {"object_id": 1, "alt_name": "/etc/passwd"}, 400, "alt_name"),
    ("exists", {"object_id": 1, "base_dir": "elsewhere"}, 400, "base_dir"),
    ("get_data", {"object_id": 77}, 404, "77"),
    ("get_data", {"object_id": 1, "count": "-2"}, 400, "count"),
    ("get_data", {"object_id": 1, "start": "x"}, 400, "start"),
    ("empty", {"object_id": 77}, 404, "77"),
    ("update_from_file", {"object_id": 1, "create": True, "file_name": "/etc/passwd"}, 400, "file_name"),
    ("update_from_file", {"object_id": 78, "file_name": "/etc/passwd"}, 404, "78"),
])
def test_bad_requests_are_4xx_and_write_nothing_outside(client, tmp_path, call, kwds, status, words):
    before = set(os.listdir(tmp_path))
    with pytest.raises(TransportError) as raised:
        getattr(client, call)(**kwds)
    assert raised.value.status == status, raised.value
    assert words in str(raised.value)
    assert set(os.listdir(tmp_path)) == before


def test_an_id_with_a_slash_reaches_no_route(client, tmp_path):
    before = set(os.listdir(tmp_path))
    with pytest.raises(TransportError) as raised:
        client.create(object_id="../x")
    assert raised.value.status in (400, 404), raised.value
    assert set(os.listdir(tmp_path)) == before


@pytest.mark.server
def test_routes_without_an_object_store_answer_404(lwr_server):
    code, body = lwr_server.request("GET", "objects/1/exists")
    assert code == 404 and b"object_store_config_file" in body


@pytest.mark.server
def test_object_store_routes_need_the_token(lwr_server_factory, tmp_path):
    conf_path = tmp_path / "object_store_conf.xml"
    conf_path.write_text(DISK_XML.format(root=tmp_path))
    server = lwr_server_factory(app_conf={"private_key": "12345", "object_store_config_file": str(conf_path)})
    code, _ = server.request("GET", "objects/1/exists", token=False)
    assert code == 401
    code, _ = server.request("GET", "object_store_usage_percent", params={"private_key": "wrong"})
    assert code == 401
