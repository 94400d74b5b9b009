"""``run_client_tests.py``: submit a real job through the client and check every staged file (spec §11).

Callable from tests: ``run(options)`` with a dict or namespace (in-process
``job_manager``/``file_cache`` included); raises :class:`CheckFailure` saying
exactly what differed.  ``main(argv)`` is the command line (exit status 0/1).
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time

from lwr.lwr_client import (
    ClientJobDescription,
    ClientOutputs,
    LwrOutputs,
    OutputNotFoundException,
    build_client_manager,
    finish_job,
    submit_job,
)
from lwr.lwr_client.exceptions import TransportError
from lwr.lwr_client.progress import display_for, format_bytes, parse_size
from lwr.lwr_client.transport import retry

__all__ = ["run", "main", "CheckFailure", "DEFAULTS", "EXAMPLE_UNICODE_TEXT"]

EXAMPLE_UNICODE_TEXT = "єχαмρℓє συвѕтιтυтισи ✓ ünïcödé"
SCRIPT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script.py")
DONE_STATES = ("complete", "cancelled", "failed", "lost")

DEFAULTS = {
    "url": "http://localhost:8913/",
    "private_token": None,
    "transport": None,
    "cache": False,
    "test_errors": False,
    "suppress_output": False,
    "disable_cleanup": False,
    "default_file_action": None,
    "job_id": None,
    "test_requirement": False,
    "test_env": False,
    "test_unicode": False,
    "test_rewrite_action": False,
    "jobs_directory": None,
    "remote_sep": None,
    "files_endpoint": None,
    "user": None,
    "manager_url": None,
    "manager": None,
    "job_manager": None,
    "file_cache": None,
    "python": None,
    "timeout": 60.0,
    "transfer_threads": None,
    "transfer_size": None,
    "progress": None,
}


class CheckFailure(AssertionError):
    """The job ran but something came back different from what was expected."""


LOCAL_SETUP_ACTIONS = ("remote_copy", "remote_transfer")


class MockTool:
    def __init__(self, tool_dir):
        self.id = "client_test"
        self.version = "1.0"
        self.tool_dir = tool_dir


def _options(options) -> dict:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        options = vars(options)
    merged = dict(DEFAULTS)
    merged.update({key: value for key, value in options.items() if value is not None or key not in merged})
    if merged["jobs_directory"] and merged["default_file_action"] not in LOCAL_SETUP_ACTIONS:
        # With local setup the server never sees a setup call; only actions where the remote
        # side fetches files itself can stage into a directory it has not created.
        raise CheckFailure("--jobs_directory needs --default_file_action %s (got %s)"
                           % (" or ".join(LOCAL_SETUP_ACTIONS), merged["default_file_action"] or "transfer"))
    return merged


class _Say:
    def __init__(self, quiet, display=None):
        self.quiet = quiet
        self.display = display

    def __call__(self, message):
        if not self.quiet:
            if hasattr(self.display, "clear"):  # the progress line goes before a message is printed
                self.display.clear()
            print(message, flush=True)


def run(options) -> None:
    """Run the whole sequence once; raise :class:`CheckFailure` (or the client's error) on any problem."""
    options = _options(options)
    say = _Say(options["suppress_output"], options["progress"])
    base = tempfile.mkdtemp(prefix="lwr_client_check_")
    try:
        _run(options, base, say)
    finally:
        if not options["disable_cleanup"]:
            shutil.rmtree(base, ignore_errors=True)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _layout(base):
    paths = {name: os.path.join(base, *name.split("/")) for name in (
        "idx/bwa/human.fa", "idx/bwa/human.fa.fai", "idx/seq/human_full_seqs", "shared/test1", "w",
        "w/config.txt", "t/script.py", "dataset_0.dat", "dataset_0_files/input_subdir/extra",
        "GALAXY_VERSION_1234", "file_actions.json")}
    for name in ("idx/bwa/human.fa", "idx/bwa/human.fa.fai", "idx/seq/human_full_seqs"):
        _write(paths[name], "%s contents\n" % name)
    os.makedirs(paths["shared/test1"])
    _write(paths["w/config.txt"], "hello world output")
    os.makedirs(os.path.dirname(paths["t/script.py"]))
    shutil.copyfile(SCRIPT_SOURCE, paths["t/script.py"])
    _write(paths["dataset_0.dat"], "Hello world input!!@!")
    _write(paths["dataset_0_files/input_subdir/extra"], "INPUT_EXTRA_CONTENTS")
    for index in (1, 2, 3, 4, 77, 78):
        paths["dataset_%d" % index] = os.path.join(base, "dataset_%d.dat" % index)
    return paths


def _file_action_config(options, paths, base):
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


def _client_manager(options):
    kwds = {"cache": bool(options["cache"])}
    if callable(options["progress"]):
        kwds["progress"] = options["progress"]
    if options["transfer_threads"]:
        kwds["transfer_threads"] = options["transfer_threads"]
    if options["job_manager"] is not None:
        return build_client_manager(job_manager=options["job_manager"], file_cache=options["file_cache"], **kwds)
    if _is_message_queue(options["manager_url"]):
        return build_client_manager(url=options["manager_url"], manager=options.get("manager") or "_default_")
    return build_client_manager(transport=options["transport"], **kwds)


def _is_message_queue(url):
    return bool(url) and url.split("://", 1)[0] in ("amqp", "amqps", "memory", "pyamqp")


def _destination(options, file_action_config):
    manager_url = None if _is_message_queue(options["manager_url"]) else options["manager_url"]
    destination = {"url": manager_url or options["url"], "private_token": options["private_token"],
                   "file_action_config": file_action_config}
    for key in ("default_file_action", "jobs_directory", "files_endpoint", "remote_sep"):
        if options[key]:
            destination[key] = options[key]
    destination.update(retry.arguments_params(options))
    if options["user"]:
        destination["submit_user"] = options["user"]
    return destination


def _random_job_id() -> str:
    return str(random.randint(10 ** 8, 10 ** 9 - 1))


def _set_up_job(client_manager, destination, tool, job_id, say):
    """``(client, job_config)`` for a job set up on the server under a fresh id.

    A random 9-digit id is used unpaired with any status probe: the original LWR 0.2.0 answers
    an unknown job's status with 200 "preprocessing" and current servers with 200 "lost", so a
    status cannot tell a free id.  Setting up an id that exists is refused (this server: 409),
    and the check then tries another.  ``job_id`` given: that id only.
    """
    tries = 1 if job_id else 20
    for _ in range(tries):
        candidate = str(job_id or _random_job_id())
        client = client_manager.get_client(destination, candidate)
        try:
            job_config = client.setup(tool.id, tool.version)
        except TransportError as exc:
            if exc.status == 409 and not job_id:
                say("Job id %s is taken on the server; trying another" % candidate)
                continue
            raise
        say("Using job id %s" % job_config.get("job_id", candidate))
        return client, job_config
    raise CheckFailure("could not set up a job: %d random job ids were all taken" % tries)


def _run(options, base, say):
    paths = _layout(base)
    say("Wrote test files under %s" % base)
    python = options["python"] or ("python3" if options["job_manager"] is None else sys.executable)
    command_text = EXAMPLE_UNICODE_TEXT if options["test_unicode"] else "Hello World"
    command_line = 'python "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s" "%s"' % (
        paths["t/script.py"], paths["w/config.txt"], paths["dataset_0.dat"], paths["dataset_1"], "/foo/bar/x",
        paths["dataset_2"], command_text, paths["dataset_3"], paths["dataset_0_files/input_subdir/extra"],
        paths["GALAXY_VERSION_1234"], paths["idx/bwa/human.fa"], paths["dataset_4"], paths["shared/test1"])
    command_line = command_line.replace("python", python, 1)
    client_manager = _client_manager(options)
    try:
        destination = _destination(options, _file_action_config(options, paths, base))
        tool = MockTool(os.path.dirname(paths["t/script.py"]))
        client, job_config = _set_up_job(client_manager, destination, tool, options["job_id"], say)
        job_id = client.job_id
        output_files = [paths["dataset_%d" % index] for index in (1, 2, 3, 4, 77, 78)]
        work_dir_outputs = [(os.path.join(paths["w"], "env_test"), paths["dataset_77"]),
                            (os.path.join(paths["w"], "rewrite_action_test"), paths["dataset_78"])]
        large = _large_file(options, paths, base, say)
        if large is not None:  # up as a working directory file, back as an output of it
            output_files.append(large[1])
            work_dir_outputs.append(large[:2])
        client_outputs = ClientOutputs(
            working_directory=paths["w"], output_files=output_files, work_dir_outputs=work_dir_outputs,
            version_file=paths["GALAXY_VERSION_1234"])
        requirements = None
        if options["test_requirement"]:
            requirements = {"requirements": [{"name": "dep1", "version": "1.1", "type": "package"}],
                            "installed_tool_dependencies": []}
        env = [{"name": "TEST_ENV", "value": "TEST_ENV_VALUE"}] if options["test_env"] else []
        description = ClientJobDescription(
            tool=tool, command_line=command_line,
            config_files=[paths["w/config.txt"]], input_files=[paths["dataset_0.dat"], "/foo/bar/x"],
            client_outputs=client_outputs, working_directory=paths["w"],
            dependencies_description=requirements, env=env)
        say("Submitting job %s to %s (default action %s)" % (job_id, destination["url"],
                                                               options["default_file_action"] or "transfer"))
        job_id = submit_job(client, description, job_config)
        say("Submitted job %s; waiting for it to finish" % job_id)
        status = _wait(client, options["timeout"], say)
        lwr_outputs = LwrOutputs.from_status_response(status)
        cleanup = "never" if (options["disable_cleanup"] or options["test_errors"]) else "always"
        say("Collecting outputs")
        failures = finish_job(client, cleanup, True, client_outputs, lwr_outputs)
        if failures:
            raise CheckFailure("collecting outputs failed: %s" % "; ".join(str(exc) for exc in failures))
        _check_results(options, paths, base, job_id, command_text, say)
        if large is not None:
            _expect("%s (%d bytes, SHA-256)" % (os.path.basename(large[1]), os.path.getsize(large[0])),
                    large[2], _sha256(large[1]))
        if options["test_errors"]:
            _check_missing_output(client, base, say, legacy_server="pulsar_version" not in status)
            if not options["disable_cleanup"]:
                client.clean()
        say("All checks passed for job %s" % job_id)
    finally:
        client_manager.shutdown()


def _large_file(options, paths, base, say):
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
    return path, os.path.join(base, "transfer_check_back.bin"), _sha256(path)


def _sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _wait(client, timeout, say):
    deadline = time.monotonic() + float(timeout)
    while True:
        status = client.full_status()
        state = status.get("status")
        if state in DONE_STATES and status.get("complete") == "true":
            break
        if time.monotonic() > deadline:
            raise CheckFailure("Job not completed properly: still %r after %ss" % (state, timeout))
        time.sleep(0.2)
    say("Job finished with status %s, return code %s" % (state, status.get("returncode")))
    if state != "complete" or status.get("returncode") not in (0, "0"):
        raise CheckFailure("job ended with status %r and return code %r\nstdout: %s\nstderr: %s"
                           % (state, status.get("returncode"), status.get("stdout"), status.get("stderr")))
    return status


def _expect(what, expected, got):
    if expected != got:
        raise CheckFailure("%s: expected %r, got %r" % (what, expected, got))


def _check_results(options, paths, base, job_id, command_text, say):
    say("Checking collected files")
    _expect("dataset_1.dat (config contents)", "hello world output", _read(paths["dataset_1"]))
    _expect("dataset_2.dat (command text)", command_text, _read(paths["dataset_2"]))
    _expect("w/galaxy.json", "GALAXY_JSON", _read(os.path.join(paths["w"], "galaxy.json")))
    _expect("dataset_1_files/extra", "EXTRA_OUTPUT_CONTENTS",
            _read(os.path.join(base, "dataset_1_files", "extra")))
    _expect("version file", "1.0.1", _read(paths["GALAXY_VERSION_1234"]))
    moo = "moo_override" if options["test_requirement"] else "moo_default"
    _expect("dataset_3.dat (MOO from the dependency)", moo, _read(paths["dataset_3"]))
    if options["test_env"]:
        _expect("dataset_77.dat (env TEST_ENV)", "TEST_ENV_VALUE", _read(paths["dataset_77"]))
    if options["test_rewrite_action"]:
        _expect("dataset_78.dat (rewritten path)", os.path.join(base, "shared2", "test1"),
                _read(paths["dataset_78"]))
    if (options["default_file_action"] or "transfer") != "none":
        staged_index = _read(paths["dataset_4"]) or ""
        pattern = r"%s[/\\]unstructured[/\\]\w+[/\\]bwa[/\\]human.fa$" % re.escape(str(job_id))
        if not re.search(pattern, staged_index):
            raise CheckFailure("dataset_4.dat (staged index path): expected a path matching %r, got %r"
                               % (pattern, staged_index))


def _check_missing_output(client, base, say, legacy_server=False):
    """A missing output raises OutputNotFoundException naming it.

    The original LWR 0.2.0 (its final status has no ``pulsar_version``) answers a missing output
    with a bare 500 (spec section 1.2); against it that answer is accepted and reported.
    """
    say("Fetching a nonexistent output (expecting OutputNotFoundException)")
    target = os.path.join(base, "dataset_1.datx")
    try:
        client.fetch_output(path=target, name="dataset_1.datx", working_directory=os.path.join(base, "w"),
                            action_type="transfer", output_type="output")
    except TransportError as exc:
        if not (legacy_server and exc.status == 500):
            raise
        if os.path.exists(target):
            raise CheckFailure("a failed download left %s behind" % target)
        say("Got the error a 2014 LWR server gives for a missing output (HTTP 500): %s" % exc)
        return
    except OutputNotFoundException as exc:
        if "dataset_1.datx" not in str(exc):
            raise CheckFailure("OutputNotFoundException does not name the file: %s" % exc)
        if os.path.exists(target):
            raise CheckFailure("a failed download left %s behind" % target)
        say("Got the expected error: %s" % exc)
        return
    raise CheckFailure("fetching nonexistent output dataset_1.datx did not raise OutputNotFoundException")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Submit a test job to an LWR server and check the results.")
    parser.add_argument("--url", default=DEFAULTS["url"], help="LWR URL (default %(default)s)")
    parser.add_argument("--private_token", default=None, help="the server's private_key")
    parser.add_argument("--transport", default=None, choices=("urllib", "curl"), help="HTTP transport")
    parser.add_argument("--cache", action="store_true", help="upload inputs through the server's file cache")
    parser.add_argument("--test_errors", action="store_true",
                        help="also check that a missing output raises OutputNotFoundException")
    parser.add_argument("--suppress_output", action="store_true", help="print nothing but failures")
    parser.add_argument("--disable_cleanup", action="store_true", help="keep the job and local files")
    parser.add_argument("--default_file_action", default=None,
                        choices=("transfer", "copy", "none", "remote_copy", "remote_transfer"))
    parser.add_argument("--job_id", default=None, help="job id to use (default: an unused random one)")
    parser.add_argument("--test_requirement", action="store_true",
                        help="require dep1/1.1 (server tool_dependency_dir env.sh sets MOO=moo_override)")
    parser.add_argument("--jobs_directory", default=None,
                        help="server staging directory: lay the job out locally (only with remote_copy or remote_transfer)")
    parser.add_argument("--files_endpoint", default=None, help="Galaxy job files URL for remote_transfer")
    parser.add_argument("--python", default=None, help="python executable on the server (default python3)")
    parser.add_argument("--timeout", type=float, default=DEFAULTS["timeout"], help="seconds to wait for the job")
    parser.add_argument("--no_unicode", dest="test_unicode", action="store_false", help="plain ASCII text")
    parser.add_argument("--no_env", dest="test_env", action="store_false", help="do not send env")
    parser.add_argument("--no_rewrite_action", dest="test_rewrite_action", action="store_false",
                        help="no rewrite action mapper")
    parser.add_argument("--transfer_size", default=None, metavar="SIZE",
                        help="also send a file of SIZE bytes (K, M, G suffixes allowed) up with the job and "
                             "fetch it back, checking its SHA-256")
    parser.add_argument("--progress", action="store_true",
                        help="show file transfers (rate, ETA) on standard error even when it is not a "
                             "terminal (on a terminal they are always shown)")
    retry.add_arguments(parser, "requests to the LWR server")
    return parser


def main(argv=None) -> int:
    options = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    display = display_for(sys.stderr, force=options.progress)
    options.progress = display
    try:
        try:
            run(options)
        finally:
            if display is not None:
                display.close()
    except CheckFailure as exc:
        print("FAILED: %s" % exc, file=sys.stderr)
        return 1
    except Exception as exc:  # a client error is a failed check too; say what it was
        print("FAILED: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return 1
    if not options.suppress_output:
        print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
