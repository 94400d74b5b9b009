"""What the status page shows (``/status``, ``/status.json``, ``lwr-status``), as one dict.

Built from what the server already knows, reading only: the health check's components
(:mod:`lwr.health`: managers, broker, disk), each manager's active jobs and their phase as
written in their job directories, the job history (:mod:`lwr.history`) for recently finished
jobs and transfer rates, and the last warnings and errors (:mod:`lwr.log_ring`).
"""
import os
import time
from typing import Optional

import lwr
from lwr import log_ring
from lwr.health import HealthCheck
from lwr.managers.job_state import READER, TERMINAL_PHASES, JobState, Phase
from lwr.managers.job_state import facts as F

__all__ = ["build_report", "job_phase", "format_age", "RATE_WINDOWS", "MAX_ACTIVE_SHOWN"]

#: Transfer rates are averaged over the jobs finished in these windows (seconds).
RATE_WINDOWS = (300, 3600)
#: At most this many active jobs are listed per report (the counts are always complete).
MAX_ACTIVE_SHOWN = 200
RECENT_SHOWN = 20
ERRORS_SHOWN = 20

#: Active phases counted as waiting (the queue depth).
WAITING_PHASES = ("accepted", "preprocessing", "queued")


#: The fact whose time says since when a job is in each phase (JobState's phase facts).
_SINCE = {Phase.ACCEPTED: F.TOOL_ID, Phase.PREPROCESSING: F.LAUNCH_CONFIG, Phase.SUBMITTED: F.PREPROCESSED,
          Phase.RUNNING: F.RUNNING, Phase.POSTPROCESSING: F.FINAL_STATUS}
#: How a phase is shown: SUBMITTED is a job the manager holds, not seen running yet.
_SHOWN = {Phase.SUBMITTED: "queued"}


def job_phase(path: str, job_id: str = ""):
    """``(phase shown, since)`` of the job in ``path``, asked of its :class:`JobState` (a read)."""
    state = JobState(path, job_id, READER)
    phase = state.phase()
    since = state.written_at(_SINCE.get(phase, F.FINAL_STATUS))
    if phase in TERMINAL_PHASES:
        since = state.terminal_since() or since
    if since is None:
        try:
            since = os.stat(path).st_mtime
        except OSError:
            since = None
    return _SHOWN.get(phase, phase.value), since


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
        phase, since = job_phase(path, job_id)
        tool_id = JobState(path, job_id, READER).get(F.TOOL_ID)
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
    if ring is not None:
        log_ring.install()  # attached again should a logging configuration have removed it
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
