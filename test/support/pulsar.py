"""pulsar-app 0.16 from PyPI in a cached venv, and its ``pulsar-check`` client run against LWR.

``scripts/services/install-pulsar.sh`` builds the venv once (~35 s) under
``~/.cache/lwr-test-pulsar/<version key>``.  :func:`pulsar_check` runs the real ``pulsar-check``
command; :func:`pulsar_check_run` calls ``pulsar.client.test.check.run`` in that venv for the
options only its Python interface takes (``default_file_action``, ``jobs_directory``, ...).
"""
import json
import os
import subprocess

from test.support.server import REPO_ROOT

__all__ = ["install_pulsar", "pulsar_check", "pulsar_check_run", "pycurl_installed"]

INSTALL_SCRIPT = os.path.join(REPO_ROOT, "scripts", "services", "install-pulsar.sh")

_RUN_DRIVER = """
import argparse, json, sys
from pulsar.client.test.check import run
run(argparse.Namespace(**json.loads(sys.argv[1])))
"""


def install_pulsar():
    """``(venv, None)``, or ``(None, one-line reason)`` when the venv cannot be built."""
    try:
        result = subprocess.run(["bash", INSTALL_SCRIPT], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "install-pulsar.sh could not run: %s" % exc
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return None, "pulsar-app venv could not be built (install-pulsar.sh: %s)" % last
    return result.stdout.strip().splitlines()[-1], None


def pycurl_installed(venv) -> bool:
    try:
        with open(os.path.join(venv, ".pycurl")) as handle:
            return handle.read().strip() == "yes"
    except OSError:
        return False


def _environment(client_tmp):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULSAR_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    if client_tmp:
        env["TMPDIR"] = str(client_tmp)  # where pulsar-check makes its files
    return env


def pulsar_check(venv, args, client_tmp=None, timeout=240):
    """Run ``pulsar-check ARGS``; returns the CompletedProcess (stdout and stderr as text)."""
    return subprocess.run([os.path.join(venv, "bin", "pulsar-check")] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=_environment(client_tmp), cwd=str(client_tmp or "/"))


def pulsar_check_run(venv, options, client_tmp=None, timeout=240):
    """Call ``pulsar.client.test.check.run(options)`` in the pulsar venv (options: a JSON-able dict)."""
    options = dict({"suppress_output": True}, **options)
    return subprocess.run([os.path.join(venv, "bin", "python"), "-c", _RUN_DRIVER, json.dumps(options)],
                          capture_output=True, text=True, timeout=timeout, env=_environment(client_tmp),
                          cwd=str(client_tmp or "/"))
