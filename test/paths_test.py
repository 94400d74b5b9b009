import os

import pytest

from lwr import paths

BAD_JOB_IDS = ["", ".", "..", "a/b", "/etc", "../x", "a\x00b", "x" * 300, "jöb", "-leading", " space",
               "a\\b", ".hidden"]
GOOD_JOB_IDS = ["123", "123_4", "abc-DEF.1", "0" * 128, "f" * 32]


@pytest.mark.parametrize("job_id", BAD_JOB_IDS)
def test_hostile_job_ids_are_refused(job_id):
    with pytest.raises(paths.InvalidPath):
        paths.check_job_id(job_id)


@pytest.mark.parametrize("job_id", GOOD_JOB_IDS)
def test_ordinary_job_ids_pass(job_id):
    assert paths.check_job_id(job_id) == job_id


@pytest.mark.parametrize("name", ["", "../x", "/etc/passwd", "a/../../x", "a/..", "x\x00y", "C:\\x", "\\x",
                                  "..", "./..", "a/b/../../.."])
def test_hostile_names_are_refused(name):
    with pytest.raises(paths.InvalidPath):
        paths.check_relative_name(name)


@pytest.mark.parametrize("name,expected", [("a", "a"), ("a/b", "a/b"), ("./a//b", "a/b"),
                                           ("%2e%2e/x", "%2e%2e/x"), ("dataset_1_files/x", "dataset_1_files/x")])
def test_names_are_normalised(name, expected):
    assert paths.check_relative_name(name) == expected


def test_in_directory_compares_components(tmp_path):
    base = str(tmp_path / "a" / "b")
    assert paths.is_in_directory(base + "/c", base)
    assert not paths.is_in_directory(base + "c", base)  # 0.2.0's string prefix accepted this


def test_resolve_inside_refuses_planted_symlink(tmp_path):
    job = tmp_path / "job"
    (job / "outputs").mkdir(parents=True)
    os.symlink("/etc", str(job / "outputs" / "link"))
    with pytest.raises(paths.InvalidPath):
        paths.resolve_inside(str(job / "outputs" / "link" / "passwd"), str(job))
    assert paths.resolve_inside(str(job / "outputs" / "ok"), str(job))


@pytest.mark.parametrize("name", ["x" * 256, "a/" + "x" * 256, "é" * 128, "x" * 256 + "/a"])
def test_name_components_over_255_bytes_are_refused(name):
    with pytest.raises(paths.InvalidPath, match="longer than 255 bytes"):
        paths.check_relative_name(name)


@pytest.mark.parametrize("name", ["x" * 255, "a/" + "x" * 255, "é" * 127])
def test_name_components_up_to_255_bytes_pass(name):
    assert paths.check_relative_name(name) == name
