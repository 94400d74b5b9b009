"""Job metrics, fed by phase changes (:mod:`lwr.managers.job_state`) rather than by each manager.

:class:`JobPhaseMetrics` is a phase listener of every manager
(:meth:`lwr.managers.stateful.StatefulManagerProxy.add_phase_listener`): it keeps the
in-memory counts ``lwr_jobs`` reports, counts finished jobs by outcome, and observes the
queue wait (the manager accepted the job -> first seen running) and the run time (first seen
running -> the end). At start :meth:`count_existing` reads the phase of each job already on
disk, once; scrapes never walk the job directories.
"""
import logging
import os
import time

from lwr import paths
from lwr.managers.job_state import READER, TERMINAL_PHASES, Phase
from lwr.managers.job_state import facts as F

__all__ = ["JobPhaseMetrics", "UNKNOWN_MANAGER"]

log = logging.getLogger(__name__)

#: ``manager`` label of jobs found on disk at start that no manager is running, when there
#: are several managers (all managers share staging_directory; a finished job's manager is
#: not recorded).
UNKNOWN_MANAGER = "(unknown)"


class JobPhaseMetrics:
    def __init__(self, metrics):
        self.metrics = metrics

    def __call__(self, manager: str, job_id: str, previous, phase, state) -> None:
        """A phase listener: see ``add_phase_listener``. A job that ended between two looks of
        the monitor was never seen running: it counts as finished, with no queue wait or run
        time to observe."""
        metrics = self.metrics
        if phase is None:
            metrics.job_counts.remove(job_id)
            return
        metrics.job_counts.set(job_id, manager, str(phase))
        if state is None:
            return
        now = time.time()
        if phase == Phase.RUNNING:
            accepted = state.written_at(F.PREPROCESSED)
            if accepted:
                metrics.queue_wait.labels(manager).observe(max(now - accepted, 0.0))
        elif previous == Phase.RUNNING:  # -> postprocessing or an end: the job's process is over
            running = state.written_at(F.RUNNING)
            if running:
                metrics.run_time.labels(manager).observe(max(now - running, 0.0))
        if phase in TERMINAL_PHASES:
            metrics.jobs_finished.labels(manager, str(phase)).inc()

    def count_existing(self, staging_directory: str, managers: dict) -> int:
        """Count the jobs already in ``staging_directory`` (once, at start, before any manager
        runs). A job on a manager's active list is that manager's; the others are the only
        manager's, or :data:`UNKNOWN_MANAGER`'s."""
        if not os.path.isdir(staging_directory) or not managers:
            return 0
        owners = {}
        for name, manager in managers.items():
            for job_id in manager.active_jobs.active_job_ids():
                owners[job_id] = name
        default = next(iter(managers)) if len(managers) == 1 else UNKNOWN_MANAGER
        any_manager = next(iter(managers.values()))
        counted = 0
        for entry in os.scandir(staging_directory):
            job_id = entry.name
            try:
                paths.check_job_id(job_id)
                if not entry.is_dir(follow_symlinks=False):
                    continue
                phase = any_manager.job_directory(job_id).state(READER).phase()
            except Exception as exc:  # markers, temporaries, unreadable leftovers: not jobs
                log.debug("metrics: %s not counted as a job: %s", job_id, exc)
                continue
            self.metrics.job_counts.set(job_id, owners.get(job_id, default), str(phase))
            counted += 1
        return counted
