"""Under uWSGI (run.sh --mode uwsgi, the sample's [uwsgi] section) the token reaches no log."""
import os
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request

import pytest

from test.support.server import REPO_ROOT, free_port
from test.support.services import require
from test.support.wait import wait_for

pytestmark = [pytest.mark.server, pytest.mark.uwsgi, pytest.mark.slow]

TOKEN = "uwsgi-T0ken-value"
#: uWSGI lives in a venv of its own: installed into the project's .venv, its ``uwsgi``
#: command would make ``./run.sh`` pick uwsgi mode on every developer's machine.
UWSGI_VENV = os.path.expanduser(os.environ.get("LWR_TEST_UWSGI_VENV", "~/.cache/lwr-test-uwsgi"))


def _uwsgi():
    """The uwsgi command (pyuwsgi from PyPI), installed into UWSGI_VENV on first use."""
    binary = os.path.join(UWSGI_VENV, "bin", "uwsgi")
    if not os.path.exists(binary):
        subprocess.run([sys.executable, "-m", "venv", UWSGI_VENV], capture_output=True, timeout=300)
        subprocess.run([os.path.join(UWSGI_VENV, "bin", "pip"), "install", "-q", "pyuwsgi"],
                       capture_output=True, timeout=600)
    return binary if os.path.exists(binary) else None


def _sample_config(directory, port):
    """server.ini.sample as run.sh would use it, on a free port, speaking HTTP, with a key."""
    with open(os.path.join(REPO_ROOT, "server.ini.sample")) as handle:
        text = handle.read()
    replacements = {"socket = 127.0.0.1:3031": "http-socket = 127.0.0.1:%d" % port,
                    "#private_key = change_me": "private_key = %s" % TOKEN,
                    "staging_directory = lwr_staging": "staging_directory = %s/staging" % directory,
                    "persistence_directory = persisted_data": "persistence_directory = %s/persisted" % directory}
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = os.path.join(directory, "server.ini")
    with open(path, "w") as handle:
        handle.write(text)
    return path


def test_uwsgi_with_the_sample_config_logs_requests_without_the_token(tmp_path):
    uwsgi = _uwsgi()
    require(uwsgi is not None, "uwsgi (pyuwsgi) could not be installed into %s" % UWSGI_VENV)
    port = free_port()
    config = _sample_config(str(tmp_path), port)
    log_path = tmp_path / "uwsgi.log"
    # uWSGI's embedded Python is UWSGI_VENV's (the same interpreter): LWR and its
    # requirements come from this checkout and the test's own environment.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, sysconfig.get_paths()["purelib"]]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen([uwsgi, "--ini-paste", config], cwd=str(tmp_path), stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        def healthz(query):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz?%s" % (port, query % TOKEN),
                                            timeout=5) as response:
                    return response.status
            except OSError:
                assert process.poll() is None, log_path.read_text()
                return None
        statuses = [wait_for(lambda: healthz(query), 30, lambda: log_path.read_text(), interval=0.2)
                    for query in ("private_key=%s", "private%%5Fkey=%s", "x=1;private_token=%s")]
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)  # uWSGI reloads on SIGTERM; SIGINT stops it
        process.wait(20)
    text = log_path.read_text(errors="replace")
    assert statuses == [200, 200, 200]
    assert text.count("[lwr.access]") >= 3, text  # requests are logged, by LWR's access log...
    assert TOKEN not in text, text  # ...and by nothing that writes the token
