"""The shell entry points: help, syntax, setup_venv.sh's stamp, run.sh's daemon start checks.

The run.sh tests work in a temporary copy of the scripts with ``.venv`` linked to the
project's, so they never touch the project's own server.ini, pid or log files.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from test.support.server import REPO_ROOT, free_port
from test.support.wait import eventually, process_ended

VENV = os.path.join(REPO_ROOT, ".venv")
SCRIPTS = ["run.sh", "setup_venv.sh", "run_tests.sh"]
_SKIP_DIRS = {".git", ".venv", "_build", "__pycache__", ".pytest_cache", "node_modules"}


def shell_scripts():
    found = [os.path.join(".ci", "run")]
    for directory, subdirs, files in os.walk(REPO_ROOT):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".sh") or name.endswith(".bash"):
                found.append(os.path.relpath(os.path.join(directory, name), REPO_ROOT))
    return found


def run(args, cwd, timeout=60, env=None):
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(env or {})
    return subprocess.run(args, cwd=str(cwd), capture_output=True, text=True, timeout=timeout,
                          env=full_env)


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_usage_and_exits_zero(script, flag, tmp_path):
    shutil.copy(os.path.join(REPO_ROOT, script), tmp_path / script)
    result = run(["bash", str(tmp_path / script), flag], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ./%s" % script)
    # Help must not set anything up.
    assert sorted(os.listdir(tmp_path)) == [script]


@pytest.mark.parametrize("script", shell_scripts())
def test_shell_script_syntax(script):
    result = run(["bash", "-n", os.path.join(REPO_ROOT, script)], REPO_ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", SCRIPTS + [".ci/run"])
def test_entry_scripts_are_executable(script):
    assert os.access(os.path.join(REPO_ROOT, script), os.X_OK)


def test_run_sh_rejects_unknown_mode(tmp_path):
    shutil.copy(os.path.join(REPO_ROOT, "run.sh"), tmp_path)
    result = run(["bash", str(tmp_path / "run.sh"), "--mode", "tornado"], tmp_path)
    assert result.returncode == 2
    assert "unknown mode 'tornado'" in result.stderr


# --- setup_venv.sh: reinstall only when the requirement files change -------------------------

FAKE_PYTHON = """#!/bin/sh
# Records pip invocations instead of running them; everything else is the real interpreter.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "$*" >> "%(log)s"
    exit 0
fi
exec "%(python)s" "$@"
"""


@pytest.fixture
def fake_venv_project(tmp_path):
    for name in ("setup_venv.sh", "requirements.txt", "dev-requirements.txt", "setup.py"):
        shutil.copy(os.path.join(REPO_ROOT, name), tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "pip-calls.log"
    (bin_dir / "python").write_text(FAKE_PYTHON % {"log": log, "python": sys.executable})
    (bin_dir / "python").chmod(0o755)
    return tmp_path, log


def pip_calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_setup_venv_installs_once_then_only_when_requirements_change(fake_venv_project):
    project, log = fake_venv_project
    first = run(["./setup_venv.sh", "--dev"], project)
    assert first.returncode == 0, first.stderr
    calls = pip_calls(log)
    assert any("install" in c and "-r dev-requirements.txt" in c for c in calls), calls
    assert any("--no-deps -e ." in c for c in calls), calls
    assert (project / ".venv" / ".lwr-setup-stamp").is_file()

    log.unlink()
    again = run(["./setup_venv.sh", "--dev"], project)
    plain = run(["./setup_venv.sh"], project)  # a dev install covers the plain one
    assert again.returncode == 0 and plain.returncode == 0
    assert pip_calls(log) == []

    with open(project / "dev-requirements.txt", "a") as handle:
        handle.write("extra-package\n")
    changed = run(["./setup_venv.sh", "--dev"], project)
    assert changed.returncode == 0, changed.stderr
    assert any("-r dev-requirements.txt" in c for c in pip_calls(log))


def test_setup_venv_plain_stamp_does_not_satisfy_dev(fake_venv_project):
    project, log = fake_venv_project
    assert run(["./setup_venv.sh"], project).returncode == 0
    assert any("-r requirements.txt" in c for c in pip_calls(log))
    log.unlink()
    assert run(["./setup_venv.sh", "--dev"], project).returncode == 0
    assert any("-r dev-requirements.txt" in c for c in pip_calls(log))


# --- run_tests.sh -----------------------------------------------------------------------------

def test_run_tests_sh_fails_when_no_tests_are_collected(tmp_path):
    shutil.copy(os.path.join(REPO_ROOT, "run_tests.sh"), tmp_path)
    (tmp_path / "setup_venv.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "setup_venv.sh").chmod(0o755)
    os.symlink(VENV, tmp_path / ".venv")
    (tmp_path / "empty").mkdir()
    result = run(["./run_tests.sh", "-p", "no:cacheprovider", "empty"], tmp_path, timeout=120)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "collected no tests" in result.stderr


# --- run.sh --daemon --------------------------------------------------------------------------

DUMMY_INI = """[server:main]
use = egg:lwr#server
host = 127.0.0.1
port = %(port)d

[app:main]
use = egg:Paste#test
"""


@pytest.fixture
def run_dir(tmp_path):
    """run.sh and setup_venv.sh in an empty directory whose .venv is the project's."""
    for name in ("run.sh", "setup_venv.sh"):
        shutil.copy(os.path.join(REPO_ROOT, name), tmp_path / name)
    os.symlink(VENV, tmp_path / ".venv")
    yield tmp_path
    pid_file = tmp_path / "paster.pid"
    if pid_file.exists():  # a test failed half-way: do not leave its server behind
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def daemon_pid(directory):
    return int((directory / "paster.pid").read_text().strip())


def wait_gone(pid, timeout=10.0):
    return eventually(lambda: process_ended(pid), timeout, interval=0.1)


@pytest.mark.server
def test_run_sh_daemon_fails_when_the_port_is_taken(run_dir):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        (run_dir / "server.ini").write_text(DUMMY_INI % {"port": port})
        started = time.monotonic()
        result = run(["./run.sh", "--daemon"], run_dir, env={"LWR_START_TIMEOUT": "15"})
        elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # run.sh checks the configuration (and tries the address) before it daemonizes: one line
    assert ("server.ini: [server:main] cannot listen on 127.0.0.1:%d: Address already in use" % port) in output
    assert elapsed < 15, "the dead server should be noticed at once, took %.1fs" % elapsed
    assert not (run_dir / "paster.pid").exists()


@pytest.mark.server
def test_run_sh_daemon_fails_when_the_app_cannot_load(run_dir):
    port = free_port()
    (run_dir / "server.ini").write_text(
        (DUMMY_INI % {"port": port}).replace("egg:Paste#test", "call:lwr_no_such_module:app"))
    result = run(["./run.sh", "--daemon"], run_dir, env={"LWR_START_TIMEOUT": "15"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "lwr_no_such_module" in output


@pytest.mark.server
def test_run_sh_daemon_starts_reports_status_and_stops(run_dir):
    port = free_port()
    (run_dir / "server.ini").write_text(DUMMY_INI % {"port": port})
    started = run(["./run.sh", "--daemon"], run_dir)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = daemon_pid(run_dir)
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as response:
        assert response.status == 200

    status = run(["./run.sh", "--status"], run_dir)
    assert status.returncode == 0 and str(pid) in status.stdout

    stopped = run(["./run.sh", "--stop-daemon"], run_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert wait_gone(pid)
    assert run(["./run.sh", "--status"], run_dir).returncode != 0


@pytest.mark.server
def test_run_sh_daemon_serves_lwr_from_the_sample_config(run_dir):
    """The README's start command: server.ini is created from the sample and LWR answers."""
    port = free_port()
    with open(os.path.join(REPO_ROOT, "server.ini.sample")) as handle:
        sample = handle.read()
    assert "\nport = 8913\n" in sample and "\nhost = localhost\n" in sample
    sample = sample.replace("\nport = 8913\n", "\nport = %d\n" % port, 1)
    (run_dir / "server.ini.sample").write_text(sample.replace("\nhost = localhost\n",
                                                              "\nhost = 127.0.0.1\n", 1))
    started = run(["./run.sh", "--daemon"], run_dir, env={"LWR_START_TIMEOUT": "30"})
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert (run_dir / "server.ini").is_file()
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
        assert (run_dir / "lwr_staging").is_dir() or (run_dir / "persisted_data").is_dir()
        # The README's sanity check, against this README-started server, with a dependency
        # resolved from the sample's default tool_dependency_dir (``dependencies``).
        dependency = run_dir / "dependencies" / "dep1" / "1.1"
        dependency.mkdir(parents=True)
        (dependency / "env.sh").write_text("MOO=moo_override; export MOO\n")
        check = run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"),
                     "--url=http://127.0.0.1:%d/" % port, "--test_requirement", "--test_errors"],
                    run_dir, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "All checks passed" in check.stdout + check.stderr
    finally:
        if (run_dir / "paster.pid").exists():
            pid = daemon_pid(run_dir)
            stopped = run(["./run.sh", "--stop-daemon"], run_dir)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
            assert wait_gone(pid)


# --- run.sh mode selection ---------------------------------------------------------------------

FAKE_SERVER = """#!/bin/sh
echo "FAKE $(basename "$0") $*"
"""


@pytest.mark.parametrize("args,ini,expected", [
    # uwsgi and gunicorn on PATH are not picked by themselves: only --mode, or a config written
    # for uWSGI alone, selects them (test/serving_modes_test.py runs the default with real uWSGI).
    (["--mode", "uwsgi"], None, "FAKE uwsgi --ini-paste server.ini"),
    ([], "[uwsgi]\nhttp-socket = 127.0.0.1:8914\n", "FAKE uwsgi --ini-paste server.ini"),
    # (--mode gunicorn runs the real gunicorn of .venv: test/serving_modes_test.py.)
])
def test_run_sh_runs_the_mode_asked_for(run_dir, tmp_path_factory, args, ini, expected):
    fake_bin = tmp_path_factory.mktemp("bin")
    for name in ("uwsgi", "circusd", "chaussette"):
        (fake_bin / name).write_text(FAKE_SERVER)
        (fake_bin / name).chmod(0o755)
    (run_dir / "server.ini").write_text(ini or DUMMY_INI % {"port": 8914})
    env = {"PATH": "%s:%s" % (fake_bin, os.environ["PATH"])}
    result = run(["./run.sh"] + args + ["--extra", "arg"], run_dir, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected + " --extra arg"

    # paster's daemon options always mean paster, whatever else is installed.
    status = run(["./run.sh", "--status"], run_dir, env=env)
    assert "FAKE" not in status.stdout
    assert "No PID file" in status.stdout


@pytest.mark.parametrize("mode", ["circusd", "chaussette"])
def test_run_sh_says_the_circus_modes_were_removed(run_dir, mode):
    result = run(["./run.sh", "--mode", mode], run_dir)
    assert result.returncode == 2
    assert "was removed" in result.stderr and result.stderr.count("\n") == 1, result.stderr
