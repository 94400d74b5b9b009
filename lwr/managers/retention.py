"""Retention: removing the jobs no client will ever clean (``cleanup_after`` and friends).

:class:`JobReaper` is one long-lived object owned by the app.  ``start()`` runs a thread that
first removes the temporary files an earlier server left behind
(:mod:`lwr.managers.base.leftovers`), then - if a retention option is set - looks at every
job directory once per ``cleanup_interval`` and removes

* terminal jobs (``complete`` with its outputs pushed, ``failed``, ``lost``, ``cancelled``)
  whose terminal status is older than ``cleanup_after``, unless the status still waits to be
  published on the message queue (``terminal_status_pending``: the hook the message-queue
  side confirms publication through);
* jobs set up but never submitted, left alone for ``cleanup_unsubmitted_after`` (nothing
  written in them since, uploads in progress included) - e.g. Galaxy refused the job after
  its setup.

A job is removed exactly like a ``clean`` request would (every manager forgets it, the
directory goes in the background), under the job's status lock so that a submit cannot slip
in, with one log line saying why.  Both options are off by default, as in LWR 0.2.0.
"""
import logging
import os
import re
import threading
import time
from typing import Callable, List, Mapping, Optional, Tuple

from lwr import paths
from lwr.lifecycle import Threads
from lwr.managers.base import leftovers
from lwr.managers.base.directory import JobDirectory
from lwr.managers.job_state import READER

__all__ = ["RetentionPolicy", "JobReaper", "parse_duration", "RETENTION_OPTIONS"]

log = logging.getLogger(__name__)

RETENTION_OPTIONS = ("cleanup_after", "cleanup_unsubmitted_after", "cleanup_interval")
DEFAULT_INTERVAL = 600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_OFF = ("", "off", "none", "false", "never")


def parse_duration(name: str, value) -> Optional[float]:
    """Seconds from ``7`` (days), ``7d``, ``12h``, ``30m`` or ``45s``; None for off/unset."""
    if value is None or str(value).strip().lower() in _OFF:
        return None
    match = _DURATION.match(str(value).strip().lower())
    if match is None:
        raise ValueError("%s must be a number of days or a duration such as 12h, 30m, 45s, not %r" % (name, value))
    return float(match.group(1)) * _UNITS[match.group(2) or "d"]


class RetentionPolicy:
    """How long finished and never-submitted jobs are kept (None: forever)."""

    def __init__(self, cleanup_after: Optional[float] = None, cleanup_unsubmitted_after: Optional[float] = None,
                 interval: float = DEFAULT_INTERVAL):
        self.cleanup_after = cleanup_after
        self.cleanup_unsubmitted_after = cleanup_unsubmitted_after
        self.interval = interval

    @property
    def enabled(self) -> bool:
        return self.cleanup_after is not None or self.cleanup_unsubmitted_after is not None

    @classmethod
    def from_config(cls, conf: Mapping) -> "RetentionPolicy":
        """``ValueError`` naming the option for a value that is not a duration."""
        interval = parse_duration("cleanup_interval", conf.get("cleanup_interval") or "%ds" % DEFAULT_INTERVAL)
        if not interval:
            raise ValueError("cleanup_interval must be a positive duration")
        return cls(parse_duration("cleanup_after", conf.get("cleanup_after")),
                   parse_duration("cleanup_unsubmitted_after", conf.get("cleanup_unsubmitted_after")), interval)


class JobReaper:
    """The app's retention thread (see the module documentation)."""

    def __init__(self, staging_directory: str, managers: Mapping, policy: RetentionPolicy, started_ns: int,
                 lock_manager=None, honour_pending_publication: bool = False,
                 clock: Callable[[], float] = time.time, threads=None, reaper=None):
        self.staging_directory = os.path.abspath(staging_directory)
        self.managers = managers
        self.policy = policy
        self.started_ns = started_ns
        self.lock_manager = lock_manager
        self.honour_pending_publication = honour_pending_publication
        self.clock = clock
        self.threads = threads if threads is not None else Threads("retention")
        self.reaper = reaper
        self._stopping = threading.Event()
        self._thread = None

    def start(self) -> "JobReaper":
        self._thread = self.threads.start("lwr-retention", self._run)
        return self

    def shutdown(self, timeout: Optional[float] = None) -> None:
        self._stopping.set()
        self.threads.join(self._thread, timeout if timeout is not None else 5)

    def _run(self) -> None:
        try:
            leftovers.sweep(self.staging_directory, self.started_ns, self._stopping.is_set, self.reaper)
        except Exception:
            log.exception("removing the leftovers of an earlier server failed")
        while self.policy.enabled and not self._stopping.is_set():
            try:
                self.reap_once()
            except Exception:
                log.exception("retention pass over %s failed", self.staging_directory)
            self._stopping.wait(self.policy.interval)

    # -- one pass ----------------------------------------------------------------------------------
    def reap_once(self, now: Optional[float] = None) -> List[Tuple[str, str]]:
        """Remove every job the policy says is due; returns ``[(job_id, reason)]``."""
        now = self.clock() if now is None else now
        reaped = []
        try:
            names = os.listdir(self.staging_directory)
        except OSError as exc:
            log.warning("retention: cannot list %s: %s", self.staging_directory, exc)
            return reaped
        for job_id in names:
            if self._stopping.is_set():
                break
            try:
                paths.check_job_id(job_id)
            except paths.InvalidPath:
                continue  # .deleting-*, .setup-* and anything that is not a job
            try:
                reason = self._reap_if_due(JobDirectory(self.staging_directory, job_id, self.lock_manager, self.reaper), now)
            except OSError as exc:
                log.warning("retention: job %s skipped: %s", job_id, exc)
                continue
            if reason:
                reaped.append((job_id, reason))
        return reaped

    def _reap_if_due(self, job_directory: JobDirectory, now: float) -> Optional[str]:
        if self.lock_manager is None:
            return self._decide_and_remove(job_directory, now)
        with job_directory.lock("status"):
            return self._decide_and_remove(job_directory, now)

    def _decide_and_remove(self, job_directory: JobDirectory, now: float) -> Optional[str]:
        if not job_directory.exists():
            return None
        reason = self._due(job_directory, now)
        if reason is None:
            return None
        job_id = job_directory.job_id
        for manager in self.managers.values():
            manager.forget(job_id)
        job_directory.delete()
        log.info("job %s: removed by retention (%s)", job_id, reason)
        return reason

    def _due(self, job_directory: JobDirectory, now: float) -> Optional[str]:
        state = job_directory.state(READER)
        final_status = state.final_status()
        if final_status:
            if self.policy.cleanup_after is None:
                return None
            if not state.finished():
                return None  # outputs still being pushed
            job_id = job_directory.job_id
            if any(manager.is_active(job_id) for manager in self.managers.values()):
                return None
            if self.honour_pending_publication and any(
                    manager.terminal_status_pending(job_id) for manager in self.managers.values()):
                return None  # its status has not reached the message queue yet
            age = now - state.terminal_since()
            if age < self.policy.cleanup_after:
                return None
            return "%s %s ago, cleanup_after is %s" % (final_status, _human(age), _human(self.policy.cleanup_after))
        if state.launch_recorded() or self.policy.cleanup_unsubmitted_after is None:
            return None
        idle = now - _last_activity(job_directory.path)
        if idle < self.policy.cleanup_unsubmitted_after:
            return None
        return "set up but not submitted, untouched for %s, cleanup_unsubmitted_after is %s" % (
            _human(idle), _human(self.policy.cleanup_unsubmitted_after))


def _last_activity(path: str) -> float:
    """Latest change of anything in the tree (an upload being written counts)."""
    latest = os.lstat(path).st_mtime
    for root, dirs, files, root_fd in os.fwalk(path, follow_symlinks=False):
        for name in dirs + files:
            try:
                latest = max(latest, os.stat(name, dir_fd=root_fd, follow_symlinks=False).st_mtime)
            except FileNotFoundError:
                continue
    return latest


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%.1f%s" % (seconds / size, unit)
    return "%.0fs" % seconds
