"""What the status page shows (``/status``, ``/status.json``, ``lwr-status``), as one dict.

Built from what the server already knows, reading only: the health check's components
(:mod:`lwr.health`: managers, broker, disk), each manager's active jobs and their phase as
written in their job directories, the job history (:mod:`lwr.history`) for recently finished
jobs and transfer rates, and the last warnings and errors (:mod:`lwr.log_ring`).
"""
import json
import os
import time
from typing import Optional

import lwr
from lwr.health import HealthCheck

__all__ = ["build_report", "job_phase", "format_age", "RATE_WINDOWS", "MAX_ACTIVE_SHOWN"]

#: Transfer rates are averaged over the jobs finished in these windows (seconds).
RATE_WINDOWS = (300, 3600)
#: At most this many active jobs are listed per report (the counts are always complete).
MAX_ACTIVE_SHOWN = 200
RECENT_SHOWN = 20
ERRORS_SHOWN = 20

#: Active phases counted as waiting (the queue depth).
WAITING_PHASES = ("accepted", "preprocessing", "queued")


def _fact(path, name):
    try:
        with open(os.path.join(path, name), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _exists(path, name) -> Optional[float]:
    try:
        return os.lstat(os.path.join(path, name)).st_mtime
    except OSError:
        return None


def job_phase(path: str):
    """``(phase, since)`` of the job in ``path``, read from its facts (writes nothing)."""
    final = _fact(path, "final_status")
    if final:
        if final == "complete" and _exists(path, "postprocessed") is None:
            return "postprocessing", _exists(path, "final_status")
        return str(final), _exists(path, "postprocessed") or _exists(path, "final_status")
    for name, phase in (("running", "running"), ("preprocessed", "queued"), ("launch_config", "preprocessing")):
        since = _exists(path, name)
        if since is not None:
            return phase, since
    return "accepted", _exists(path, "tool_id") or _exists(path, ".")


def _active_job_ids(manager):
    active = getattr(manager, "active_jobs", None)
    ids = getattr(active, "active_job_ids", None)
    try:
        return list(ids()) if callable(ids) else []
    except OSError:
        return []


def _manager_jobs(name, manager, now):
    jobs = []
    for job_id in _active_job_ids(manager):
        try:
            path = manager.job_directory(job_id).path
        except Exception:
            continue
        phase, since = job_phase(path)
        tool_id = _fact(path, "tool_id")
        jobs.append({"manager": name, "job_id": job_id, "tool_id": tool_id if isinstance(tool_id, str) else None,
                     "state": phase, "since": since,
                     "age_seconds": round(now - since, 1) if since else None})
    return jobs


def build_report(app, now: Optional[float] = None) -> dict:
    now = now if now is not None else time.time()
    ok, health = HealthCheck.of(app).report()
    components = health.get("components", {})
    managers, active = [], []
    for name, manager in sorted((getattr(app, "managers", None) or {}).items()):
        jobs = _manager_jobs(name, manager, now)
        active += jobs
        entry = dict(components.get("managers", {}).get(name, {}))
        entry.update({"name": name, "jobs_active": len(jobs),
                      "queue_depth": sum(1 for job in jobs if job["state"] in WAITING_PHASES),
                      "running": sum(1 for job in jobs if job["state"] == "running")})
        managers.append(entry)
    active.sort(key=lambda job: job["since"] or 0, reverse=True)
    history = getattr(app, "job_history", None)
    recent = []
    transfers = []
    if history is not None and history.enabled:
        for row in history.recent(RECENT_SHOWN):
            row["age_seconds"] = round(now - row["finished_at"], 1)
            recent.append(row)
        for window in RATE_WINDOWS:
            totals = history.totals_since(now - window)
            totals.update({"window_seconds": window,
                           "bytes_in_per_second": round(totals["bytes_in"] / window, 1),
                           "bytes_out_per_second": round(totals["bytes_out"] / window, 1)})
            transfers.append(totals)
    ring = getattr(app, "log_ring", None)
    started = getattr(app, "started_at", None)
    return {
        "status": health.get("status"),
        "reasons": health.get("reasons", []),
        "version": lwr.__version__,
        "pulsar_version": lwr.PULSAR_VERSION,
        "now": now,
        "started_at": started,
        "uptime_seconds": round(now - started, 1) if started else None,
        "managers": managers,
        "jobs": {"active": active[:MAX_ACTIVE_SHOWN], "active_count": len(active), "recent": recent},
        "disk": components.get("disk"),
        "broker": components.get("broker"),
        "transfers": transfers,
        "history": {"enabled": bool(history is not None and history.enabled),
                    "rows": history.count() if history is not None else 0,
                    "max_days": getattr(history, "max_days", None), "max_rows": getattr(history, "max_rows", None)},
        "errors": ring.records(ERRORS_SHOWN) if ring is not None else [],
    }


def format_age(seconds) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d`` (``-`` for None)."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    if seconds < 172800:
        return "%d h" % (seconds // 3600)
    return "%d d" % (seconds // 86400)
