"""The LWR as an installed package: the sdist and the wheel built from it, installed (not
editable) into fresh virtualenvs outside the source tree.

* ``pip install 'lwr[server]'``, then ``lwr-config`` and ``lwr-server start`` run a real job
  (submitted by the installed ``lwr-run-client-tests``), with the samples and the
  ``scripts/*.bash`` found inside the package;
* ``pip install lwr`` (what Galaxy's virtualenv gets) installs no server dependency, and its
  client runs a real job against a server.
"""
import glob
import os
import subprocess
import sys

import pytest

from test.support.server import REPO_ROOT, LwrServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.server]

SERVER_ONLY = {"paste", "pastedeploy", "pastescript", "webob", "psutil", "prometheus-client", "prometheus_client"}


def _run(argv, timeout=600, **kwds):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwds)
    assert result.returncode == 0, "%s -> %s\n%s\n%s" % (argv, result.returncode, result.stdout, result.stderr)
    return result.stdout


def _clean_env():
    """No PYTHONPATH or virtualenv of the test run leaks into the installed package's commands."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(REPO_ROOT))
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel pip builds from the sdist (so whatever the sdist lacks, the wheel lacks)."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "setup.py", "-q", "sdist", "-d", str(dist)], cwd=REPO_ROOT)
    sdist, = glob.glob(str(dist / "lwr-*.tar.gz"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), sdist], cwd=str(dist))
    built, = glob.glob(str(dist / "lwr-*.whl"))
    return built


def _venv(path):
    _run([sys.executable, "-m", "venv", str(path)])
    return os.path.join(str(path), "bin")


def _installed(bindir):
    out = _run([os.path.join(bindir, "python"), "-m", "pip", "list", "--format=freeze"], env=_clean_env())
    return {line.split("==")[0].lower() for line in out.split()}


def test_installed_server_configured_by_lwr_config_runs_a_job(wheel, tmp_path):
    bindir = _venv(tmp_path / "venv")
    env = _clean_env()
    _run([os.path.join(bindir, "python"), "-m", "pip", "install", "-q", "%s[server]" % wheel], env=env)
    python = os.path.join(bindir, "python")

    # The package, its samples and scripts come from the venv, not from this checkout.
    where = _run([python, "-c", "import lwr, lwr.resources as r; print(lwr.__file__); print(r.installed()); "
                                "print(r.sample_path('server.ini.sample')); print(r.script_path('drmaa_launch.bash'))"],
                 cwd=str(tmp_path), env=env).split()
    assert where[0].startswith(str(tmp_path / "venv")) and where[1] == "True", where
    assert os.path.isfile(where[2]) and os.access(where[3], os.X_OK), where
    # The packaged launcher finds the venv's python: the script module answers --help.
    assert "--job_attributes" in _run([where[3], "--help"], cwd=str(tmp_path), env=env)

    for command in ("lwr-config", "lwr-server", "lwr-daemon", "lwr-submit", "lwr-run-client-tests", "lwr-status"):
        assert "usage: " in _run([os.path.join(bindir, command), "--help"], cwd=str(tmp_path), env=env), command
    # lwr-daemon runs where its configuration is, never in site-packages.
    daemon_help = _run([os.path.join(bindir, "lwr-daemon"), "--help"], cwd=str(tmp_path), env=env)
    assert "the directory of an absolute --ini_path" in " ".join(daemon_help.split())

    config_dir = tmp_path / "lwr-config"
    port = free_port()
    out = _run([os.path.join(bindir, "lwr-config"), "--directory", str(config_dir), "--port", str(port),
                "--host", "127.0.0.1", "--manager", "queued_python", "--num_concurrent_jobs", "2"],
               cwd=str(tmp_path), env=env)
    key = out.split("private_token): ", 1)[1].split()[0]
    for name in ("server.ini", "job_managers.ini", "local_env.sh", "lwr.service", "lwr.supervisor.conf"):
        assert (config_dir / name).is_file(), name
    assert "ExecStart=%s --directory %s run" % (os.path.join(bindir, "lwr-server"), config_dir) in \
        (config_dir / "lwr.service").read_text()
    # local_env.sh is sourced by lwr-server: a variable set there reaches the server's jobs.
    with open(config_dir / "local_env.sh", "a") as handle:
        handle.write("export LWR_PACKAGING_TEST=from-local-env\n")

    server = [os.path.join(bindir, "lwr-server"), "--directory", str(config_dir)]
    assert "started" in _run(server + ["start"], cwd=str(tmp_path), env=env)
    try:
        assert "answering" in _run(server + ["status"], cwd=str(tmp_path), env=env)
        out = _run([os.path.join(bindir, "lwr-run-client-tests"), "--url", "http://127.0.0.1:%d/" % port,
                    "--private_token", key], cwd=str(tmp_path), env=env, timeout=300)
        assert "All checks passed" in out, out
        pid = int((config_dir / "lwr.pid").read_text())
        with open("/proc/%d/environ" % pid, "rb") as handle:
            assert b"LWR_PACKAGING_TEST=from-local-env" in handle.read().split(b"\0")
    finally:
        stopped = subprocess.run(server + ["stop"], capture_output=True, text=True, env=env, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    status = subprocess.run(server + ["status"], capture_output=True, text=True, env=env, timeout=60)
    assert status.returncode == 3 and "not running" in status.stdout
    # The server ran in the config directory: nothing was written into site-packages.
    assert (config_dir / "lwr_staging").is_dir() and (config_dir / "lwr.log").is_file()
    assert not glob.glob(str(tmp_path / "venv" / "lib" / "python*" / "site-packages" / "lwr_staging"))


def test_client_only_install_pulls_no_server_dependency_and_runs_a_job(wheel, tmp_path):
    bindir = _venv(tmp_path / "venv")
    env = _clean_env()
    _run([os.path.join(bindir, "python"), "-m", "pip", "install", "-q", wheel], env=env)
    installed = _installed(bindir)
    assert "lwr" in installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    python = os.path.join(bindir, "python")
    _run([python, "-c", "import lwr.lwr_client as c; c.build_client_manager; c.url_to_destination_params"],
         cwd=str(tmp_path), env=env)
    # The server commands say what is missing, in one line.
    (tmp_path / "server.ini").write_text("[server:main]\nport = %d\n" % free_port())
    refused = subprocess.run([os.path.join(bindir, "lwr-server"), "--directory", str(tmp_path), "start"],
                             capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=60)
    assert refused.returncode == 1
    assert "pip install 'lwr[server]'" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and refused.stderr.count("\n") == 1, refused.stderr

    server = LwrServer(tmp_path / "server", app_conf={"private_key": "client-only-key"}).start()
    try:
        out = _run([os.path.join(bindir, "lwr-run-client-tests"), "--url", server.url,
                    "--private_token", "client-only-key"], cwd=str(tmp_path), env=env, timeout=300)
        assert "All checks passed" in out, out
    finally:
        server.stop()
