"""The fake Galaxy job ``run_client_tests.py`` stages: its files on disk and their checks."""
import hashlib
import json
import os
import shutil

from lwr.lwr_client.progress import format_bytes, parse_size

__all__ = ["write", "read", "layout", "file_action_config", "large_file", "sha256", "SCRIPT_SOURCE"]

SCRIPT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script.py")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def read(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def layout(base):
    paths = {name: os.path.join(base, *name.split("/")) for name in (
        "idx/bwa/human.fa", "idx/bwa/human.fa.fai", "idx/seq/human_full_seqs", "shared/test1", "w",
        "w/config.txt", "t/script.py", "dataset_0.dat", "dataset_0_files/input_subdir/extra",
        "GALAXY_VERSION_1234", "file_actions.json")}
    for name in ("idx/bwa/human.fa", "idx/bwa/human.fa.fai", "idx/seq/human_full_seqs"):
        write(paths[name], "%s contents\n" % name)
    os.makedirs(paths["shared/test1"])
    write(paths["w/config.txt"], "hello world output")
    os.makedirs(os.path.dirname(paths["t/script.py"]))
    shutil.copyfile(SCRIPT_SOURCE, paths["t/script.py"])
    write(paths["dataset_0.dat"], "Hello world input!!@!")
    write(paths["dataset_0_files/input_subdir/extra"], "INPUT_EXTRA_CONTENTS")
    for index in (1, 2, 3, 4, 77, 78):
        paths["dataset_%d" % index] = os.path.join(base, "dataset_%d.dat" % index)
    return paths


def file_action_config(options, paths, base):
    default_action = options["default_file_action"] or "transfer"
    index_action = default_action if default_action.startswith("remote_") else "transfer"
    config = {"paths": [{"path": os.path.join(base, "idx"), "path_types": "unstructured", "depth": 2,
                         "action": index_action}]}
    if options["test_rewrite_action"]:
        config["paths"].append({"path": os.path.join(base, "shared"), "path_types": "unstructured",
                                "action": "rewrite", "source_directory": os.path.join(base, "shared"),
                                "destination_directory": os.path.join(base, "shared2")})
    with open(paths["file_actions.json"], "w") as handle:
        json.dump(config, handle)
    return paths["file_actions.json"]


def large_file(options, paths, base, say):
    """``(path, path it comes back to, SHA-256)`` of the ``transfer_size`` file, or None."""
    size = options["transfer_size"]
    if not size:
        return None
    size = parse_size(size, "--transfer_size")
    path = os.path.join(paths["w"], "transfer_check.bin")
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as handle:
        for offset in range(0, size, len(block)):
            handle.write(block[:min(len(block), size - offset)])
    say("Wrote %s (%s) to send up and fetch back" % (path, format_bytes(size)))
    return path, os.path.join(base, "transfer_check_back.bin"), sha256(path)


def sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()
