"""The job ``run_client_tests.py`` submits: checks its staged inputs and writes every kind of output.

Arguments (after staging, paths are the server's): config input output1 missing_input output2 text
output3 input_extra version_file index_file output4 shared_path.  Runs with Python 3 on the server.
"""
import json
import os
import sys


def read(path):
    with open(path, "r", encoding="utf-8") as handle:
        return handle.read()


def write(path, text):
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def check(what, expected, got):
    if expected != got:
        sys.stderr.write("%s: expected %r, got %r\n" % (what, expected, got))
        sys.exit(1)


def main(args):
    (config, input1, output1, _missing, output2, text, output3, input_extra, version_file, index_file,
     output4, shared_path) = args
    check("staged input", "Hello world input!!@!", read(input1))
    check("staged input extra file", "INPUT_EXTRA_CONTENTS", read(input_extra))
    index_directory = os.path.dirname(index_file)
    check("files beside the staged index", 2, len(os.listdir(index_directory)))
    sibling = os.path.join(os.path.dirname(index_directory), "seq")
    check("files in the staged sibling index directory", 1, len(os.listdir(sibling)))
    write(output1, read(config))
    base = output1[:-len(".dat")] if output1.endswith(".dat") else output1
    write(os.path.join(base + "_files", "extra"), "EXTRA_OUTPUT_CONTENTS")
    write(output2, text)
    write(output3, os.environ.get("MOO", "moo_default"))
    write(version_file, "1.0.1")
    write(output4, index_file)
    write("env_test", os.environ.get("TEST_ENV", ""))
    write("rewrite_action_test", shared_path)
    write("galaxy.json", "GALAXY_JSON")
    sys.stdout.write(json.dumps({"ok": True}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
