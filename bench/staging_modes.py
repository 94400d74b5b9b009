"""The client-level modes of ``bench/staging.py``: staging through the LWR client library with
end-to-end verification on and off (``--verify``), and a transfer cut part way and resumed
(``--cut-at``).  Each needs something the client or the test support may not have yet; a mode
whose piece is missing says so instead of printing figures.

* ``--verify`` toggles the transports' ``verify`` option (``get_transport(verify=True|False)``):
  SHA-256 computed while streaming and compared with the server's ``Repr-Digest``.
* ``--cut-at`` puts ``test/support/tcp_proxy.py``'s ``FaultyProxy`` between client and server
  and cuts the connection after that fraction of the file's bytes (``Fault(cut=N)``); its
  ``moved`` counters say how many bytes crossed in all.
"""
import inspect
import os
import time

from lwr.lwr_client.client import JobClient
from lwr.lwr_client.interface import HttpLwrInterface
from lwr.lwr_client.transport import RetryPolicy, UrllibTransport

__all__ = ["verify_available", "cut_available", "run_verify", "run_cut"]

MIB = 2 ** 20


def verify_available() -> bool:
    """Whether this client's transports take a ``verify`` option."""
    return "verify" in inspect.signature(UrllibTransport.__init__).parameters


def _faulty_proxy():
    try:
        from test.support.tcp_proxy import Fault, FaultyProxy
    except ImportError:
        return None
    return Fault, FaultyProxy


def cut_available() -> bool:
    """Whether ``test/support/tcp_proxy.py`` can cut a connection after N bytes."""
    return _faulty_proxy() is not None


def _client(url, token, verify=None):
    """A job client for job ``bench`` whose transport retries quickly (a cut is retried at once)
    and verifies as asked (``None``: the transport's default)."""
    kwds = {"retry": RetryPolicy(initial_backoff=0.05, max_backoff=1.0, budget=300), "timeout": 60}
    if verify is not None:
        kwds["verify"] = verify
    destination = {"url": url, "private_token": token}
    return JobClient(destination, "bench", HttpLwrInterface(destination, UrllibTransport(**kwds)))


def _timed(step):
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _up_and_down(client, source, work, name):
    """Each transfer after a sync, so write-back of earlier runs' files does not slow this one."""
    size = os.path.getsize(source)
    os.sync()
    up = _timed(lambda: client.put_file(source, "output", name=name))
    back = os.path.join(work, name + ".back")
    os.sync()
    down = _timed(lambda: client.fetch_output(back, name=name))
    if os.path.getsize(back) != size:
        raise AssertionError("%s came back with %d bytes, not %d" % (name, os.path.getsize(back), size))
    os.unlink(back)
    return size / up / MIB, size / down / MIB


def run_verify(mode, lwr_url, token, source, work, repeat, reference):
    """Client staging MiB/s with verification ``on``, ``off`` or ``both``; ratios to ``reference``
    (``(raw upload, raw download to disk)`` MiB/s measured in the same run)."""
    if not verify_available():
        print("verify               verification not available (this LWR client's transports have no "
              "verify option)")
        return {"verify": "not available"}
    settings = {"on": [True], "off": [False], "both": [True, False]}[mode]
    results = {}
    for index in range(repeat):
        for verify in settings:
            client = _client(lwr_url, token, verify=verify)
            up, down = _up_and_down(client, source, work, "verify%d_%d.dat" % (int(verify), index))
            best = results.get(verify, (0, 0))
            results[verify] = (max(best[0], up), max(best[1], down))
    ref_up, ref_down = reference
    report = {}
    for verify, (up, down) in results.items():
        label = "on " if verify else "off"
        print("client verify %s    upload %8.1f MiB/s (ratio %.2f)   download %8.1f MiB/s (ratio %.2f)"
              % (label, up, up / ref_up, down, down / ref_down))
        report["verify_%s" % label.strip()] = {"up": up, "down": down, "up_ratio": up / ref_up,
                                              "down_ratio": down / ref_down}
    if True in results and False in results:
        (on_up, on_down), (off_up, off_down) = results[True], results[False]
        cost_up, cost_down = 1 - on_up / off_up, 1 - on_down / off_down
        print("verification cost    upload %5.1f%%   download %5.1f%%" % (100 * cost_up, 100 * cost_down))
        report["verify_cost"] = {"up": cost_up, "down": cost_down}
    return report


def run_cut(fraction, lwr_port, token, source, work, reference):
    """Bytes moved and time for an upload and a download cut at ``fraction`` of the file and
    resumed, against the same transfers uncut (through the same proxy)."""
    if not cut_available():
        print("cut-at               cut mode not available (test/support/tcp_proxy.py has no FaultyProxy "
              "to cut a connection after N bytes)")
        return {"cut": "not available"}
    Fault, FaultyProxy = _faulty_proxy()
    size = os.path.getsize(source)
    cut_bytes = max(1, int(size * fraction))
    report = {}
    for label, fault in (("uncut", None), ("cut", "yes")):
        proxy = FaultyProxy(("127.0.0.1", lwr_port)).start()
        try:
            client = _client("http://127.0.0.1:%d/" % proxy.port, token)
            name = "cut_%s.dat" % label
            if fault:
                proxy.add_fault(Fault("up", cut=cut_bytes))
            up = _timed(lambda: client.put_file(source, "output", name=name))
            sent_up = proxy.moved["up"]
            back = os.path.join(work, name + ".back")
            down_before = proxy.moved["down"]
            if fault:
                proxy.add_fault(Fault("down", cut=cut_bytes))
            down = _timed(lambda: client.fetch_output(back, name=name))
            sent_down = proxy.moved["down"] - down_before
            if os.path.getsize(back) != size:
                raise AssertionError("%s came back with %d bytes, not %d" % (name, os.path.getsize(back), size))
            os.unlink(back)
        finally:
            proxy.stop()
            if hasattr(proxy, "cut"):
                proxy.cut()
        report[label] = {"up_s": up, "down_s": down, "up_bytes": sent_up, "down_bytes": sent_down}
    ref_up, ref_down = reference
    raw_up_s, raw_down_s = size / ref_up / MIB, size / ref_down / MIB
    print("cut at               %.0f%% of %d MiB (%d bytes), through FaultyProxy" % (100 * fraction, size // MIB,
                                                                                    cut_bytes))
    for label in ("uncut", "cut"):
        figures = report[label]
        print("%-5s upload          %6.2f s  %6.3f x raw time   bytes sent %d (%.3f x file)"
              % (label, figures["up_s"], figures["up_s"] / raw_up_s, figures["up_bytes"], figures["up_bytes"] / size))
        print("%-5s download        %6.2f s  %6.3f x raw time   bytes sent %d (%.3f x file)"
              % (label, figures["down_s"], figures["down_s"] / raw_down_s, figures["down_bytes"],
                 figures["down_bytes"] / size))
    cut, uncut = report["cut"], report["uncut"]
    print("resumed vs uncut     upload time %.2f x, bytes %.3f x;  download time %.2f x, bytes %.3f x"
          % (cut["up_s"] / uncut["up_s"], cut["up_bytes"] / uncut["up_bytes"],
             cut["down_s"] / uncut["down_s"], cut["down_bytes"] / uncut["down_bytes"]))
    report["fraction"] = fraction
    return report
