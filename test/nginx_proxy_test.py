"""The nginx configurations of docs/examples, as docs/deployment.rst tells an admin to install
them (TLS in nginx, the LWR on localhost), carry real jobs: the client check job, a submit
whose request line is ~10 KiB, a 3 MiB upload; and nginx's log keeps the private key out.

nginx-lwr.conf proxies HTTP to LWR's own server; nginx-lwr-uwsgi.conf speaks the uwsgi
protocol to ``./run.sh --mode uwsgi`` with the sample's [uwsgi] section as it is."""
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time

import pytest

from lwr.lwr_client import build_client_manager
from lwr.web.httpserver import self_signed_pem
from test.support.server import REPO_ROOT, LwrServer, free_port
from test.support.services import port_open, require

pytestmark = [pytest.mark.server, pytest.mark.slow]

EXAMPLES = os.path.join(REPO_ROOT, "docs", "examples")
TOKEN = "nginx-proxy-T0ken-77c1"


def _nginx_conf(directory, port, lwr_port, pem, example):
    with open(os.path.join(EXAMPLES, example)) as handle:
        snippet = handle.read()
    shutil.copy("/etc/nginx/uwsgi_params", directory)  # `include uwsgi_params` is relative to nginx.conf
    replacements = {
        "listen 443 ssl;": "listen 127.0.0.1:%d ssl;" % port,
        "/etc/ssl/certs/lwr.example.org.pem": pem,
        "/etc/ssl/private/lwr.example.org.key": pem,
        "/var/log/nginx/lwr.access.log": os.path.join(directory, "access.log"),
        "http://127.0.0.1:8913": "http://127.0.0.1:%d" % lwr_port,
        "uwsgi_pass 127.0.0.1:3031": "uwsgi_pass 127.0.0.1:%d" % lwr_port,
    }
    for old, new in replacements.items():
        snippet = snippet.replace(old, new)
    active = "\n".join(line for line in snippet.splitlines() if not line.lstrip().startswith("#"))
    assert "8913" not in active and "3031" not in active and "/etc/ssl" not in active, active
    with open(os.path.join(directory, "lwr.conf"), "w") as handle:
        handle.write(snippet)
    temp = ["%s_temp_path %s/%s;" % (name, directory, name)
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")]
    main = ["daemon off;", "worker_processes 1;", "pid %s/nginx.pid;" % directory,
            "error_log %s/error.log;" % directory, "events {}",
            "http {", "  access_log off;"] + ["  " + line for line in temp] + \
           ["  include %s/lwr.conf;" % directory, "}"]
    if os.geteuid() == 0:
        main.insert(0, "user root;")  # the workers must reach the test's private directories
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as handle:
        handle.write("\n".join(main) + "\n")
    return path


class UwsgiBackend:
    """``./run.sh --mode uwsgi`` with server.ini.sample (its ``socket``) on a free port."""

    def __init__(self, directory):
        from test.serving_modes_test import _config
        from test.uwsgi_logging_test import UWSGI_VENV, _uwsgi

        uwsgi = _uwsgi()
        require(uwsgi is not None, "uwsgi (pyuwsgi) could not be installed into %s" % UWSGI_VENV)
        os.makedirs(directory)
        self.port = free_port()
        config = _config(directory, free_port(), token=TOKEN)
        with open(config) as handle:
            text = handle.read()
        assert "\nsocket = 127.0.0.1:3031\n" in text
        with open(config, "w") as handle:
            handle.write(text.replace("\nsocket = 127.0.0.1:3031\n", "\nsocket = 127.0.0.1:%d\n" % self.port))
        env = dict(os.environ, PATH=os.path.dirname(uwsgi) + os.pathsep + os.environ["PATH"],
                   PYTHONPATH=os.pathsep.join([REPO_ROOT, sysconfig.get_paths()["purelib"]]))
        self.log_path = os.path.join(directory, "uwsgi.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([os.path.join(REPO_ROOT, "run.sh"), "--mode", "uwsgi", "--config", config],
                                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.1)

    def log(self):
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)  # die-on-term
        self.process.wait(30)


@pytest.mark.parametrize("example", ["nginx-lwr.conf", "nginx-lwr-uwsgi.conf"])
def test_documented_nginx_configuration_proxies_jobs_over_tls(tmp_path, example):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    require(nginx is not None, "nginx is not installed (apt-get install nginx-light)")
    if "uwsgi" in example:
        lwr = UwsgiBackend(str(tmp_path / "lwr"))
    else:
        lwr = LwrServer(tmp_path / "lwr", app_conf={"private_key": TOKEN}).start()
    directory = str(tmp_path / "nginx")
    os.makedirs(directory)
    port = free_port()
    pem = self_signed_pem(os.path.join(directory, "host.pem"))
    conf = _nginx_conf(directory, port, lwr.port, pem, example)
    checked = subprocess.run([nginx, "-t", "-c", conf], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx, "-c", conf], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, \
                open(os.path.join(directory, "error.log")).read()
            time.sleep(0.1)
        url = "https://127.0.0.1:%d/" % port
        env = dict(os.environ, LWR_SSL_VERIFY="0")  # a self-signed certificate
        check = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"), "--url", url,
                                "--private_token", TOKEN], capture_output=True, text=True, timeout=300, env=env)
        assert check.returncode == 0 and "All checks passed" in check.stdout, check.stdout + check.stderr

        os.environ["LWR_SSL_VERIFY"] = "0"
        try:
            client = build_client_manager().get_client({"url": url, "private_token": TOKEN}, "nginx-long")
        finally:
            del os.environ["LWR_SSL_VERIFY"]
        client.setup("t", "1")
        big = tmp_path / "big.dat"
        big.write_bytes(os.urandom(3 * 1024 * 1024))
        client.put_file(str(big), "input")
        words = 1400  # ~10 KiB request line
        client.launch("echo %s | wc -w; wc -c < ../inputs/big.dat" % " ".join("w%05d" % i for i in range(words)))
        deadline = time.monotonic() + 60
        while (status := client.full_status())["complete"] != "true":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status["status"] == "complete", status
        assert status["stdout"].split() == [str(words), str(3 * 1024 * 1024)], status
        client.clean()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        lwr.stop()
    with open(os.path.join(directory, "access.log")) as handle:
        access = handle.read()
    assert "POST /jobs/nginx-long/submit" in access, access[-2000:]
    assert TOKEN not in access, access[-2000:]
