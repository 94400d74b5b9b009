#!/usr/bin/env python
"""Memory and disk with many finished jobs kept, and how long retention takes to reap them.

Runs N small jobs (one 4 KiB input and a config uploaded, ``cat`` into an output) through a
real server over HTTP, polls each to completion, downloads its output and never cleans it,
as a client that forgets to clean would.  Prints the server's RSS right after
start (the reference, same run), with N/2 and with N jobs kept (memory that grows with the
jobs kept shows as growth over the second half), the bytes and marker files left,
then restarts the server with ``cleanup_after`` set and times how long the reaper takes to
remove every job (and the server's RSS after that).

    .venv/bin/python bench/many_jobs.py [--jobs 10000] [--clients 4]
"""
import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from test.support.server import LwrServer  # noqa: E402

MANAGERS = "[manager:_default_]\ntype = queued_python\nnum_concurrent_jobs = *\n"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def settled_rss(pid, seconds=2.0):
    """RSS once the server has been idle a moment (the lowest of a few samples)."""
    samples = []
    for _ in range(5):
        time.sleep(seconds / 5)
        samples.append(rss_kib(pid))
    return min(samples)


class Client:
    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, params=None, body=None):
        url = "/" + path + ("?" + urllib.parse.urlencode(params) if params else "")
        if body is None and method in ("POST", "PUT"):
            body = b""
        self.connection.request(method, url, body=body)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError("%s %s -> %s %r" % (method, path, response.status, body[:300]))
        return body


INPUT = b"x" * 4096


def run_jobs(port, ids, poll):
    """What Galaxy's client does per job, minus the clean: setup, one input and one config
    uploaded, submit, polls until complete, the output downloaded."""
    client = Client(port)
    for job_id in ids:
        config = json.loads(client.call("POST", "jobs", {"job_id": job_id}))
        data = json.loads(client.call("POST", "jobs/%s/files" % job_id, {"name": "input.dat", "type": "input"},
                                      body=INPUT))["path"]
        client.call("POST", "jobs/%s/files" % job_id, {"name": "tool_config", "type": "config"}, body=b"--x=1\n")
        output = os.path.join(config["outputs_directory"], "output.dat")
        client.call("POST", "jobs/%s/submit" % job_id, {"command_line": "cat %s > %s" % (data, output)})
    pending = list(ids)
    while pending:
        still = []
        for job_id in pending:
            status = json.loads(client.call("GET", "jobs/%s/status" % job_id))
            if status["complete"] != "true":
                still.append(job_id)
            elif status["status"] != "complete":
                raise RuntimeError("job %s: %r" % (job_id, status))
            elif client.call("GET", "jobs/%s/files" % job_id, {"name": "output.dat"}) != INPUT:
                raise RuntimeError("job %s: wrong output" % job_id)
        pending = still
        if pending:
            time.sleep(poll)


def run_phase(port, ids, clients, poll):
    threads = [threading.Thread(target=run_jobs, args=(port, ids[i::clients], poll)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def disk_usage(path):
    total, files = 0, 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
            files += 1
    return total, files


def count_files(path):
    return sum(len(names) for _root, _dirs, names in os.walk(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000, help="finished jobs to keep (default 10000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between status rounds (default 0.2)")
    parser.add_argument("--reap-timeout", type=float, default=600, help="seconds to wait for reaping")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="lwr-bench-many-")
    server = LwrServer(os.path.join(work, "srv"), job_managers_ini=MANAGERS, log_level="WARNING").start()
    try:
        base = settled_rss(server.pid)
        started = time.perf_counter()
        ids = ["b%d" % index for index in range(args.jobs)]
        half = args.jobs // 2
        run_phase(server.port, ids[:half], args.clients, args.poll)
        at_half = settled_rss(server.pid)
        run_phase(server.port, ids[half:], args.clients, args.poll)
        elapsed = time.perf_counter() - started
        kept = settled_rss(server.pid)
        staged, staged_files = disk_usage(server.staging_directory)
        markers = count_files(server.persistence_directory)
        print("jobs run and kept:             %d in %.1f s (%.0f jobs/s)" % (args.jobs, elapsed, args.jobs / elapsed))
        print("server RSS at start (ref):     %.1f MiB" % (base / 1024))
        print("server RSS with %5d kept:     %.1f MiB  (ratio to start %.2f)" % (half, at_half / 1024, at_half / base))
        print("server RSS with %5d kept:     %.1f MiB  (ratio to start %.2f, %+.2f KiB per job over the 2nd half)"
              % (args.jobs, kept / 1024, kept / base, (kept - at_half) / max(args.jobs - half, 1)))
        print("staging directory:             %.1f MiB in %d files" % (staged / 2 ** 20, staged_files))
        print("persistence marker files:      %d" % markers)
        server.stop()

        with open(server.ini_path) as handle:
            ini = handle.read()
        with open(server.ini_path, "w") as handle:
            handle.write(ini.replace("[app:main]\n", "[app:main]\ncleanup_after = 1s\ncleanup_interval = 1s\n", 1))
        restarted = time.perf_counter()
        server.start()
        start_rss = rss_kib(server.pid)
        deadline = time.monotonic() + args.reap_timeout
        while time.monotonic() < deadline:
            left = [n for n in os.listdir(server.staging_directory) if not n.startswith(".")]
            if not left:
                break
            time.sleep(0.2)
        reaped_in = time.perf_counter() - restarted
        if left:
            print("reaping:                       %d of %d jobs still there after %.0f s (no retention?)"
                  % (len(left), args.jobs, reaped_in))
        else:
            after = settled_rss(server.pid)
            print("reaped every job in:           %.1f s from restart (%.0f jobs/s)" % (reaped_in, args.jobs / reaped_in))
            print("server RSS after restart:      %.1f MiB, after reaping %.1f MiB" % (start_rss / 1024, after / 1024))
            print("persistence marker files:      %d after reaping" % count_files(server.persistence_directory))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
