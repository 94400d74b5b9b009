"""SIGKILL the real server in each phase of a job's life, start it again, check each job's fate."""
import http.server
import json
import os
import random
import signal
import threading
import time

import pytest

from test.support import wait
from test.support.server import LwrServer

pytestmark = [pytest.mark.server, pytest.mark.slow]

MANAGERS = "[manager:_default_]\ntype = queued_python\nnum_concurrent_jobs = %d\nmin_polling_interval = 0.1\n"


def submit(server, job_id, command, **params):
    server.json("POST", "jobs", {"job_id": job_id})
    params["command_line"] = command
    assert server.request("POST", "jobs/%s/submit" % job_id, params) == (200, b"OK")


def status(server, job_id):
    return server.json("GET", "jobs/%s/status" % job_id)


def restart(server):
    server.kill()
    return LwrServer(server.directory, app_conf=server.app_conf, port=server.port).start()


def job_pid(server, job_id):
    value = json.load(open(os.path.join(server.staging_directory, job_id, "pid")))
    return value["pid"] if isinstance(value, dict) else int(value)


def test_sigkill_with_jobs_done_running_queued_and_dead(tmp_path):
    counters = tmp_path / "counters"
    counters.mkdir()
    server = LwrServer(tmp_path / "srv", job_managers_ini=MANAGERS % 2).start()
    try:
        submit(server, "done", "echo finished > ../outputs/result.txt; exit 4")
        server.wait_for_status("done", ["complete"])
        submit(server, "survivor", "sleep 2; echo survived; exit 5")
        submit(server, "dies", "sleep 60")
        server.wait_for_status("survivor", ["running"])
        server.wait_for_status("dies", ["running"])
        for name in ("q1", "q2", "q3"):
            submit(server, name, "echo ran >> %s/%s" % (counters, name))
        assert status(server, "q3")["status"] in ("queued", "preprocessing")
        dies_pid = job_pid(server, "dies")
        server = restart_after(server, lambda: os.killpg(dies_pid, signal.SIGKILL))

        finished = status(server, "done")
        assert (finished["status"], finished["returncode"]) == ("complete", 4)
        assert server.request("GET", "jobs/done/files", {"name": "result.txt"}) == (200, b"finished\n")

        survivor = server.wait_for_status("survivor", ["complete", "failed", "cancelled"])
        assert (survivor["status"], survivor["returncode"], survivor["stdout"]) == ("complete", 5, "survived\n")

        dead = server.wait_for_status("dies", ["complete", "failed", "lost", "cancelled"])
        assert dead["status"] in ("failed", "lost")
        assert "ended without recording an exit code" in dead["stderr"]

        for name in ("q1", "q2", "q3"):
            assert server.wait_for_status(name, ["complete", "failed"])["status"] == "complete"
            assert (counters / name).read_text() == "ran\n", name
    finally:
        server.stop()


def restart_after(server, action):
    server.kill()
    action()
    return LwrServer(server.directory, app_conf=server.app_conf, port=server.port).start()


def test_sigkill_at_random_moments_runs_every_job_exactly_once(tmp_path):
    counters = tmp_path / "counters"
    counters.mkdir()
    server = LwrServer(tmp_path / "srv", job_managers_ini=MANAGERS % 2).start()
    jobs = ["r%02d" % i for i in range(24)]
    rng = random.Random(1234)
    try:
        for index, job_id in enumerate(jobs):
            submit(server, job_id, "sleep 0.%d; echo once >> %s/%s" % (rng.randint(0, 3), counters, job_id))
            if index % 6 == 5:
                time.sleep(rng.uniform(0, 0.3))
                server = restart(server)
        for _ in range(3):
            time.sleep(rng.uniform(0.1, 0.5))
            server = restart(server)
        for job_id in jobs:
            final = server.wait_for_status(job_id, ["complete", "failed", "lost", "cancelled"], timeout=60)
            assert final["status"] == "complete", final
            assert (counters / job_id).read_text() == "once\n", job_id
    finally:
        server.stop()


class _GateHandler(http.server.BaseHTTPRequestHandler):
    """Serves an input only once the test opens the gate (keeps a job in preprocessing)."""

    gate = threading.Event()
    requests = []

    def do_GET(self):
        self.requests.append(self.path)
        if not self.gate.wait(20):
            self.send_error(503)
            return
        body = b"staged input\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_sigkill_during_preprocessing_restages_and_runs_once(tmp_path):
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GateHandler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/input?path=x" % files.server_address[1]
    server = LwrServer(tmp_path / "srv", job_managers_ini=MANAGERS % 1).start()
    try:
        staging = {"setup": [{"name": "in.txt", "type": "input",
                              "action": {"action_type": "remote_transfer", "path": "/galaxy/in.txt", "url": url}}]}
        submit(server, "pre", "cat ../inputs/in.txt; echo ran >> %s/pre.count" % tmp_path,
               remote_staging=json.dumps(staging))
        wait.wait_for(lambda: _GateHandler.requests, 10, "the input to be requested")
        assert status(server, "pre")["status"] == "preprocessing"
        server = restart(server)
        _GateHandler.gate.set()
        final = server.wait_for_status("pre", ["complete", "failed"])
        assert (final["status"], final["stdout"]) == ("complete", "staged input\n"), final
        assert (tmp_path / "pre.count").read_text() == "ran\n"
    finally:
        server.stop()
        files.shutdown()


def test_no_orphan_job_processes_after_clean(tmp_path):
    server = LwrServer(tmp_path / "srv").start()
    try:
        submit(server, "orphan", "sleep 60")
        server.wait_for_status("orphan", ["running"])
        pid = job_pid(server, "orphan")
        assert server.request("DELETE", "jobs/orphan") == (200, b"OK")
        wait.wait_for(lambda: wait.process_ended(pid), 5, "job process %d to end after clean" % pid)
    finally:
        server.stop()
