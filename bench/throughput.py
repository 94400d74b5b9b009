#!/usr/bin/env python
"""Job throughput: many small jobs through LWR with the real client, a few in flight at once.

Each job stages 3 inputs of 1 MiB, runs ``cat`` on them into one output, is polled every
0.1 s, has its output downloaded and is cleaned.  The same request sequence without job
execution is timed against a raw loopback HTTP reference server in the same run.

    .venv/bin/python bench/throughput.py [--jobs 50] [--in-flight 4] [--poll 0.1]
"""
import argparse
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lwr.lwr_client import (  # noqa: E402
    ClientJobDescription, ClientOutputs, LwrOutputs, build_client_manager, finish_job, submit_job)
from test.support.server import LwrServer  # noqa: E402

MANAGERS = "[manager:_default_]\ntype = queued_python\nnum_concurrent_jobs = *\n"


class _Tool:
    id = "cat3"
    version = "1.0"

    def __init__(self, tool_dir):
        self.tool_dir = tool_dir


def run_job(client_manager, url, work, inputs, index, poll):
    started = time.perf_counter()
    job_dir = os.path.join(work, "job%d" % index)
    working = os.path.join(job_dir, "working")
    os.makedirs(working)
    output = os.path.join(job_dir, "dataset_out.dat")
    client = client_manager.get_client({"url": url}, "bench%d" % index)
    outputs = ClientOutputs(working_directory=working, output_files=[output])
    description = ClientJobDescription(
        tool=_Tool(os.path.join(work, "tool")), command_line="cat %s > %s" % (" ".join(inputs), output),
        config_files=[], input_files=list(inputs), client_outputs=outputs, working_directory=working)
    submit_job(client, description)
    while True:
        status = client.full_status()
        if status.get("complete") == "true":
            break
        time.sleep(poll)
    assert status["status"] == "complete", status
    failures = finish_job(client, "always", True, outputs, LwrOutputs.from_status_response(status))
    assert not failures, failures
    assert os.path.getsize(output) == 3 * 1024 * 1024, output
    return time.perf_counter() - started


class _RawHandler(http.server.BaseHTTPRequestHandler):
    """Reference: same request count and bytes, files written/read on the same disk, no jobs."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    root = None

    def _reply(self, body=b"{}"):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        with open(os.path.join(self.root, "f%d" % threading.get_ident()), "wb") as out:
            remaining = length
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                out.write(data)
                remaining -= len(data)
        self._reply()

    def do_GET(self):
        if "download" in self.path:
            path = os.path.join(self.root, "out.dat")
            self.send_response(200)
            self.send_header("Content-Length", str(os.path.getsize(path)))
            self.end_headers()
            with open(path, "rb") as source:
                shutil.copyfileobj(source, self.wfile, 1 << 20)
        else:
            self._reply()

    def do_DELETE(self):
        self._reply()

    def log_message(self, *args):
        pass


def raw_reference(work, inputs, jobs, in_flight, poll):
    """Setup, 3 uploads, submit, 1 poll + a sleep of one poll interval, download, clean."""
    import http.client

    root = os.path.join(work, "raw")
    os.makedirs(root)
    _RawHandler.root = root
    with open(os.path.join(root, "out.dat"), "wb") as out:
        for path in inputs:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, out)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RawHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def one(_):
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, blocksize=1 << 20)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.request("POST", "/jobs", body=b"")
        connection.getresponse().read()
        for path in inputs:
            with open(path, "rb") as body:
                connection.request("POST", "/files", body=body,
                                   headers={"Content-Length": str(os.path.getsize(path))})
                connection.getresponse().read()
        connection.request("POST", "/submit", body=b"")
        connection.getresponse().read()
        time.sleep(poll)
        connection.request("GET", "/status")
        connection.getresponse().read()
        connection.request("GET", "/download")
        connection.getresponse().read()
        connection.request("DELETE", "/jobs")
        connection.getresponse().read()
        connection.close()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        latencies = list(pool.map(one, range(jobs)))
    elapsed = time.perf_counter() - started
    server.shutdown()
    return jobs / elapsed, latencies


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def write_inputs(work):
    """The workload's three 1 MiB random inputs (and its empty tool directory) under ``work``."""
    inputs = []
    for name in ("a", "b", "c"):
        path = os.path.join(work, "input_%s.dat" % name)
        with open(path, "wb") as handle:
            handle.write(os.urandom(1024 * 1024))
        inputs.append(path)
    os.makedirs(os.path.join(work, "tool"))
    return inputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between status polls")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="lwr-throughput-")
    try:
        inputs = write_inputs(work)
        ref_rate, ref_latencies = raw_reference(work, inputs, args.jobs, args.in_flight, args.poll)
        server = LwrServer(os.path.join(work, "server"), job_managers_ini=MANAGERS, log_level="WARNING").start()
        try:
            client_manager = build_client_manager()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.in_flight) as pool:
                latencies = list(pool.map(lambda i: run_job(client_manager, server.url, work, inputs, i,
                                                            args.poll), range(args.jobs)))
            elapsed = time.perf_counter() - started
            client_manager.shutdown()
        finally:
            server.stop()
        rate = args.jobs / elapsed
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
        print("jobs %d, in flight %d, poll %.2fs, queued_python num_concurrent_jobs=*"
              % (args.jobs, args.in_flight, args.poll))
        print("raw reference       %6.1f jobs/s   p50 %.3fs  p95 %.3fs"
              % (ref_rate, percentile(ref_latencies, 0.5), percentile(ref_latencies, 0.95)))
        print("lwr                 %6.1f jobs/s   p50 %.3fs  p95 %.3fs   ratio %.2f"
              % (rate, p50, p95, rate / ref_rate))
        print(json.dumps({"jobs_per_s": rate, "p50_s": p50, "p95_s": p95, "reference_jobs_per_s": ref_rate,
                          "ratio": rate / ref_rate}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
