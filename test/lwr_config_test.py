"""``lwr-config`` (lwr/scripts/lwr_config.py), ``lwr-server`` (lwr/scripts/lwr_server.py) and
``lwr.resources`` from this checkout: what gets written, what is refused, and the written
configuration served in the foreground the way the systemd unit runs it."""
import configparser
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request

import pytest

from lwr import resources
from lwr.scripts import lwr_config
from lwr.scripts.config import LwrConfigBuilder
from lwr.scripts.lwr_config import set_option
from test.support.server import REPO_ROOT, free_port
from test.support.services import require

BIN = os.path.dirname(sys.executable)


def _config(*args):
    return subprocess.run([os.path.join(BIN, "lwr-config")] + list(args), capture_output=True, text=True,
                          timeout=60)


def _ini(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


@pytest.mark.parametrize("text, section, option, value, expected", [
    ("[a]\nx = 1\n[b]\nx = 2\n", "b", "x", "3", "[a]\nx = 1\n[b]\nx = 3\n"),
    ("[a]\n#x = 1\ny = 2\n", "a", "x", "5", "[a]\nx = 5\ny = 2\n"),
    ("[a]\n## x = prose\n", "a", "x", "5", "[a]\nx = 5\n## x = prose\n"),
    ("[a]\nx = 1\n", "a", "x", None, "[a]\n#x = 1\n"),
    ("[a]\n#xy = 1\n", "a", "x", "2", "[a]\nx = 2\n#xy = 1\n"),
])
def test_set_option(text, section, option, value, expected):
    assert set_option(text, section, option, value) == expected


def test_set_option_refuses_a_missing_section():
    with pytest.raises(lwr_config.ConfigWriteError, match=r"no \[c\] section"):
        set_option("[a]\n", "c", "x", "1")


def test_resources_of_a_checkout_are_its_top_level_files():
    assert not resources.installed()
    assert resources.lwr_root() == REPO_ROOT
    assert resources.sample_path("server.ini.sample") == os.path.join(REPO_ROOT, "server.ini.sample")
    for name in resources.SCRIPTS:
        assert os.access(resources.script_path(name), os.X_OK), name
    with pytest.raises(ValueError):
        resources.script_path("../run.sh")


def test_setup_ships_every_resource():
    with open(os.path.join(REPO_ROOT, "setup.py")) as handle:
        setup_text = handle.read()
    for name in resources.SAMPLES + tuple("scripts/" + s for s in resources.SCRIPTS):
        assert '"%s"' % name in setup_text, name


def test_writes_the_five_files_with_the_options_given(tmp_path):
    result = _config("--directory", str(tmp_path), "--host", "0.0.0.0", "--port", "9123", "--manager", "queued_cli",
                     "--drmaa_library_path", "/opt/drmaa/lib/libdrmaa.so",
                     "--amqp_url", "amqp://u:p@broker:5672//", "--user", "root")
    assert result.returncode == 0, result.stderr
    key = result.stdout.split("private_token): ", 1)[1].split()[0]
    assert len(key) >= 40
    server = _ini(tmp_path / "server.ini")
    assert server.get("server:main", "host") == "0.0.0.0" and server.get("server:main", "port") == "9123"
    assert server.get("app:main", "private_key") == key
    assert server.get("app:main", "message_queue_url") == "amqp://u:p@broker:5672//"
    assert server.get("app:main", "job_managers_config") == str(tmp_path / "job_managers.ini")
    assert server.get("app:main", "staging_directory") == str(tmp_path / "lwr_staging")
    assert stat.S_IMODE(os.stat(tmp_path / "server.ini").st_mode) == 0o600  # it holds the key
    managers = _ini(tmp_path / "job_managers.ini")
    assert dict(managers["manager:_default_"]) == {"type": "queued_cli", "job_plugin": "Slurm",
                                                   "shell_plugin": "LocalShell"}
    assert "\nexport DRMAA_LIBRARY_PATH=/opt/drmaa/lib/libdrmaa.so\n" in (tmp_path / "local_env.sh").read_text()
    unit = (tmp_path / "lwr.service").read_text()
    assert "User=root\n" in unit and "WorkingDirectory=%s\n" % tmp_path in unit
    assert "ExecStart=%s --directory %s run\n" % (os.path.join(BIN, "lwr-server"), tmp_path) in unit
    program = (tmp_path / "lwr.supervisor.conf").read_text()
    assert "command=%s --directory %s run\n" % (os.path.join(BIN, "lwr-server"), tmp_path) in program


def test_systemd_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed (apt-get install systemd)")
    assert _config("--directory", str(tmp_path)).returncode == 0
    unit = tmp_path / "lwr-config-test.service"
    shutil.copy(tmp_path / "lwr.service", unit)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_each_manager_type_written_is_one_the_server_knows(tmp_path):
    from lwr.manager_factory import MANAGER_TYPES as KNOWN  # noqa: N811
    for manager in sorted(lwr_config.MANAGER_TYPES):
        assert manager in KNOWN, manager
        directory = tmp_path / manager
        assert _config("--directory", str(directory), "--manager", manager).returncode == 0
        assert _ini(directory / "job_managers.ini").get("manager:_default_", "type") == manager


@pytest.mark.parametrize("args, message", [
    (["--port", "0"], "--port 0: expected 1-65535"),
    (["--num_concurrent_jobs", "many"], "--num_concurrent_jobs 'many': expected a whole number or *"),
    (["--private_key", "50%off"], "--private_key: must be non-empty, on one line, without %"),
    (["--manager", "queued_magic"], "invalid choice: 'queued_magic'"),
])
def test_refuses_bad_options_in_one_line(tmp_path, args, message):
    result = _config("--directory", str(tmp_path), *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "server.ini").exists()


def test_keeps_existing_files_unless_forced(tmp_path):
    (tmp_path / "server.ini").write_text("mine\n")
    result = _config("--directory", str(tmp_path), "--private_key", "k" * 20)
    assert result.returncode == 1
    assert result.stderr.strip() == ("lwr-config: error: server.ini already exists in %s (pass --force to "
                                     "overwrite)" % tmp_path)
    assert (tmp_path / "server.ini").read_text() == "mine\n" and not (tmp_path / "lwr.service").exists()
    assert _config("--directory", str(tmp_path), "--force", "--private_key", "k" * 20).returncode == 0
    assert _ini(tmp_path / "server.ini").get("app:main", "private_key") == "k" * 20


def test_no_private_key_leaves_it_commented_out(tmp_path):
    result = _config("--directory", str(tmp_path), "--no_private_key")
    assert result.returncode == 0 and "private_token" not in result.stdout
    assert not _ini(tmp_path / "server.ini").has_option("app:main", "private_key")


def test_lwr_server_without_a_config_says_so_in_one_line(tmp_path):
    for command in ("start", "run", "status", "stop"):
        result = subprocess.run([os.path.join(BIN, "lwr-server"), "--directory", str(tmp_path), command],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, command
        assert result.stderr == "lwr-server: error: %s not found (write one with lwr-config, or pass " \
                                "--directory)\n" % (tmp_path / "server.ini"), result.stderr


def test_lwr_server_start_reports_a_server_that_dies(tmp_path):
    assert _config("--directory", str(tmp_path), "--port", str(free_port())).returncode == 0
    with open(tmp_path / "job_managers.ini", "a") as handle:
        handle.write("[manager:broken]\ntype = queued_cli\njob_plugin = NoSuchScheduler\n")
    result = subprocess.run([os.path.join(BIN, "lwr-server"), "--directory", str(tmp_path), "start"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "exited during startup" in result.stderr and "NoSuchScheduler" in result.stderr, result.stderr


@pytest.mark.server
def test_lwr_server_run_serves_in_the_foreground_with_local_env_until_sigterm(tmp_path):
    """What the systemd unit and the supervisor program run."""
    port = free_port()
    assert _config("--directory", str(tmp_path), "--port", str(port), "--private_key", "run-key-123456").returncode == 0
    with open(tmp_path / "local_env.sh", "a") as handle:
        handle.write("export LWR_CONFIG_TEST=sourced\n")
    process = subprocess.Popen([os.path.join(BIN, "lwr-server"), "--directory", str(tmp_path), "run"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen("http://localhost:%d/healthz?private_key=run-key-123456" % port,
                                            timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        with open("/proc/%d/environ" % process.pid, "rb") as handle:
            environ = handle.read().split(b"\0")
        assert b"LWR_CONFIG_TEST=sourced" in environ and b"LWR_CONFIG_DIR=%s" % bytes(tmp_path) in environ
        assert os.readlink("/proc/%d/cwd" % process.pid) == str(tmp_path)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert process.returncode is not None and (tmp_path / "lwr_staging").is_dir(), output


def test_lwr_daemon_root_defaults_to_the_config_directory_or_the_current_one(tmp_path, monkeypatch):
    ini = str(tmp_path / "conf" / "server.ini")
    assert LwrConfigBuilder(ini_path=ini).root == str(tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    assert LwrConfigBuilder(ini_path="server.ini").root == str(tmp_path)
    assert LwrConfigBuilder(ini_path="server.ini", root="/srv/x").root == "/srv/x"
