"""The client package as Galaxy vendors it: its doctests, its public names, no server imports."""
import doctest
import importlib
import subprocess
import sys

import pytest

from test.support.server import REPO_ROOT

DOCTEST_MODULES = [
    "lwr.lwr_client.action_mapper",
    "lwr.lwr_client.destination",
    "lwr.lwr_client.job_directory",
    "lwr.lwr_client.staging.up",
    "lwr.lwr_client.transport",
    "lwr.lwr_client.transport.base",
    "lwr.lwr_client.util",
]

PUBLIC_NAMES = ["build_client_manager", "ClientManager", "ObjectStoreClientManager", "url_to_destination_params",
                "submit_job", "finish_job", "ClientJobDescription", "ClientOutputs", "LwrOutputs",
                "OutputNotFoundException", "PathMapper", "JobClient", "InputCachingJobClient",
                "LocalSetupHandler", "RemoteSetupHandler"]


@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
def test_doctests(module_name):
    module = importlib.import_module(module_name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0
    assert failures == 0


def test_public_names():
    import lwr.lwr_client as client
    for name in PUBLIC_NAMES:
        assert hasattr(client, name), name


def test_client_imports_no_server_module():
    code = ("import sys, lwr.lwr_client, lwr.lwr_client.test.check;"
            "print(sorted(m for m in sys.modules if m.startswith('lwr') and not m.startswith('lwr.lwr_client')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['lwr']"
