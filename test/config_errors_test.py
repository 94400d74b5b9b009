"""Each configuration mistake of issue 13 is refused at start by the real commands (``paster serve``,
``./run.sh``, ``lwr-daemon``) with one line naming the file, the section and the option, and no traceback."""
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from test.support.server import PASTER, REPO_ROOT, free_port

LWR_DAEMON = os.path.join(os.path.dirname(sys.executable), "lwr-daemon")
RUN_SH = os.path.join(REPO_ROOT, "run.sh")


def write_config(directory, server=None, app=None, managers=None, port=None):
    """server.ini (and job_managers.ini when ``managers`` is given) in ``directory``; returns its path."""
    directory = str(directory)
    server_conf = {"use": "egg:lwr#server", "host": "127.0.0.1", "port": str(port or free_port())}
    server_conf.update(server or {})
    app_conf = {"paste.app_factory": "lwr.web.wsgi:app_factory", "private_key": "s3cret-key",
                "staging_directory": os.path.join(directory, "staging"),
                "persistence_directory": os.path.join(directory, "persisted")}
    if managers is not None:
        path = os.path.join(directory, "job_managers.ini")
        with open(path, "w") as handle:
            handle.write(managers)
        app_conf["job_managers_config"] = path
    app_conf.update(app or {})
    lines = ["[server:main]"] + ["%s = %s" % item for item in server_conf.items() if item[1] is not None]
    lines += ["", "[app:main]"] + ["%s = %s" % item for item in app_conf.items() if item[1] is not None]
    path = os.path.join(directory, "server.ini")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _paster(ini):
    return [PASTER, "serve", ini]


def _run_sh(ini):
    return [RUN_SH, "--mode", "paster", "--config", ini]


def _run_sh_daemon(ini):
    directory = os.path.dirname(ini)
    return [RUN_SH, "--mode", "paster", "--config", ini, "--daemon", "--pid-file", os.path.join(directory, "p.pid"),
            "--log-file", os.path.join(directory, "p.log")]


def _daemon(ini):
    return [LWR_DAEMON, "--root", os.path.dirname(ini), "--ini_path", os.path.basename(ini),
            "--pid_file", "d.pid"]


def run(command, timeout=60):
    return subprocess.run(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def refused_with(result, expected):
    """The process failed, printed exactly ``expected`` as its only stderr line, and no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert result.stderr.splitlines() == [expected], output


#: (id, server options, app options, job_managers.ini text, expected line with {ini} / {managers} / {port}).
MISTAKES = [
    ("typo_private_key", {}, {"private_key": None, "privte_key": "s3cret"}, None,
     "{ini}: [app:main] unknown option privte_key (did you mean private_key?)"),
    ("assign_ids_foo", {}, {"assign_ids": "foo"}, None,
     "{ini}: [app:main] assign_ids = 'foo': expected one of galaxy, uuid"),
    ("num_concurent_jobs", {}, {}, "[manager:_default_]\ntype = queued_python\nnum_concurent_jobs = 4\n",
     "{managers}: [manager:_default_] unknown option num_concurent_jobs (did you mean num_concurrent_jobs?)"),
    ("debug_maybe", {}, {"debug": "maybe"}, None,
     "{ini}: [app:main] debug = 'maybe': expected true or false"),
    ("port_abc", {"port": "abc"}, {}, None,
     "{ini}: [server:main] port = 'abc': expected a port number from 1 to 65535"),
    ("ssl_pem_missing", {"ssl_pem": "/nonexistent.pem"}, {}, None,
     "{ini}: [server:main] ssl_pem = '/nonexistent.pem': expected the path of a readable PEM file "
     "(key and certificate), or * (no such file)"),
    ("empty_private_key_beyond_loopback", {"host": "0.0.0.0"}, {"private_key": ""}, None,
     "{ini}: [app:main] private_key is empty while the server listens beyond loopback (host = 0.0.0.0): "
     "set private_key, or allow_unauthenticated = true to serve without authentication"),
    ("no_private_key_beyond_loopback", {"host": "0.0.0.0"}, {"private_key": None}, None,
     "{ini}: [app:main] private_key is not set while the server listens beyond loopback (host = 0.0.0.0): "
     "set private_key, or allow_unauthenticated = true to serve without authentication"),
    ("unknown_manager_type", {}, {}, "[manager:_default_]\ntype = queued_pyton\n",
     "{managers}: [manager:_default_] type = 'queued_pyton': expected one of queued_cli, queued_condor, "
     "queued_drmaa, queued_external_drmaa, queued_pbs, queued_python, unqueued"),
    ("bad_umask", {}, {"object_store_umask": "999"}, None,
     "{ini}: [app:main] object_store_umask = '999': expected an octal number such as 0022"),
    ("bad_amqp_flag", {}, {"message_queue_url": "amqp://127.0.0.1:1//", "message_queue_publish": "perhaps"}, None,
     "{ini}: [app:main] message_queue_publish = 'perhaps': expected true or false"),
]

#: Mistakes lwr-daemon also refuses ([server:main] and listening are not its business).
DAEMON_MISTAKES = ("typo_private_key", "assign_ids_foo", "num_concurent_jobs", "debug_maybe", "unknown_manager_type",
                   "bad_umask", "bad_amqp_flag")


def _expected(template, ini, port=None):
    return template.format(ini=ini, managers=os.path.join(os.path.dirname(ini), "job_managers.ini"), port=port)


@pytest.mark.parametrize("command", [_paster, _run_sh, _run_sh_daemon], ids=["paster_serve", "run_sh", "run_sh_daemon"])
@pytest.mark.parametrize("name,server,app,managers,expected", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_refused_by_the_server_with_one_line(tmp_path, command, name, server, app, managers, expected):
    ini = write_config(tmp_path, server, app, managers)
    refused_with(run(command(ini)), _expected(expected, ini))
    assert not (tmp_path / "p.pid").exists()


@pytest.mark.parametrize("name,server,app,managers,expected", [m for m in MISTAKES if m[0] in DAEMON_MISTAKES],
                         ids=list(DAEMON_MISTAKES))
def test_a_mistake_is_refused_by_lwr_daemon_with_one_line(tmp_path, name, server, app, managers, expected):
    ini = write_config(tmp_path, server, app, managers)
    result = run(_daemon(ini))
    refused_with(result, "lwr-daemon: error: " + _expected(expected, ini))
    assert not (tmp_path / "d.pid").exists()


@pytest.mark.parametrize("command", [_paster, _run_sh, _run_sh_daemon], ids=["paster_serve", "run_sh", "run_sh_daemon"])
def test_a_port_in_use_is_refused_naming_the_address(tmp_path, command):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ini = write_config(tmp_path, port=port)
        result = run(command(ini))
    refused_with(result, "%s: [server:main] cannot listen on 127.0.0.1:%d: Address already in use" % (ini, port))
    assert not (tmp_path / "persisted").exists(), "the app was built before the port was checked"


def test_an_unresolvable_host_is_refused_naming_it(tmp_path):
    ini = write_config(tmp_path, {"host": "no-such-host.invalid"})
    result = run(_paster(ini))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "%s: [server:main] host = 'no-such-host.invalid': cannot resolve the host name (" % ini), result.stderr


def test_a_directory_as_ssl_pem_names_the_option(tmp_path):
    ini = write_config(tmp_path, {"ssl_pem": str(tmp_path)})
    result = run(_paster(ini))
    refused_with(result, "%s: [server:main] ssl_pem = %r: expected the path of a readable PEM file (key and "
                         "certificate), or * (it is a directory)" % (ini, str(tmp_path)))


def test_a_file_that_is_no_pem_names_the_option(tmp_path):
    pem = tmp_path / "host.pem"
    pem.write_text("not a certificate\n")
    ini = write_config(tmp_path, {"ssl_pem": str(pem)})
    result = run(_paster(ini))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "%s: [server:main] ssl_pem = %r: expected a PEM file holding a private key and its certificate ("
        % (ini, str(pem))), result.stderr


@pytest.mark.parametrize("command", [_paster, _daemon], ids=["paster_serve", "lwr_daemon"])
def test_a_typo_in_the_object_store_file_names_it(tmp_path, command):
    store = tmp_path / "object_store_conf.xml"
    store.write_text('<object_store type="disk" wieght="1">\n  <files_dir path="%s"/>\n</object_store>\n'
                     % (tmp_path / "files"))
    ini = write_config(tmp_path, app={"object_store_config_file": str(store)})
    expected = ("%s: [app:main] object_store_config_file %s: <object_store>: unknown attribute 'wieght' "
                "(did you mean weight?)" % (ini, store))
    refused_with(run(command(ini)), ("lwr-daemon: error: " if command is _daemon else "") + expected)


def _start(ini, timeout=30):
    """A server that should start: returns (process, stderr so far) once it serves."""
    process = subprocess.Popen(_paster(ini), cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("serving on "):
            return process, "".join(lines)
    process.kill()
    process.wait()
    raise AssertionError("server did not start:\n" + "".join(lines) + (process.stdout.read() or ""))


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_allow_unauthenticated_starts_beyond_loopback_with_a_warning(tmp_path):
    ini = write_config(tmp_path, {"host": "0.0.0.0"}, {"private_key": "", "allow_unauthenticated": "true"})
    process, output = _start(ini)
    try:
        assert re.search(r"allow_unauthenticated = true: serving WITHOUT authentication on host = 0\.0\.0\.0",
                         output), output
    finally:
        _stop(process)


def test_no_private_key_on_loopback_starts_with_a_warning(tmp_path):
    ini = write_config(tmp_path, {"host": "127.0.0.1"}, {"private_key": None})
    process, output = _start(ini)
    try:
        assert "no private_key: any local user can run commands as" in output, output
        assert "127.0.0.1" in output
    finally:
        _stop(process)


def test_a_key_and_a_correct_configuration_start_without_a_warning_about_it(tmp_path):
    ini = write_config(tmp_path, {"host": "127.0.0.1"}, {"assign_ids": "uuid", "debug": "false"},
                       "[manager:_default_]\ntype = queued_python\nmax_concurrent_jobs = 2\nenv_TMPDIR = /tmp\n")
    process, output = _start(ini)
    try:
        assert "private_key" not in output and "allow_unauthenticated" not in output, output
    finally:
        _stop(process)


def test_check_config_passes_a_good_configuration_and_leaves_the_port_free(tmp_path):
    port = free_port()
    ini = write_config(tmp_path, port=port)
    result = run([sys.executable, "-m", "lwr.scripts.check_config", ini])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the trial bind was released
    assert run([sys.executable, "-m", "lwr.scripts.check_config", "--help"]).returncode == 0


def test_gunicorn_bound_beyond_loopback_without_a_key_is_refused(tmp_path):
    """The address gunicorn was given on its command line counts, whatever server.ini's host says."""
    from test.support.services import require

    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    require(os.path.exists(gunicorn), "gunicorn is not installed in %s (./setup_venv.sh --dev)"
            % os.path.dirname(os.path.dirname(sys.executable)))
    port = free_port()
    ini = write_config(tmp_path, {"host": "localhost"}, {"private_key": None}, port=port)
    result = run([gunicorn, "--paste", ini, "-b", "0.0.0.0:%d" % port, "--workers", "1"], timeout=60)
    assert result.returncode != 0
    assert ("%s: [app:main] private_key is not set while the server listens beyond loopback (host = 0.0.0.0)" % ini
            in result.stderr), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
