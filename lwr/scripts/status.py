"""``lwr-status URL``: what the status page shows (docs/status_page.rst), in the terminal.

Fetches ``URL/status.json`` with the token (``--private_token``, or the ``LWR_PRIVATE_TOKEN``
environment variable, which keeps it out of the process list) and prints the server's
version, uptime, managers, active and recently finished jobs, disk, transfers, broker and
last errors; ``--json`` prints the JSON as received.  Exit status 0 when the server reports
itself ok, 2 when it reports a problem, 1 when it cannot be asked.
"""
import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from lwr.lwr_client.progress import format_bytes
from lwr.status_report import format_age

__all__ = ["main", "build_parser", "fetch", "render_text"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwr-status", description="Print an LWR server's status (its /status.json) in the terminal.")
    parser.add_argument("url", help="the server's base URL, e.g. https://lwr.example.org:8913/")
    parser.add_argument("--private_token", default=os.environ.get("LWR_PRIVATE_TOKEN"),
                        help="the server's private_key (default: $LWR_PRIVATE_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of text")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the server's TLS certificate (self-signed test servers)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)")
    return parser


def fetch(url: str, token=None, insecure=False, timeout=30.0) -> dict:
    """The server's status report; OSError/ValueError with a one-line reason otherwise."""
    base = url if "://" in url else "http://" + url
    target = base.rstrip("/") + "/status.json"
    if token:
        target += "?" + urllib.parse.urlencode({"private_key": token})
    context = ssl._create_unverified_context() if insecure else None
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except (ValueError, AttributeError):
            pass
        raise OSError("%s answered %d: %s" % (base, error.code, detail)) from None


def _table(headers, rows) -> list:
    rows = [["-" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return lines


def render_text(report: dict) -> str:
    lines = ["LWR %s  status: %s  up %s" % (report.get("version"), report.get("status"),
                                          format_age(report.get("uptime_seconds")))]
    lines += ["  ! %s" % reason for reason in report.get("reasons", [])]
    lines += ["", "Managers"] + _table(["NAME", "TYPE", "HEALTH", "QUEUED", "RUNNING"], [
        [m.get("name"), m.get("type"), m.get("status"), m.get("queue_depth"), m.get("running")]
        for m in report.get("managers", [])])
    jobs = report.get("jobs", {})
    lines += ["", "Active jobs (%d)" % jobs.get("active_count", 0)] + _table(
        ["JOB", "MANAGER", "TOOL", "STATE", "AGE"],
        [[j["job_id"], j["manager"], j.get("tool_id"), j["state"], format_age(j.get("age_seconds"))]
         for j in jobs.get("active", [])])
    lines += ["", "Recently finished"] + _table(
        ["JOB", "MANAGER", "TOOL", "STATE", "AGO", "EXIT", "FAILURE REASON"],
        [[j["job_id"], j["manager"], j.get("tool_id"), j["state"], format_age(j.get("age_seconds")),
          j.get("exit_code"), (j.get("failure_reason") or "")[:200]] for j in jobs.get("recent", [])])
    disk = report.get("disk") or {}
    if "free_bytes" in disk:
        lines += ["", "Staging disk: %s, %s free (minimum %s)" % (disk.get("status"), format_bytes(disk["free_bytes"]),
                                                                 format_bytes(disk["min_free_bytes"]))]
    elif disk:
        lines += ["", "Staging disk: %s %s" % (disk.get("status"), "; ".join(disk.get("problems", [])))]
    for window in report.get("transfers", []):
        lines.append("Transfers, last %s: in %s/s, out %s/s (%d jobs, %d failed)" % (
            format_age(window["window_seconds"]), format_bytes(int(window["bytes_in_per_second"])),
            format_bytes(int(window["bytes_out_per_second"])), window["jobs"], window["failed"]))
    broker = report.get("broker")
    if broker:
        lines.append("Broker: %s, %s to %s, %d statuses waiting" % (
            broker.get("status"), {True: "connected", False: "not connected"}.get(broker.get("connected"), "unknown"),
            broker.get("url"), broker.get("unpublished_statuses", 0)))
    errors = report.get("errors", [])
    lines += ["", "Last warnings and errors" + ("" if errors else ": none")]
    lines += ["  %s %-8s %s: %s" % (time.strftime("%H:%M:%S", time.localtime(e["time"])), e["level"], e["logger"],
                                    e["message"].splitlines()[0] if e["message"] else "") for e in errors]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = fetch(args.url, args.private_token, args.insecure, args.timeout)
    except (OSError, ValueError) as exc:
        print("lwr-status: %s" % exc, file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else render_text(report))
    return 0 if report.get("status") == "ok" else 2


if __name__ == "__main__":
    sys.exit(main())
