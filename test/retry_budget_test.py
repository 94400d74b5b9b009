"""Retry budgets: attempts, backoff, jitter and the total time budget (fake clock and sleep), the
configuration that sets them, and real sockets refusing connections for a while."""
import logging
import random
import threading
import time

import pytest

from lwr.core import LwrApp
from lwr.lwr_client.exceptions import ServerUnavailable, TransportError
from lwr.lwr_client.manager import build_client_manager
from lwr.lwr_client.transport import RetryPolicy, get_transport, pycurl_available
from lwr.lwr_client.transport.retry import DEFAULT_BUDGET, default_retry, parse_params, set_default_retry
from lwr.manager_factory import ConfigurationError
from test.support.files_server import FilesServer
from test.support.server import free_port
from test.support.services import require

URL = "http://galaxy:8080/api/jobs/1/files?job_key=s3cret&path=/in.dat"


class FakeClock:
    """Time that moves only when the policy sleeps (or a test says an attempt took a while)."""

    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.pauses.append(seconds)
        self.now += seconds


def _policy(clock, **kwargs):
    return RetryPolicy(sleep=clock.sleep, clock=clock, rng=random.Random(7), **kwargs)


def _down_until(clock, up_at, calls=None):
    def func():
        if calls is not None:
            calls.append(clock.now)
        if clock.now < up_at:
            error = TransportError("GET %s failed: connection refused" % URL, url=URL, transient=True)
            error.reason = "[Errno 111] Connection refused"
            raise error
        return b"ok"
    return func


def test_budget_stops_retrying_and_the_last_pause_is_cut_to_what_is_left():
    clock = FakeClock()
    policy = _policy(clock, attempts=50, initial_backoff=1, max_backoff=4, budget=10, jitter="none")
    calls = []
    with pytest.raises(ServerUnavailable) as info:
        policy.call(_down_until(clock, float("inf"), calls), "GET", URL)
    assert clock.pauses == [1, 2, 4, 3]
    assert calls == [0, 1, 3, 7, 10]
    message = str(info.value)
    assert "after 5 attempts in 10.0 s" in message and "the 10 s retry budget (retry_budget) is spent" in message
    assert "Connection refused" in message and "s3cret" not in message


def test_attempts_limit_reached_before_the_budget_is_named():
    clock = FakeClock()
    with pytest.raises(ServerUnavailable, match=r"after 3 attempts .*retry_max_attempts is 3"):
        _policy(clock, attempts=3, initial_backoff=1, budget=100, jitter="none").call(
            _down_until(clock, float("inf")), "GET", URL)
    assert clock.pauses == [1, 2]


@pytest.mark.parametrize("outage", [30, 90, 150])
def test_defaults_ride_out_a_restart_of_a_few_minutes(outage):
    clock = FakeClock()
    policy = _policy(clock)
    assert policy.budget == DEFAULT_BUDGET >= 120
    assert policy.call(_down_until(clock, outage), "GET", URL) == b"ok"
    assert outage <= clock.now <= outage + policy.max_backoff


def test_an_http_error_that_stays_transient_names_status_and_budget():
    clock = FakeClock()

    def busy():
        clock.now += 2  # the server takes two seconds to say it is unavailable
        raise TransportError("GET x failed: HTTP 503 Service Unavailable", status=503, transient=True)

    with pytest.raises(TransportError) as info:
        _policy(clock, budget=5, initial_backoff=1, jitter="none").call(busy, "GET", URL)
    assert not isinstance(info.value, ServerUnavailable) and info.value.status == 503
    assert "HTTP 503" in str(info.value) and "5 s retry budget" in str(info.value)


def test_permanent_errors_are_not_retried():
    clock = FakeClock()
    calls = []

    def refused():
        calls.append(1)
        raise TransportError("HTTP 403", status=403, transient=False)

    with pytest.raises(TransportError, match="HTTP 403"):
        _policy(clock).call(refused, "POST", URL)
    assert calls == [1] and clock.pauses == []


def test_full_jitter_stays_under_the_exponential_ceiling():
    clock = FakeClock()
    policy = _policy(clock, attempts=12, initial_backoff=0.5, max_backoff=8, budget=0, jitter="full")
    with pytest.raises(ServerUnavailable):
        policy.call(_down_until(clock, float("inf")), "GET", URL)
    ceilings = [min(8, 0.5 * 2 ** n) for n in range(11)]
    assert len(clock.pauses) == 11
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(clock.pauses, ceilings))
    assert len(set(clock.pauses)) == 11  # jittered, not a fixed schedule


def test_decorrelated_jitter_grows_from_the_previous_pause_and_is_capped():
    clock = FakeClock()
    policy = _policy(clock, attempts=15, initial_backoff=0.5, max_backoff=6, budget=0, jitter="decorrelated")
    with pytest.raises(ServerUnavailable):
        policy.call(_down_until(clock, float("inf")), "GET", URL)
    previous = 0.5
    for pause in clock.pauses:
        assert 0.5 <= pause <= min(6, previous * 3)
        previous = pause


def test_each_retry_is_logged_with_reason_attempt_wait_and_budget(caplog):
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="lwr.lwr_client.transport.retry")
    policy = _policy(clock, attempts=3, initial_backoff=1, budget=60, jitter="none")
    assert policy.call(_down_until(clock, 2.5), "GET", URL) == b"ok"
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2 and all(record.levelno == logging.WARNING for record in caplog.records)
    assert "attempt 1/3" in lines[0] and "retrying in 1.0 s" in lines[0]
    assert "60.0 s of the 60 s retry budget left" in lines[0]
    assert "attempt 2/3" in lines[1] and "59.0 s of the 60 s" in lines[1]
    assert all("Connection refused" in line and "job_key=s3cret" not in line for line in lines)


@pytest.mark.parametrize("params, changes", [
    ({}, {}),
    ({"url": "http://x/", "retry_budget": ""}, {}),
    ({"retry_max_attempts": "7"}, {"attempts": 7}),
    ({"retry_initial_backoff": "0.25", "retry_max_backoff": "30"}, {"initial_backoff": 0.25, "max_backoff": 30.0}),
    ({"retry_budget": "600"}, {"budget": 600.0}),
    ({"retry_budget": "0"}, {"budget": 0.0}),
    ({"retry_jitter": "Decorrelated"}, {"jitter": "decorrelated"}),
])
def test_retry_parameters_are_read(params, changes):
    assert parse_params(params) == changes


@pytest.mark.parametrize("params, named", [
    ({"retry_max_attempts": "0"}, "retry_max_attempts"),
    ({"retry_max_attempts": "2.5"}, "retry_max_attempts"),
    ({"retry_budget": "ten minutes"}, "retry_budget"),
    ({"retry_initial_backoff": "-1"}, "retry_initial_backoff"),
    ({"retry_jitter": "some"}, "retry_jitter"),
    ({"retry_initial_backoff": "5", "retry_max_backoff": "1"}, "retry_max_backoff"),
])
def test_bad_retry_parameters_name_the_parameter(params, named):
    with pytest.raises(ValueError, match=named):
        parse_params(params)


def test_destination_parameters_set_the_budget_of_that_destination_only():
    manager = build_client_manager(transport="urllib")
    plain = manager.get_client({"url": "http://lwr:8913/"}, "1")
    tuned = manager.get_client({"url": "http://lwr:8913/", "retry_budget": "600", "retry_max_attempts": "9",
                                "retry_jitter": "none"}, "2")
    assert tuned.job_manager_interface.transport.retry.budget == 600
    assert tuned.job_manager_interface.transport.retry.attempts == 9
    assert plain.job_manager_interface.transport.retry.budget == DEFAULT_BUDGET
    with pytest.raises(ValueError, match="retry_budget"):
        manager.get_client({"url": "http://lwr:8913/", "retry_budget": "soon"}, "3")


def test_server_options_set_the_process_default_for_remote_transfer():
    try:
        policy = LwrApp._build_retry_policy({"retry_budget": "300", "retry_max_backoff": "20"})
        assert default_retry() is policy and policy.budget == 300 and policy.max_backoff == 20
        assert get_transport("urllib").retry is policy  # what remote_transfer actions build
        with pytest.raises(ConfigurationError, match="retry_jitter"):
            LwrApp._build_retry_policy({"retry_jitter": "lots"})
    finally:
        set_default_retry(None)


# -- real sockets: nothing listens at first, then a files server comes up on that port --------------
@pytest.fixture(params=["urllib", "curl"])
def transport_name(request):
    if request.param == "curl":
        require(pycurl_available(), "pycurl is not installed")
    return request.param


def test_a_transfer_rides_out_refused_connections_within_its_budget(tmp_path, transport_name):
    port = free_port()
    (tmp_path / "in.dat").write_bytes(b"x" * 300000)
    servers = []

    def come_up():
        time.sleep(1.5)
        servers.append(FilesServer(tmp_path, port=port).start())

    riser = threading.Thread(target=come_up, daemon=True)
    url = "http://127.0.0.1:%d/api/jobs/1/files?job_key=testkey&path=%s&file_type=input" % (port, tmp_path / "in.dat")
    transport = get_transport(transport_name, retry=RetryPolicy(initial_backoff=0.05, max_backoff=0.3, budget=10),
                              timeout=5)
    started = time.monotonic()
    riser.start()
    try:
        transport.get_file(url, str(tmp_path / "copy.dat"))
    finally:
        riser.join()
        for server in servers:
            server.stop()
    assert 1.5 <= time.monotonic() - started < 10
    assert (tmp_path / "copy.dat").read_bytes() == b"x" * 300000


def test_a_transfer_past_its_budget_fails_naming_the_budget(tmp_path, transport_name):
    url = "http://127.0.0.1:%d/api/jobs/1/files?job_key=s3cret&path=/in.dat" % free_port()
    transport = get_transport(transport_name, retry=RetryPolicy(initial_backoff=0.05, max_backoff=0.2, budget=1.5),
                              timeout=5)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as info:
        transport.get_file(url, str(tmp_path / "copy.dat"))
    assert 1.5 <= time.monotonic() - started < 4
    message = str(info.value)
    assert "the 1.5 s retry budget (retry_budget) is spent" in message
    assert "not reachable" in message and "s3cret" not in message
    assert not (tmp_path / "copy.dat").exists()


# -- the command-line form: run_client_tests.py and lwr-submit ----------------------------------------
def test_run_client_tests_takes_a_retry_budget_for_its_requests():
    from lwr.lwr_client.test import check
    options = check.build_parser().parse_args(["--url", "http://127.0.0.1:%d/" % free_port(), "--retry_budget", "1",
                                               "--retry_initial_backoff", "0.05", "--suppress_output"])
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match=r"the 1 s retry budget \(retry_budget\) is spent"):
        check.run(options)
    assert time.monotonic() - started < 4


def test_lwr_submit_refuses_a_bad_retry_option_in_one_line(capsys, tmp_path, monkeypatch):
    import base64

    from lwr.scripts import submit
    monkeypatch.chdir(tmp_path)
    description = base64.b64encode(b'{"job_id": "1"}').decode("ascii")
    assert submit.main(["--base64", description, "--retry_max_attempts", "many"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == "lwr-submit: error: retry_max_attempts = 'many': expected a whole number"


@pytest.mark.parametrize("option, value", [("retry_budget", "soon"), ("retry_max_attempts", "0"),
                                           ("retry_jitter", "lots"), ("retry_max_backof", "5")])
def test_a_bad_retry_option_in_server_ini_is_refused_naming_it(option, value):
    from lwr.app_options import validate_app_conf
    with pytest.raises(ConfigurationError) as info:
        validate_app_conf({option: value}, "server.ini")
    assert str(info.value).startswith("server.ini: [app:main]") and option in str(info.value)
    assert "\n" not in str(info.value)
