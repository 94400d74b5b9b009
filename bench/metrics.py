#!/usr/bin/env python
"""What metrics cost: scrape time with many jobs on disk, and job throughput with metrics on vs off.

1. A server (metrics on) gets ``--setup-jobs`` jobs set up through its API (``POST /jobs``,
   each a job directory on disk); ``/metrics`` is scraped ``--scrapes`` times before and
   after, and the times printed.
2. the metrics middleware's cost per request, in process; then ``--polls`` status requests
   on one connection, metrics on vs off (the per-request cost through a real server);
3. The ``bench/throughput.py`` workload (3 inputs of 1 MiB uploaded, ``cat``, polled,
   output downloaded, cleaned) runs against a server with ``metrics = true`` and one with
   ``metrics = false``, alternately for ``--rounds`` rounds; the median jobs/s of each and
   their ratio are printed.

    .venv/bin/python bench/metrics.py [--setup-jobs 10000] [--scrapes 20] [--jobs 60] [--rounds 5] [--polls 3000]
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from lwr.lwr_client import build_client_manager  # noqa: E402
from test.support.server import LwrServer  # noqa: E402
from throughput import MANAGERS, run_job, write_inputs  # noqa: E402


def setup_jobs(server, count, threads=4):
    """``count`` jobs set up through ``POST /jobs``, on ``threads`` kept-alive connections."""
    next_index = iter(range(count))
    lock = threading.Lock()

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            connection.request("POST", "/jobs?job_id=many%06d" % index, body=b"")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError("setup %d: %s %r" % (index, response.status, body[:200]))
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return time.perf_counter() - started


def time_scrapes(server, count):
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        assert response.status == 200, body[:200]
        size = len(body)
    connection.close()
    return times, size, body.decode("utf-8")


def throughput(work, inputs, metrics, jobs, in_flight, poll, label, first_index):
    conf = {"metrics": "true" if metrics else "false"}
    server = LwrServer(os.path.join(work, "server-%s" % label), app_conf=conf, job_managers_ini=MANAGERS,
                       log_level="WARNING").start()
    try:
        client_manager = build_client_manager()
        started = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(lambda i: run_job(client_manager, server.url, work, inputs, i, poll),
                          range(first_index, first_index + jobs)))
        elapsed = time.perf_counter() - started
        client_manager.shutdown()
    finally:
        server.stop()
    return jobs / elapsed


def status_polls(work, metrics, polls, label):
    """Status requests per second on one kept-alive connection: the per-request cost of metrics,
    without job execution to hide it."""
    server = LwrServer(os.path.join(work, "polls-%s" % label), app_conf={"metrics": "true" if metrics else "false"},
                       log_level="WARNING").start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("POST", "/jobs?job_id=polled", body=b"")
        connection.getresponse().read()
        started = time.perf_counter()
        for _ in range(polls):
            connection.request("GET", "/jobs/polled/status")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        elapsed = time.perf_counter() - started
        connection.close()
    finally:
        server.stop()
    return polls / elapsed


def middleware_cost(rounds=5, calls=50000):
    """Microseconds the metrics middleware adds to one request, in process (no sockets, no
    server: the steady figure the noisy end-to-end rates cannot give)."""
    from lwr.metrics import AppMetrics
    from lwr.metrics.http import MetricsMiddleware

    def bare(environ, start_response):
        environ["lwr.route"] = "status"
        start_response("200 OK", [("Content-Length", "2")])
        return [b"{}"]

    wrapped = MetricsMiddleware(bare, AppMetrics())
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/jobs/j/status", "CONTENT_LENGTH": "0", "wsgi.input": None}

    def per_call(app):
        started = time.perf_counter()
        for _ in range(calls):
            body = app(dict(environ), lambda status, headers, exc_info=None: None)
            for _chunk in body:
                pass
            getattr(body, "close", lambda: None)()
        return (time.perf_counter() - started) / calls * 1e6

    costs = [per_call(wrapped) - per_call(bare) for _ in range(rounds)]
    return statistics.median(costs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup-jobs", type=int, default=10000, help="jobs on disk while scraping")
    parser.add_argument("--scrapes", type=int, default=20, help="scrapes timed before and after")
    parser.add_argument("--jobs", type=int, default=60, help="jobs per throughput round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds with metrics on and off each")
    parser.add_argument("--polls", type=int, default=3000, help="status requests per round")
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between status polls")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="lwr-bench-metrics-")
    result = {}
    try:
        server = LwrServer(os.path.join(work, "many"), log_level="INFO").start()
        try:
            empty, _size, _text = time_scrapes(server, args.scrapes)
            setup_seconds = setup_jobs(server, args.setup_jobs)
            full, size, text = time_scrapes(server, args.scrapes)
            on_disk = len([name for name in os.listdir(server.staging_directory) if name.startswith("many")])
            server.stop()
            server.start()  # the job counts are read from disk once, at start
            counted = [line for line in server.log().splitlines() if "jobs on disk counted" in line]
            restarted, _size, restarted_text = time_scrapes(server, args.scrapes)
            assert restarted_text.count('state="accepted"} %d.0' % on_disk) == 1, "counts differ after a restart"
        finally:
            server.stop()
        accepted = [line for line in text.splitlines() if line.startswith("lwr_jobs{")]
        print("set up %d jobs through POST /jobs in %.1fs (%d job directories on disk)"
              % (args.setup_jobs, setup_seconds, on_disk))
        for line in accepted:
            print("  " + line)
        print("scrape, no jobs:      median %.2f ms  max %.2f ms" % (1000 * statistics.median(empty), 1000 * max(empty)))
        print("scrape, %5d jobs:    median %.2f ms  max %.2f ms  (%d bytes)"
              % (on_disk, 1000 * statistics.median(full), 1000 * max(full), size))
        print("after a restart:      %s; scrape median %.2f ms"
              % (counted[-1].split("metrics: ", 1)[-1] if counted else "?", 1000 * statistics.median(restarted)))
        result.update(jobs_on_disk=on_disk, scrape_empty_median_ms=1000 * statistics.median(empty),
                      scrape_median_ms=1000 * statistics.median(full), scrape_max_ms=1000 * max(full))

        inputs = write_inputs(work)
        rates = {True: [], False: []}
        for round_number in range(args.rounds):
            for metrics in ((True, False) if round_number % 2 == 0 else (False, True)):
                label = "%s%d" % ("on" if metrics else "off", round_number)
                first_index = len(rates[True]) + len(rates[False])
                rate = throughput(work, inputs, metrics, args.jobs, args.in_flight, args.poll, label,
                                  first_index * args.jobs)
                rates[metrics].append(rate)
                print("round %d, metrics %-3s  %6.2f jobs/s" % (round_number, "on" if metrics else "off", rate))
        cost_us = middleware_cost()
        print("metrics middleware, in process: %.1f us per request" % cost_us)
        result.update(middleware_us_per_request=cost_us)
        polls = {True: [], False: []}
        for round_number in range(args.rounds):
            for metrics in ((True, False) if round_number % 2 == 0 else (False, True)):
                rate = status_polls(work, metrics, args.polls, "%s%d" % ("on" if metrics else "off", round_number))
                polls[metrics].append(rate)
                print("round %d, metrics %-3s  %7.1f status requests/s" % (round_number, "on" if metrics else "off",
                                                                          rate))
        poll_on, poll_off = statistics.median(polls[True]), statistics.median(polls[False])
        print("status requests, metrics on   median %7.1f /s" % poll_on)
        print("status requests, metrics off  median %7.1f /s" % poll_off)
        print("status requests ratio on/off %.3f  (cost %.1f%%)" % (poll_on / poll_off, 100 * (1 - poll_on / poll_off)))
        result.update(status_on_per_s=poll_on, status_off_per_s=poll_off, status_ratio=poll_on / poll_off)
        on, off = statistics.median(rates[True]), statistics.median(rates[False])
        print("jobs %d x %d rounds, in flight %d, poll %.2fs" % (args.jobs, args.rounds, args.in_flight, args.poll))
        print("metrics on   median %6.2f jobs/s" % on)
        print("metrics off  median %6.2f jobs/s" % off)
        print("ratio on/off %.3f  (cost %.1f%%)" % (on / off, 100 * (1 - on / off)))
        result.update(on_jobs_per_s=on, off_jobs_per_s=off, ratio=on / off)
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
