"""The Slurm + Galaxy example of docs/job_managers.rst: its job_managers.ini, unchanged, runs
the client check job through each of its Slurm queues on the real single-node Slurm, the way
Galaxy's destinations of its job_conf.yml reach them (/managers/NAME)."""
import configparser
import os
import subprocess
import sys

import pytest
import yaml

from test.support.schedulers import slurm_available
from test.support.server import REPO_ROOT, LwrServer
from test.support.services import require

EXAMPLES = os.path.join(REPO_ROOT, "docs", "examples")
TOKEN = "slurm-example-T0ken-31d0"


def _example(name):
    with open(os.path.join(EXAMPLES, name)) as handle:
        return handle.read()


def test_galaxy_destinations_name_the_managers_of_the_example():
    parser = configparser.ConfigParser()
    parser.read_string(_example("slurm-job_managers.ini"))
    managers = {section.split(":", 1)[1] for section in parser.sections()}
    job_conf = yaml.safe_load(_example("slurm-job_conf.yml"))
    runners = job_conf["runners"]
    environments = job_conf["execution"]["environments"]
    remote = {name: env for name, env in environments.items()
              if runners[env["runner"]]["load"] == "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner"}
    assert remote and {env["manager"] for env in remote.values()} <= managers
    assert {tool["environment"] for tool in job_conf["tools"]} <= set(environments)


@pytest.mark.slurm
@pytest.mark.server
@pytest.mark.slow
def test_each_slurm_queue_of_the_example_runs_the_check_job(tmp_path):
    require(slurm_available(), "Slurm is not running (scripts/services/start-slurm.sh)")
    server = LwrServer(tmp_path, app_conf={"private_key": TOKEN},
                       job_managers_ini=_example("slurm-job_managers.ini")).start()
    try:
        for manager in ("slurm_small", "slurm_big"):
            url = "%smanagers/%s/" % (server.url, manager)
            check = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "run_client_tests.py"), "--url", url,
                                    "--private_token", TOKEN], capture_output=True, text=True, timeout=300)
            assert check.returncode == 0 and "All checks passed" in check.stdout, \
                manager + ": " + check.stdout[-3000:] + check.stderr[-3000:] + server.log()[-3000:]
        log = server.log()
    finally:
        server.stop()
    assert "sbatch" in log or "slurm" in log.lower(), log[-3000:]
