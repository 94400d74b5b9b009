"""lwr.file_digests.record_small_files: what a local job's end records (real files, real xattrs)."""
import hashlib
import json
import os

from lwr import file_digests


def _recorded(path):
    try:
        return json.loads(os.getxattr(path, file_digests.DIGEST_XATTR))["sha256"]
    except OSError:
        return None


def test_small_regular_files_directly_inside_are_recorded(tmp_path):
    job = tmp_path / "job"
    outputs = job / "outputs"
    (outputs / "sub").mkdir(parents=True)
    small = outputs / "small.dat"
    small.write_bytes(b"x" * 1000)
    large = outputs / "large.dat"
    with open(large, "wb") as handle:
        handle.truncate(file_digests.SMALL_FILE_BYTES + 1)  # sparse: nothing written to the disk
    nested = outputs / "sub" / "nested.dat"
    nested.write_bytes(b"y")
    outside = tmp_path / "secret.dat"
    outside.write_bytes(b"z")
    os.symlink(outside, outputs / "link.dat")

    assert file_digests.record_small_files(str(job), [str(outputs), str(job / "missing")]) == 1
    assert _recorded(small) == hashlib.sha256(b"x" * 1000).hexdigest()
    assert _recorded(large) is None  # hashed at its first download instead
    assert _recorded(nested) is None  # only files directly inside
    assert _recorded(outside) is None  # a link is never followed


def test_a_file_changed_after_its_record_is_hashed_again_at_download(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    path = job / "o.dat"
    path.write_bytes(b"first")
    file_digests.record_small_files(str(job), [str(job)])
    with open(path, "ab") as handle:
        handle.write(b" and more")
    with open(path, "rb") as handle:
        assert file_digests.cached_digest(str(job), str(path), handle) == hashlib.sha256(b"first and more").hexdigest()
