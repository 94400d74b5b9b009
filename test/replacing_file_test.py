"""lwr.lwr_client.util.ReplacingFile: every file LWR writes appears whole or not at all."""
import os
import stat

import pytest

from lwr.lwr_client.util import ReplacingFile, atomic_copy
from lwr.managers.base.leftovers import is_temporary_name
from lwr.util import atomic_write


def test_committed_on_a_clean_exit(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with ReplacingFile(str(target)) as handle:
        handle.write(b"new")
        assert target.read_bytes() == b"old"  # not visible until complete
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f"]


def test_an_error_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with ReplacingFile(str(target)) as handle:
            handle.write(b"half")
            raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_a_failed_rename_removes_the_temporary(tmp_path):
    (tmp_path / "d").mkdir()
    replacing = ReplacingFile(str(tmp_path / "d"))  # a directory cannot be replaced by a file
    replacing.write(b"x")
    with pytest.raises(OSError):
        replacing.commit()
    assert os.listdir(tmp_path) == ["d"]


def test_temporary_names_are_the_ones_the_leftover_sweep_knows(tmp_path):
    for prefix in (None, ".upload-", ".cache-", ".message."):
        replacing = ReplacingFile(str(tmp_path / "data.txt"), prefix=prefix)
        name = os.path.basename(replacing.tmp_path)
        replacing.discard()
        assert is_temporary_name(name), name
    names = set()
    for _ in range(20):  # never two alike: concurrent writers of one file do not collide
        replacing = ReplacingFile(str(tmp_path / "x"))
        names.add(replacing.tmp_path)
    assert len(names) == 20


def test_mode_fsync_and_parents(tmp_path):
    target = tmp_path / "a" / "b" / "f"
    with ReplacingFile(str(target), mode=0o640, fsync=True, make_parents=True) as handle:
        handle.write(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640 & ~umask
    with ReplacingFile(str(tmp_path / "private")) as handle:
        handle.write(b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "private").st_mode) == 0o600


def test_atomic_write_and_atomic_copy(tmp_path):
    atomic_write(str(tmp_path / "m"), "é")
    assert (tmp_path / "m").read_bytes() == "é".encode("utf-8")
    atomic_copy(str(tmp_path / "m"), str(tmp_path / "sub" / "copy"))
    assert (tmp_path / "sub" / "copy").read_bytes() == "é".encode("utf-8")
    with pytest.raises(FileNotFoundError):
        atomic_copy(str(tmp_path / "missing"), str(tmp_path / "sub" / "c2"))
    assert sorted(os.listdir(tmp_path)) == ["m", "sub"] and os.listdir(tmp_path / "sub") == ["copy"]
