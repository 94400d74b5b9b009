"""The Galaxy runner's Galaxy-free parts: plugin parameter specs, destination parsing, status mapping."""
import doctest

import pytest

import lwr.galaxy
from lwr.galaxy import params, status


def test_galaxy_package_imports_no_galaxy():
    import sys

    assert lwr.galaxy.__doc__
    assert not any(name == "galaxy" or name.startswith("galaxy.") for name in sys.modules)


def test_doctests_of_params_and_status_pass():
    for module in (params, status):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module


def test_every_documented_plugin_parameter_has_a_spec():
    for name in ("transport", "cache", "transfer_threads", "url", "galaxy_url", "manager",
                 "amqp_consumer_timeout", "amqp_publish_retry", "amqp_publish_retry_max_retries",
                 "amqp_connect_ssl_ca_certs", "amqp_connect_ssl_cert_reqs"):
        assert "map" in params.RUNNER_PARAM_SPECS[name], name


@pytest.mark.parametrize("runner_params, expected", [
    ({"transport": None, "cache": None, "transfer_threads": None, "url": None}, {}),
    ({"transport": "curl", "cache": True, "transfer_threads": 4, "url": None},
     {"transport": "curl", "cache": True, "transfer_threads": 4}),
    ({"url": "amqp://guest:guest@localhost:5672//", "manager": "big", "amqp_consumer_timeout": 0.5,
      "amqp_publish_retry": None},
     {"url": "amqp://guest:guest@localhost:5672//", "manager": "big", "amqp_consumer_timeout": 0.5}),
])
def test_client_manager_kwargs_pass_only_set_parameters(runner_params, expected):
    assert params.client_manager_kwargs(runner_params) == expected


@pytest.mark.parametrize("destination, url, token", [
    ({"url": "http://lwr:8913/", "private_token": "t"}, "http://lwr:8913/", "t"),
    ({"url": "http://lwr:8913"}, "http://lwr:8913/", None),
    ({"url": "lwr://http://lwr:8913/"}, "http://lwr:8913/", None),
    ({"url": "lwr://https://s3cret@lwr:8913/managers/big/"}, "https://lwr:8913/managers/big/", "s3cret"),
    ({"url": "http://inurl@lwr:8913/", "private_token": "explicit"}, "http://lwr:8913/", "explicit"),
])
def test_destination_url_forms(destination, url, token):
    parsed = params.destination_client_params(destination)
    assert parsed["url"] == url
    assert parsed.get("private_token") == token


@pytest.mark.parametrize("value, expected", [(None, "local"), ("remote", "remote"), ("None", "none"),
                                             ("LOCAL", "local")])
def test_dependency_resolution_values(value, expected):
    assert params.dependency_resolution({"dependency_resolution": value}) == expected


def test_unknown_dependency_resolution_is_refused_by_name():
    with pytest.raises(ValueError, match="dependency_resolution 'conda'"):
        params.dependency_resolution({"dependency_resolution": "conda"})


@pytest.mark.parametrize("value, expected", [(None, False), ("True", True), ("false", False), (True, True)])
def test_rewrite_parameters_flag(value, expected):
    assert params.rewrite_parameters({"rewrite_parameters": value}) is expected


@pytest.mark.parametrize("response, running, action, runner_state", [
    ({"status": "preprocessing"}, False, status.WAIT, None),
    ({"status": "queued"}, False, status.WAIT, None),
    ({"status": "running"}, False, status.RUNNING, None),
    ({"status": "running"}, True, status.WAIT, None),
    ({"status": "postprocessing"}, True, status.WAIT, None),
    ({"status": "complete", "complete": "true", "returncode": 0}, True, status.FINISH, None),
    ({"status": "complete", "complete": "true", "returncode": 3}, True, status.FINISH, None),
    ({"status": "cancelled", "complete": "true"}, True, status.FINISH, None),
    ({"status": "failed", "failure_reason": "walltime limit exceeded"}, True, status.FAIL, "WALLTIME_REACHED"),
    ({"status": "failed", "failure_reason": "memory limit exceeded"}, True, status.FAIL, "MEMORY_LIMIT_REACHED"),
    ({"status": "failed", "stderr": "x\nslurm: TIMEOUT\n"}, True, status.FAIL, "WALLTIME_REACHED"),
    ({"status": "lost"}, True, status.FAIL, None),
    ({"status": "bogus"}, True, status.FAIL, None),
])
def test_status_mapping(response, running, action, runner_state):
    decision = status.decide(response, "http://lwr:8913/", running)
    assert decision.action == action
    assert decision.runner_state == runner_state
    if action == status.FAIL:
        assert "http://lwr:8913/" in decision.message


def test_failure_reason_is_in_the_message():
    decision = status.decide({"status": "failed", "failure_reason": "could not start the job: no such file"},
                             "http://lwr:8913/")
    assert decision.message == "LWR job failed on http://lwr:8913/: could not start the job: no such file"
