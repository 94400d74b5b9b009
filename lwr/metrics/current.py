"""Metrics of the server's current state, computed when Prometheus scrapes.

Each is cheap whatever the number of jobs: job counts come from memory
(:class:`lwr.metrics.JobCounts`), the outbox depth from the outbox's in-memory index, the
disk from one ``statvfs``, the front door from its own tables. Only the broker costs a
round trip, on the connection ``/healthz`` keeps (at most one per second, see
:mod:`lwr.health`).
"""
import logging
import os
import time

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import lwr
from lwr.managers.job_state import Phase

#: The ``state`` values of ``lwr_jobs``: the job state machine's phases.
PHASES = tuple(phase.value for phase in Phase)

__all__ = ["CurrentState"]

log = logging.getLogger(__name__)


class CurrentState(Collector):
    def __init__(self, metrics):
        self.metrics = metrics

    def describe(self):
        return []  # the series depend on the app's configuration: collected at each scrape

    def collect(self):
        metrics = self.metrics
        app = metrics.app
        info = GaugeMetricFamily("lwr_info", "Always 1; the LWR version and the Pulsar version it speaks.",
                                 labels=["version", "pulsar_version"])
        info.add_metric([lwr.__version__, lwr.PULSAR_VERSION], 1)
        yield info
        yield GaugeMetricFamily("lwr_start_time_seconds", "When this server process started (Unix time).",
                                value=metrics.started)
        yield self._jobs(app, metrics.job_counts.snapshot())
        yield from self._disk(app)
        yield from self._front_door(metrics.servers)
        yield from self._message_queue(app)

    @staticmethod
    def _jobs(app, counts):
        """Every state of every manager, 0 included (a dashboard's sum over states has no gaps);
        jobs counted under a manager no longer configured, or none, are reported too."""
        family = GaugeMetricFamily("lwr_jobs", "Jobs on disk, by manager and state.", labels=["manager", "state"])
        managers = set(getattr(app, "managers", None) or {}) | {manager for manager, _state in counts}
        for manager in sorted(managers):
            for state in PHASES:
                family.add_metric([manager, state], counts.get((manager, state), 0))
        return family

    @staticmethod
    def _disk(app):
        staging = getattr(app, "staging_directory", None)
        if not staging:
            return
        try:
            stats = os.statvfs(staging)
        except OSError as exc:
            log.debug("metrics: statvfs(%s) failed: %s", staging, exc)
            return
        yield GaugeMetricFamily("lwr_staging_disk_free_bytes",
                                "Free bytes (for unprivileged users) on staging_directory's file system.",
                                value=stats.f_bavail * stats.f_frsize)
        yield GaugeMetricFamily("lwr_staging_disk_size_bytes", "Size of staging_directory's file system.",
                                value=stats.f_blocks * stats.f_frsize)
        if stats.f_files:  # file systems without an inode count report 0 of 0
            yield GaugeMetricFamily("lwr_staging_disk_free_inodes",
                                    "Free inodes on staging_directory's file system.", value=stats.f_favail)

    @staticmethod
    def _front_door(servers):
        if not servers:
            return  # not LWR's own runner (uWSGI, waitress, ...): its server reports these itself
        connections = GaugeMetricFamily(
            "lwr_http_connections", "Open client connections: in the front door (idle, reading a head, "
            "draining, sending) or with a worker.", labels=["where"])
        busy = GaugeMetricFamily("lwr_http_workers_busy", "Worker threads serving a request now.")
        workers = GaugeMetricFamily("lwr_http_workers", "Worker threads of the pool.")
        queued = GaugeMetricFamily("lwr_http_requests_queued", "Requests read and waiting for a free worker.")
        counts = {"front_door": 0, "worker": 0, "queued": 0}
        total_busy = total_workers = 0
        for server in servers:
            pool = server.thread_pool
            busy_now = len(pool.worker_tracker)
            waiting = pool.queue.qsize() + len(server.waiting_streams)
            counts["front_door"] += len(server.front_door.loop_connections)
            counts["worker"] += busy_now
            counts["queued"] += waiting
            total_busy += busy_now
            total_workers += len(pool.workers)
        for where, count in counts.items():
            connections.add_metric([where], count)
        busy.add_metric([], total_busy)
        workers.add_metric([], total_workers)
        queued.add_metric([], counts["queued"])
        yield from (connections, busy, workers, queued)

    @staticmethod
    def _message_queue(app):
        binding = getattr(app, "message_queue_binding", None)
        if binding is None:
            return
        outbox = GaugeMetricFamily("lwr_mq_outbox_depth",
                                   "Job statuses waiting to be published to (or acknowledged through) the broker.",
                                   labels=["manager"])
        for manager_binding in getattr(binding, "bindings", []):
            if getattr(manager_binding, "outbox", None) is not None:
                outbox.add_metric([manager_binding.manager.name], len(manager_binding.outbox))
        yield outbox
        health = getattr(app, "health", None)
        if health is None:
            return
        started = time.monotonic()
        connected = health.broker_connected(binding)
        if connected is not None:
            yield GaugeMetricFamily("lwr_mq_broker_connected",
                                    "1 when a round trip to the message broker succeeded, 0 when it failed.",
                                    value=1 if connected else 0)
        log.debug("metrics: broker check took %.3fs", time.monotonic() - started)
