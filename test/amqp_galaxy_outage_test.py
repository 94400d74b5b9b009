"""Galaxy's job files API stopped (connection refused) in message-queue mode: ``remote_transfer``
jobs ride the outage out within the server's retry budget and their outputs arrive byte-exact.

* 90 s at staging in, with the server's default budget (what a restart of Galaxy takes);
* 30 s at staging out, with a budget set in ``server.ini`` (``retry_budget``,
  ``retry_max_backoff``), which also shows that the options reach ``remote_transfer``.
"""
import time

import pytest

from test.amqp_faults_test import _phase
from test.amqp_harness_test import CopyJob, assert_exactly_one_complete, mq_env, wait_for
from test.support.files_server import FilesServer

pytestmark = [pytest.mark.amqp, pytest.mark.slow]

assert mq_env  # the fixture, imported for use here


def _retry_lines(daemon, method):
    return [line for line in daemon.log().splitlines() if "failed (attempt" in line and " %s http" % method in line]


def _restart_galaxy(files, root):
    """Galaxy back on the port it had: what a restarted Galaxy looks like to the LWR."""
    return FilesServer(root, port=files.port).start()


def _check_retries_logged(daemon, method):
    lines = _retry_lines(daemon, method)
    assert lines, "no retry logged for %s:\n%s" % (method, daemon.log()[-4000:])
    assert all("job_key=***" in line and "job_key=testkey" not in line for line in lines)
    assert "Connection refused" in lines[0] and "retry budget left" in lines[0] and "retrying in" in lines[0]
    return lines


def _ride_out(daemon, client_manager, files, tmp_path, job, method, stopped, outage, phase):
    """Galaxy's files API has been down since ``stopped``: the server retries its ``method``
    requests, the job waits in ``phase`` until ``outage`` seconds have passed, and completes
    once Galaxy is back. The retry lines logged."""
    wait_for(lambda: _retry_lines(daemon, method), 30, message="the server to retry its %s requests" % method)
    time.sleep(max(0.0, outage - (time.monotonic() - stopped)))
    assert _phase(daemon.staging_directory, job.job_id) == phase
    assert not client_manager.terminal(job.job_id), "the job ended during the outage"
    galaxy = _restart_galaxy(files, tmp_path)
    try:
        assert_exactly_one_complete(client_manager, [job], timeout=60)
    finally:
        galaxy.stop()
    return _check_retries_logged(daemon, method)


def test_galaxy_down_90_s_while_staging_in(mq_env, tmp_path):
    daemon, client_manager, files = mq_env()
    files.stop()  # Galaxy restarting: nothing listens on its port
    job = CopyJob(tmp_path, 4101, size=3 * 1024 * 1024 + 7, sleep=0.2)
    stopped = time.monotonic()
    job.submit(client_manager, daemon.staging_directory, files.url)
    lines = _ride_out(daemon, client_manager, files, tmp_path, job, "GET", stopped, 90, "staging in")
    assert "of the 180 s retry budget left" in lines[0]  # the default budget
    print("staging in: %d retries logged over the 90 s outage" % len(lines))


def test_galaxy_down_while_staging_out_with_a_budget_from_server_ini(mq_env, tmp_path):
    daemon, client_manager, files = mq_env(daemon_kwargs={"extra_conf": {
        "retry_budget": "75", "retry_max_backoff": "4", "retry_initial_backoff": "0.2"}})
    job = CopyJob(tmp_path, 4102, size=3 * 1024 * 1024 + 7, sleep=2)
    job.submit(client_manager, daemon.staging_directory, files.url)
    wait_for(lambda: _phase(daemon.staging_directory, job.job_id) == "running", 30, message="the job to run")
    files.stop()
    stopped = time.monotonic()
    lines = _ride_out(daemon, client_manager, files, tmp_path, job, "POST", stopped, 30, "staging out")
    assert "of the 75 s retry budget left" in lines[0]
    assert all(float(line.split("retrying in ")[1].split(" s")[0]) <= 4 for line in lines)
