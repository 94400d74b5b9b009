#!/usr/bin/env python
"""Slow and hostile clients against LWR's server runner and, as reference, plain Paste.

Starts ``egg:lwr#server`` and ``egg:Paste#http`` (same application, same machine, one after
the other) and prints for each: ``/healthz`` latency p50/p99/max with no attack, with
10/50/200/1000 idle half-open connections, with slow readers (1 B/s downloads) and slow
senders (1 B/s uploads), the latency 64 keep-alive status pollers see, ``/healthz`` during a
512 MiB request line, and the server's peak RSS under each. A ``/healthz`` that does not
answer within ``--probe-timeout`` counts as that long and as a timeout.

    .venv/bin/python bench/front_door.py [--idle 10,50,200,1000] [--slow 12] [--pollers 64]
        [--line-mib 512] [--also waitress=egg:waitress#main]

``--also LABEL=USE`` adds another ``[server:main] use`` to compare (for example
``egg:waitress#main`` or ``call:module:runner``).
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench import staging  # noqa: E402
from test.support.server import LwrServer  # noqa: E402

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


class PeakRss(staging.PeakRss):
    """Peak RSS of a process from now until :meth:`stop`, which returns it in MiB."""

    def __init__(self, pid):
        super().__init__(pid)
        self.start()

    def stop(self) -> float:
        self.running = False
        self.join()
        return self.peak / 2 ** 20


def probe(port, timeout):
    """Seconds one ``/healthz`` on a new connection took; ``timeout`` when it did not answer."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(max(timeout - (time.perf_counter() - started), 0.01))
            sock.sendall(HEALTHZ)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                return time.perf_counter() - started
    except OSError:
        pass
    return timeout


def probes(port, count, timeout, pause=0.05):
    results = []
    for _ in range(count):
        results.append(probe(port, timeout))
        if len(results) >= 3 and all(value >= timeout for value in results[-3:]):
            results += [timeout] * (count - len(results))  # unanswered: stop waiting
            break
        time.sleep(pause)
    return results


def summary(values, timeout=None):
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    result = {"p50": pick(0.5), "p99": pick(0.99), "max": ordered[-1], "n": len(values)}
    if timeout is not None:
        result["timeouts"] = sum(1 for value in values if value >= timeout)
    return result


def idle_connections(port, count):
    opened = []
    for index in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n")  # half a head, never finished
            opened.append(sock)
        except OSError:
            break
    return opened


class SlowClient(threading.Thread):
    """Downloads a large file reading 1 byte/s, or uploads one sending 1 byte/s."""

    def __init__(self, port, mode, stop):
        super().__init__(daemon=True)
        self.port, self.mode, self.stop_event = port, mode, stop
        self.local_port = None
        self.start()

    def run(self):
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(60)
            sock.connect(("127.0.0.1", self.port))
            self.local_port = sock.getsockname()[1]
            if self.mode == "read":
                sock.sendall(b"GET /jobs/bench/files?name=big.dat HTTP/1.1\r\nHost: bench\r\n\r\n")
            else:
                sock.sendall(b"POST /jobs/bench/files?name=up%d.dat&type=input HTTP/1.1\r\nHost: bench\r\n"
                             b"Content-Length: 1000000\r\n\r\n" % id(self))
            while not self.stop_event.wait(1.0):
                if self.mode == "read":
                    if not sock.recv(1):
                        break
                else:
                    sock.sendall(b"x")
                    try:
                        sock.settimeout(0.001)
                        if sock.recv(1) == b"":
                            break
                    except (socket.timeout, BlockingIOError):
                        pass
                    finally:
                        sock.settimeout(60)
        except OSError:  # reset by the server (a timeout of ours would be 60 s)
            pass
        sock.close()


def still_connected(pid, ports):
    """Which of the client ``ports`` the server process still holds a connection from."""
    held = set()
    try:
        for connection in psutil.Process(pid).net_connections(kind="tcp"):
            if connection.raddr and connection.raddr.port in ports and connection.status == "ESTABLISHED":
                held.add(connection.raddr.port)
    except psutil.Error:
        pass
    return held


def pollers(port, count, seconds, interval):
    latencies, lock, stop = [], threading.Lock(), threading.Event()

    def poll():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while not stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/jobs/bench/status")
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
            stop.wait(interval)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    return latencies


def long_line(port, mib, done):
    """Send ``mib`` MiB of request line with no newline, as fast as the server takes it."""
    sent = 0
    block = b"GET /" + b"a" * (1 << 20)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            while sent < mib << 20:
                sock.sendall(block if not sent else block[5:])
                sent += 1 << 20
    except OSError:
        pass
    done.append(sent >> 20)


def measure(label, server_use, work, args):
    directory = os.path.join(work, label)
    options = {"socket_timeout": str(args.socket_timeout)} if server_use == "egg:lwr#server" else {}
    server = LwrServer(directory, server_use=server_use, log_level="WARNING", server_options=options,
                       app_factory="lwr.web.wsgi:app_factory").start()
    results = {}
    try:
        server.json("POST", "jobs", {"job_id": "bench"})
        with open(os.path.join(server.staging_directory, "bench", "outputs", "big.dat"), "wb") as handle:
            handle.truncate(256 << 20)
        timeout = args.probe_timeout

        def attack(name, setup, teardown, samples=args.samples):
            rss = PeakRss(server.pid)
            attack.started = time.monotonic()
            state = setup()
            time.sleep(0.5)
            values = probes(server.port, samples, timeout)
            extra = teardown(state) or {}
            results[name] = dict(summary(values, timeout), rss_mib=rss.stop(), **extra)
            time.sleep(0.5)

        if args.samples:
            attack("no attack", lambda: None, lambda state: None)
        for count in args.idle:
            def close_all(socks):
                opened = len(socks)
                for sock in socks:
                    sock.close()
                return {"opened": opened}
            attack("%d idle half-open" % count, lambda: idle_connections(server.port, count), close_all)
        for mode, name in (("read", "slow readers"), ("send", "slow senders")) if args.slow else ():
            def start_slow(mode=mode):
                stop = threading.Event()
                return stop, [SlowClient(server.port, mode, stop) for _ in range(args.slow)]

            def stop_slow(state):
                # Dropped = the server no longer holds the connection (a slow reader itself
                # would only notice after reading what its socket buffer still holds).
                stop, clients = state
                ports = {c.local_port for c in clients if c.local_port}
                deadline = time.monotonic() + args.drop_wait
                while time.monotonic() < deadline and still_connected(server.pid, ports):
                    time.sleep(0.2)
                held = still_connected(server.pid, ports)
                stop.set()
                return {"dropped": len(ports - held), "of": len(ports),
                        "within_s": round(time.monotonic() - attack.started, 1) if not held else None}
            attack("%d %s (1 B/s)" % (args.slow, name), start_slow, stop_slow)
        if args.pollers:
            rss = PeakRss(server.pid)
            values = pollers(server.port, args.pollers, args.poll_seconds, args.poll_interval)
            results["%d keep-alive pollers" % args.pollers] = dict(summary(values), rss_mib=rss.stop())

        def start_line():
            done = []
            thread = threading.Thread(target=long_line, args=(server.port, args.line_mib, done), daemon=True)
            thread.start()
            return thread, done

        def stop_line(state):
            thread, done = state
            thread.join(120)
            return {"mib_sent": done[0] if done else None}
        if args.line_mib:
            attack("%d MiB request line" % args.line_mib, start_line, stop_line)
        results["after all"] = {"rss_mib": psutil.Process(server.pid).memory_info().rss / 2 ** 20}
    finally:
        server.stop()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", default="10,50,200,1000", help="idle connection counts (comma-separated)")
    parser.add_argument("--slow", type=int, default=12, help="slow readers, then slow senders (default 12)")
    parser.add_argument("--pollers", type=int, default=64)
    parser.add_argument("--poll-seconds", type=float, default=8.0)
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--line-mib", type=int, default=512)
    parser.add_argument("--samples", type=int, default=20, help="/healthz probes per attack")
    parser.add_argument("--probe-timeout", type=float, default=2.0)
    parser.add_argument("--socket-timeout", type=float, default=5.0,
                        help="LWR's socket_timeout for the run (default 5, so slow clients drop quickly)")
    parser.add_argument("--drop-wait", type=float, default=15.0,
                        help="seconds to wait for the server to drop slow clients")
    parser.add_argument("--also", action="append", default=[], metavar="LABEL=USE")
    args = parser.parse_args(argv)
    args.idle = [int(value) for value in args.idle.split(",") if value]
    servers = [("lwr", "egg:lwr#server"), ("paste", "egg:Paste#http")]
    servers += [tuple(item.split("=", 1)) for item in args.also]
    work = tempfile.mkdtemp(prefix="lwr-front-door-")
    try:
        results = {label: measure(label, use, work, args) for label, use in servers}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("socket_timeout %gs (lwr), /healthz probe timeout %gs, %d probes per attack"
          % (args.socket_timeout, args.probe_timeout, args.samples))
    for name in results["lwr"]:
        print("\n%s" % name)
        for label, _use in servers:
            row = results[label].get(name, {})
            cells = ["%-8s" % label]
            if "p50" in row:
                cells.append("p50 %7.3fs p99 %7.3fs max %7.3fs" % (row["p50"], row["p99"], row["max"]))
                if "timeouts" in row:
                    cells.append("timeouts %2d/%d" % (row["timeouts"], row["n"]))
                if label != "lwr" and results["lwr"][name].get("max"):
                    cells.append("max ratio %s/lwr %.1f" % (label, row["max"] / results["lwr"][name]["max"]))
            cells.append("RSS %6.1f MiB" % row.get("rss_mib", 0))
            for key in ("opened", "dropped", "of", "within_s", "mib_sent"):
                if key in row:
                    cells.append("%s %s" % (key, "%.1f" % row[key] if isinstance(row[key], float) else row[key]))
            print("  " + "  ".join(cells))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
