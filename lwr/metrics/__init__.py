"""What ``GET /metrics`` reports, in the Prometheus text format (docs/metrics.rst).

One :class:`AppMetrics` per app, holding its own ``CollectorRegistry``: several apps in one
process (the tests) never share a series. Two kinds of metric:

* events, counted as they happen: HTTP requests (:mod:`lwr.metrics.http`), files staged,
  jobs finished and their queue and run times (:mod:`lwr.metrics.jobs`), failed scheduler
  commands;
* current state, read when Prometheus scrapes (:mod:`lwr.metrics.current`): jobs by state
  (counts kept in memory as jobs change phase, never a walk of the job directories), the
  front door's connections and workers, the status outbox, the broker, the staging disk.

Label values are bounded: route names from the route table, known methods and file types,
configured manager names; never a raw path or a job id.
"""
import logging
import threading
import time
from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

import lwr
from lwr.lwr_client.path_type import ALL_PATH_TYPES
from lwr.util import asbool

__all__ = ["AppMetrics", "build_metrics", "OTHER", "CONTENT_TYPE_LATEST"]

log = logging.getLogger(__name__)

#: The label value standing for anything outside a bounded set (an unknown method or file type).
OTHER = "other"

#: Seconds: from a status poll's few milliseconds to a multi-gigabyte download.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Seconds: jobs wait and run from seconds to days.
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0)


class AppMetrics:
    """The metrics of one app; built by :func:`build_metrics` unless ``metrics = false``."""

    def __init__(self, app=None, allow_loopback_without_token: bool = False):
        self.app = app
        self.allow_loopback_without_token = allow_loopback_without_token
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.started = time.time()
        self.http_requests = Counter(
            "lwr_http_requests", "HTTP requests answered, by route name (the route table's), method and status.",
            ["route", "method", "status"], registry=registry)
        self.http_duration = Histogram(
            "lwr_http_request_duration_seconds",
            "Time from a request's arrival in the application until its answer was sent (downloads included).",
            ["route", "method"], buckets=HTTP_BUCKETS, registry=registry)
        self.http_in_progress = Gauge(
            "lwr_http_requests_in_progress", "Requests the application is serving now.", registry=registry)
        self.staged_bytes = Counter(
            "lwr_staged_bytes", "Bytes of job files staged in (uploads) and out (downloads), by file type.",
            ["direction", "type"], registry=registry)
        self.staged_seconds = Counter(
            "lwr_staged_seconds", "Seconds spent staging job files in and out, by file type.",
            ["direction", "type"], registry=registry)
        self.staged_files = Counter(
            "lwr_staged_files", "Job files staged in and out, by file type.",
            ["direction", "type"], registry=registry)
        self.jobs_finished = Counter(
            "lwr_jobs_finished", "Jobs that reached an end, by manager and outcome "
            "(complete, failed, cancelled, lost).", ["manager", "outcome"], registry=registry)
        self.queue_wait = Histogram(
            "lwr_job_queue_wait_seconds", "Time from submit until the job was seen running.",
            ["manager"], buckets=JOB_BUCKETS, registry=registry)
        self.run_time = Histogram(
            "lwr_job_run_seconds", "Time from the job seen running until it ended.",
            ["manager"], buckets=JOB_BUCKETS, registry=registry)
        self.scheduler_failures = Counter(
            "lwr_scheduler_command_failures", "Scheduler commands (submit, status, cancel) that failed, by manager.",
            ["manager"], registry=registry)
        self.job_counts = JobCounts()
        from lwr.metrics.current import CurrentState  # here: it reads the app's parts, built after this module
        self.current = CurrentState(self)
        registry.register(self.current)
        self._servers = []
        self._http_children = {}

    # -- recording -----------------------------------------------------------------------------
    def http_children(self, route: str, method: str, status: str):
        """The request counter and duration histogram of one (route, method, status), looked
        up once: ``labels()`` checks and locks on every call, a dict read does not."""
        key = (route, method, status)
        children = self._http_children.get(key)
        if children is None:
            children = (self.http_requests.labels(route, method, status), self.http_duration.labels(route, method))
            self._http_children[key] = children  # a race builds the same pair twice: harmless
        return children

    def staged(self, direction: str, file_type: Optional[str], size: int, seconds: float, files: int = 1) -> None:
        """``size`` bytes of ``files`` files (0: a part of a resumable upload) moved in ``seconds``."""
        file_type = file_type if file_type in ALL_PATH_TYPES else OTHER
        self.staged_bytes.labels(direction, file_type).inc(size)
        self.staged_seconds.labels(direction, file_type).inc(seconds)
        self.staged_files.labels(direction, file_type).inc(files)

    def scheduler_command_failed(self, manager_name: str) -> None:
        self.scheduler_failures.labels(manager_name).inc()

    def watch_managers(self, managers: dict, staging_directory: str) -> None:
        """Listen to the phase changes of every manager's jobs and count those already on disk
        (before the managers start); report what the managers stage themselves."""
        from lwr.metrics.jobs import JobPhaseMetrics  # here: it loads the job-state module

        listener = JobPhaseMetrics(self)
        started = time.monotonic()
        counted = listener.count_existing(staging_directory, managers)
        log.info("metrics: %d jobs on disk counted in %.2fs", counted, time.monotonic() - started)
        for manager in managers.values():
            manager.add_phase_listener(listener)
            manager.staging_observer = self.staged

    def watch_server(self, server) -> None:
        """Report ``server``'s connections and workers (LWR's own runner calls this at start)."""
        self._servers.append(server)

    @property
    def servers(self):
        return list(self._servers)

    # -- the exposition ------------------------------------------------------------------------
    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class JobCounts:
    """Jobs by manager and phase, kept in memory as jobs are set up, change phase and go, so a
    scrape never walks the job directories. One small entry per job on disk (a job counted
    twice, or removed twice - retention tells every manager - stays counted once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = {}  # job id -> (manager, phase)
        self._counts = {}  # (manager, phase) -> count

    def set(self, job_id: str, manager: str, phase: str) -> None:
        with self._lock:
            self._drop(job_id)
            self._jobs[job_id] = (manager, phase)
            self._counts[(manager, phase)] = self._counts.get((manager, phase), 0) + 1

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._drop(job_id)

    def _drop(self, job_id):
        key = self._jobs.pop(job_id, None)
        if key is not None:
            self._counts[key] -= 1

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._counts)


def build_metrics(app, conf) -> Optional[AppMetrics]:
    """The app's metrics, or None with ``metrics = false``; ValueError naming a bad option."""
    enabled = _flag(conf, "metrics", True)
    loopback = _flag(conf, "metrics_allow_loopback_without_token", False)
    if not enabled:
        if loopback:
            log.warning("metrics_allow_loopback_without_token has no effect: metrics = false")
        return None
    log.debug("metrics enabled (LWR %s)", lwr.__version__)
    return AppMetrics(app, allow_loopback_without_token=loopback)


def _flag(conf, option, default) -> bool:
    try:
        return asbool((conf or {}).get(option), default)
    except ValueError:
        raise ValueError("%s must be true or false, not %r" % (option, (conf or {}).get(option)))
