#!/usr/bin/env python
"""Upload and download a large file through LWR and through a raw loopback reference server.

Prints MiB/s each way for both, the ratio LWR/reference, and LWR's peak RSS.
Both servers run in their own processes and write to / read from the same disk.

    .venv/bin/python bench/staging.py [--size-mib 1024] [--repeat 2] [--dir /tmp]
    .venv/bin/python bench/staging.py --verify both         # client staging, SHA-256 verified vs not
    .venv/bin/python bench/staging.py --cut-at 0.5          # a transfer cut at 50% and resumed vs uncut

The two modes stage through the LWR client library (bench/staging_modes.py) and print their
figures with ratios to the raw loopback reference measured in the same run; a mode whose
client or test-support piece is missing prints "... not available" instead of figures.
"""
import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench.staging_modes import run_cut, run_verify  # noqa: E402
from test.support.server import LwrServer, free_port  # noqa: E402

CHUNK = 1024 * 1024

REFERENCE_SERVER = r'''
import http.server, os, shutil, sys
ROOT = sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        remaining = int(self.headers["Content-Length"])
        with open(os.path.join(ROOT, self.path.strip("/")), "wb") as out:
            while remaining:
                data = self.rfile.read(min(1 << 20, remaining))
                out.write(data)
                remaining -= len(data)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"OK")
    def do_GET(self):
        path = os.path.join(ROOT, self.path.strip("/"))
        self.send_response(200); self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        with open(path, "rb") as source:
            shutil.copyfileobj(source, self.wfile, 1 << 20)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


class PeakRss(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)


def upload(port, path, source):
    size = os.path.getsize(source)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300, blocksize=CHUNK)
    started = time.perf_counter()
    with open(source, "rb") as body:
        connection.request("POST", path, body=body, headers={"Content-Length": str(size)})
        response = connection.getresponse()
        response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, response.status
    connection.close()
    return size / elapsed / 2 ** 20


def download(port, path, expected_size, into=None):
    """MiB/s of a plain GET, the body kept in memory or, with ``into``, written to that file (what
    a staging client does; the reference for the client modes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    received = 0
    buffer = bytearray(4 * CHUNK)
    view = memoryview(buffer)
    out = open(into, "wb") if into else None
    while True:
        count = response.readinto(view)
        if not count:
            break
        if out is not None:
            out.write(view[:count])
        received += count
    if out is not None:
        out.close()
    elapsed = time.perf_counter() - started
    if into:
        os.unlink(into)
    assert response.status == 200 and received == expected_size, (response.status, received)
    connection.close()
    return received / elapsed / 2 ** 20


def make_source(directory, size_mib):
    path = os.path.join(directory, "source.dat")
    block = os.urandom(CHUNK)
    with open(path, "wb") as handle:
        for index in range(size_mib):
            handle.write(hashlib.sha256(b"%d" % index).digest() + block[32:])
    return path


def _fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1, e.g. 0.5")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is kept")
    parser.add_argument("--dir", default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--use-sendfile", action="store_true",
                        help="serve LWR's downloads with sendfile (server option use_sendfile = true)")
    parser.add_argument("--verify", choices=("on", "off", "both"), default=None,
                        help="also stage the file through the LWR client with end-to-end SHA-256 verification "
                             "on, off, or both (then the cost of verifying is printed)")
    parser.add_argument("--cut-at", type=_fraction, default=None, metavar="FRACTION",
                        help="also upload and download the file through the client with the connection cut "
                             "after FRACTION of it (e.g. 0.5), resumed, against the same transfers uncut: "
                             "bytes sent and time")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="lwr-bench-", dir=args.dir)
    try:
        source = make_source(work, args.size_mib)
        size = os.path.getsize(source)
        ref_dir = os.path.join(work, "reference")
        os.mkdir(ref_dir)
        ref_port = free_port()
        reference_process = subprocess.Popen([sys.executable, "-c", REFERENCE_SERVER, str(ref_port), ref_dir])
        lwr = LwrServer(os.path.join(work, "lwr"), log_level="WARNING",
                        server_options={"use_sendfile": "true" if args.use_sendfile else "false"}).start()
        time.sleep(0.5)
        try:
            lwr.json("POST", "jobs", {"job_id": "bench"})
            rss = PeakRss(lwr.pid)
            rss.start()
            lwr_outputs = os.path.join(lwr.staging_directory, "bench", "outputs")
            targets = {
                "reference": (ref_port, "/upload%d", "/upload0", ref_dir),
                "lwr": (lwr.port, "/jobs/bench/files?name=big%d.dat&type=output",
                        "/jobs/bench/files?name=big0.dat", lwr_outputs),
            }
            ups = {label: [] for label in targets}
            downs = {label: [] for label in targets}
            # Interleaved, each after a sync, so page-cache write-back hits both sides alike; every
            # upload writes a new file, as staging into a new job directory does.
            for index in range(args.repeat):
                for label, (port, up_path, _down, _dir) in targets.items():
                    os.sync()
                    ups[label].append(upload(port, up_path % index, source))
            for _ in range(args.repeat):
                for label, (port, _up, down_path, _dir) in targets.items():
                    downs[label].append(download(port, down_path, size))
            results = {label: (max(ups[label]), max(downs[label])) for label in targets}
            rss.running = False
            rss.join()
            report = _print_results(args, results, rss.peak)
            reference = results["reference"]
            if args.verify or args.cut_at:
                # The client modes write what they download to disk: so does their reference.
                to_disk = []
                for index in range(args.repeat):
                    os.sync()
                    to_disk.append(download(ref_port, "/upload0", size, into=os.path.join(work, "ref.back")))
                reference = (reference[0], max(to_disk))
                print("reference download to disk %8.1f MiB/s (the client modes' download reference)" % reference[1])
                report["ref_down_to_disk"] = reference[1]
            if args.verify:
                report.update(run_verify(args.verify, lwr.url, lwr.private_key, source, work, args.repeat,
                                         reference))
            if args.cut_at:
                report["cut_at"] = run_cut(args.cut_at, lwr.port, lwr.private_key, source, work, reference)
            print(json.dumps(report))
        finally:
            lwr.stop()
            reference_process.terminate()
            reference_process.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _print_results(args, results, peak_rss):
    (ref_up, ref_down), (lwr_up, lwr_down) = results["reference"], results["lwr"]
    print("file size            %d MiB (best of %d), LWR downloads via %s"
          % (args.size_mib, args.repeat, "sendfile" if args.use_sendfile else "1 MiB buffer"))
    print("reference upload     %8.1f MiB/s" % ref_up)
    print("reference download   %8.1f MiB/s" % ref_down)
    print("lwr upload           %8.1f MiB/s   ratio %.2f" % (lwr_up, lwr_up / ref_up))
    print("lwr download         %8.1f MiB/s   ratio %.2f" % (lwr_down, lwr_down / ref_down))
    print("lwr peak RSS         %8.1f MiB" % (peak_rss / 2 ** 20))
    return {"ref_up": ref_up, "ref_down": ref_down, "lwr_up": lwr_up, "lwr_down": lwr_down,
            "up_ratio": lwr_up / ref_up, "down_ratio": lwr_down / ref_down, "lwr_peak_rss_mib": peak_rss / 2 ** 20}


if __name__ == "__main__":
    main()
