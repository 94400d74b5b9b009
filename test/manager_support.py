"""Helpers for the cluster-manager tests: drive a real LWR server over HTTP and watch a job."""
import json
import os
import subprocess

import psutil

from test.support.server import LwrServer
from test.support.wait import eventually, wait_for_value

__all__ = ["start", "restart", "submit", "status", "wait_for", "lifecycle", "cancel", "process_gone",
           "job_file", "PRIVATE_KEY", "TERMINAL", "OUTPUT_AND_EXIT_3"]

PRIVATE_KEY = "cluster-secret"
TERMINAL = ("complete", "failed", "cancelled", "lost")
#: The job every lifecycle test runs: an output file, a visible running phase, exit code 3.
OUTPUT_AND_EXIT_3 = "echo hello from $(id -un) > ../outputs/out.txt; echo to-stdout; sleep 3; exit 3"


def start(directory, job_managers_ini, app_conf=None) -> LwrServer:
    conf = {"private_key": PRIVATE_KEY}
    conf.update(app_conf or {})
    return LwrServer(directory, app_conf=conf, job_managers_ini=job_managers_ini).start()


def restart(server: LwrServer) -> LwrServer:
    """SIGKILL the server and start a new one on the same directory and port."""
    server.kill()
    return LwrServer(server.directory, app_conf=server.app_conf, port=server.port).start()


def _path(manager, rest):
    return rest if manager in (None, "_default_") else "managers/%s/%s" % (manager, rest)


def submit(server, job_id, command, params=None, manager=None):
    server.json("POST", _path(manager, "jobs"), {"job_id": job_id})
    query = {"command_line": command, "params": json.dumps(params or {})}
    code, body = server.request("POST", _path(manager, "jobs/%s/submit" % job_id), query)
    assert (code, body) == (200, b"OK"), body


def status(server, job_id, manager=None):
    return server.json("GET", _path(manager, "jobs/%s/status" % job_id))


def wait_for(server, job_id, wanted, timeout=60, manager=None, seen=None):
    """Poll until the status is in ``wanted``; ``seen`` collects the distinct statuses on the way."""
    def read():
        current = status(server, job_id, manager)
        if seen is not None and (not seen or seen[-1] != current["status"]):
            seen.append(current["status"])
        return current
    return wait_for_value(read, lambda current: current["status"] in wanted, timeout,
                          lambda: "job %s to reach %s\n%s" % (job_id, wanted, server.log()[-4000:]), interval=0.1)


def cancel(server, job_id, manager=None):
    code, body = server.request("PUT", _path(manager, "jobs/%s/cancel" % job_id))
    assert (code, body) == (200, b"OK"), body


def job_file(server, job_id, name):
    return os.path.join(server.staging_directory, job_id, name)


def external_id(server, job_id):
    with open(job_file(server, job_id, "external_id")) as handle:
        return str(json.load(handle))


def process_gone(server, job_id, timeout=15) -> bool:
    """No process is running the job's command.sh any more."""
    script = job_file(server, job_id, "command.sh")

    def gone():
        return not any(script in (proc.info.get("cmdline") or []) for proc in psutil.process_iter(["cmdline"]))
    return eventually(gone, timeout, interval=0.2)


def lifecycle(server, job_id, release=None, params=None, manager=None, user=None):
    """Submit OUTPUT_AND_EXIT_3 and follow it: queued -> running -> complete, code 3, output.

    ``release(external_id)``: the job is submitted held (by the manager's options) so its
    queued phase is certain; the test releases it once LWR has reported ``queued``.
    """
    submit(server, job_id, OUTPUT_AND_EXIT_3, params, manager)
    seen = []
    wait_for(server, job_id, ["queued", "running"] + list(TERMINAL), manager=manager, seen=seen)
    if release is not None:
        assert seen[-1] == "queued", seen
        release(external_id(server, job_id))
    final = wait_for(server, job_id, TERMINAL, timeout=90, manager=manager, seen=seen)
    assert final["status"] == "complete", final
    assert [s for s in seen if s != "preprocessing"] == ["queued", "running", "complete"], seen
    assert final["returncode"] == 3
    assert final["stdout"] == "to-stdout\n"
    expected = "hello from %s\n" % (user or "root")
    code, body = server.request("GET", _path(manager, "jobs/%s/files" % job_id), {"name": "out.txt"})
    assert (code, body.decode()) == (200, expected)
    return final


def run(argv, env=None, timeout=30):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=timeout)
