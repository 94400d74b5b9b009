"""``JobState``: one job's persisted facts, its phase, and the only way to change them."""
import logging
import os
import time
from typing import Optional

from lwr.managers.job_state import facts as F
from lwr.managers.job_state import store
from lwr.managers.job_state.phases import (IllegalWriter, JobStateConflict, Phase, TERMINAL_PHASES,
                                           check_transition)

__all__ = ["JobState"]

log = logging.getLogger("lwr.jobs")

_FINAL = {phase.value: phase for phase in TERMINAL_PHASES}
#: Before a final status: the phase is that of the latest of these facts written.
_PHASE_BY_LATEST_FACT = ((F.RUNNING, Phase.RUNNING), (F.PREPROCESSED, Phase.SUBMITTED),
                         (F.LAUNCH_CONFIG, Phase.PREPROCESSING))


class JobState:
    """The facts of the job in ``path`` as seen (and written) by ``writer``.

    Callers hold the job's status lock around a read-then-write (the proxy does); the methods
    themselves only make each single write atomic.
    """

    #: ``on_change(state, previous, phase)`` after each phase change (the proxy sets it to tell
    #: its listeners, :meth:`lwr.managers.stateful.StatefulManagerProxy.add_phase_listener`).
    on_change = None

    def __init__(self, path: str, job_id: str, writer: str = F.PROXY, manager: str = ""):
        self.path = path
        self.job_id = job_id
        self.writer = writer
        self.manager = manager

    @classmethod
    def of(cls, job_directory, writer: str = F.PROXY, manager: str = "") -> "JobState":
        return cls(job_directory.path, job_directory.job_id, writer, manager)

    # -- facts ----------------------------------------------------------------------------------
    def fact_path(self, name: str) -> str:
        """Where fact ``name`` lives (the job script is told this path for ``return_code``)."""
        if name not in F.FACTS:
            raise KeyError("no job fact %r" % name)
        return os.path.join(self.path, name)

    def has(self, name: str) -> bool:
        return store.exists(self.fact_path(name))

    def get(self, name: str, default=None):
        return store.read_value(self.fact_path(name), default)

    def set(self, name: str, value) -> None:
        """Write a fact that does not define the phase (a manager's markers, staging config)."""
        if name in F.PHASE_FACTS:
            raise IllegalWriter("%s defines the job's phase: use JobState's transition methods" % name)
        self._check_writer(name)
        store.write_value(self.fact_path(name), value)

    def clear(self, name: str) -> None:
        if name in F.PHASE_FACTS:
            raise IllegalWriter("%s defines the job's phase and is never removed" % name)
        self._check_writer(name)
        store.remove(self.fact_path(name))

    def written_at(self, name: str) -> Optional[float]:
        return store.mtime(self.fact_path(name))

    def _check_writer(self, name):
        if self.writer not in F.FACTS[name].writers:
            raise IllegalWriter("%s may not write %s (writers: %s)"
                                % (self.writer, name, ", ".join(F.FACTS[name].writers)))

    # -- questions ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def phase(self) -> Phase:
        final = self.get(F.FINAL_STATUS)
        if final:
            if final == Phase.COMPLETE.value and not self.has(F.POSTPROCESSED):
                return Phase.POSTPROCESSING
            return _FINAL.get(final, Phase.FAILED)
        for name, phase in _PHASE_BY_LATEST_FACT:
            if self.has(name):
                return phase
        return Phase.ACCEPTED

    def launch_recorded(self) -> bool:
        """The client's submit was recorded (the job must not be submitted again)."""
        return self.has(F.LAUNCH_CONFIG)

    def submitted(self) -> bool:
        """Submitted or already ended: a repeated setup/submit of it is a duplicate."""
        return self.has(F.LAUNCH_CONFIG) or self.has(F.FINAL_STATUS)

    def accepted(self) -> bool:
        """The manager took the job (it may be running; launching it again could run it twice)."""
        return self.has(F.PREPROCESSED) or any(self.has(name) for name in F.LAUNCHED_FACTS)

    def terminal(self) -> bool:
        """A final status is recorded (outputs may still be being pushed)."""
        return self.has(F.FINAL_STATUS)

    def finished(self) -> bool:
        """Terminal and nothing left to do (outputs pushed)."""
        return self.phase() in TERMINAL_PHASES

    def final_status(self) -> Optional[str]:
        return self.get(F.FINAL_STATUS)

    def failure_reason(self) -> Optional[str]:
        return self.get(F.FAILURE_REASON)

    def launch_config(self) -> dict:
        return self.get(F.LAUNCH_CONFIG) or {}

    def staging_config(self) -> dict:
        return self.get(F.STAGING_CONFIG) or {}

    def running_seen(self) -> bool:
        return self.has(F.RUNNING)

    def return_code(self) -> Optional[int]:
        value = self.get(F.RETURN_CODE)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def terminal_since(self) -> float:
        """When the job last changed phase once terminal (final status or outputs pushed)."""
        times = [t for t in (self.written_at(F.FINAL_STATUS), self.written_at(F.POSTPROCESSED)) if t]
        return max(times) if times else 0.0

    # -- transitions (the proxy) -----------------------------------------------------------------
    def record_launch(self, launch_config: dict) -> None:
        """ACCEPTED -> PREPROCESSING; a second submit is a :class:`JobStateConflict`."""
        if self.submitted():
            raise JobStateConflict("job %s was already submitted" % self.job_id)
        self._transition(Phase.PREPROCESSING, [(F.LAUNCH_CONFIG, launch_config)])

    def record_accepted(self) -> None:
        """PREPROCESSING -> SUBMITTED: the manager accepted the job."""
        self._transition(Phase.SUBMITTED, [(F.PREPROCESSED, True)])

    def record_running(self) -> bool:
        """SUBMITTED -> RUNNING once; False when it was already recorded."""
        if self.phase() != Phase.SUBMITTED:
            return False
        self._transition(Phase.RUNNING, [(F.RUNNING, True)])
        return True

    def record_final(self, final_status: str, reason: Optional[str] = None, outputs_pending: bool = False) -> Phase:
        """The one terminal status: -> COMPLETE/FAILED/CANCELLED/LOST, or POSTPROCESSING when a
        complete job still has outputs to push (``outputs_pending``)."""
        wanted = _FINAL[final_status]
        writes = []
        if reason:
            writes.append((F.FAILURE_REASON, reason))
        writes.append((F.FINAL_STATUS, final_status))
        if wanted == Phase.COMPLETE and outputs_pending:
            wanted = Phase.POSTPROCESSING
        elif wanted == Phase.COMPLETE or self.phase() == Phase.POSTPROCESSING:
            writes.append((F.POSTPROCESSED, True))
        self._transition(wanted, writes)
        return wanted

    def record_postprocessed(self, failure: Optional[str] = None) -> Phase:
        """POSTPROCESSING -> COMPLETE, or FAILED with ``failure`` (outputs could not be pushed)."""
        if failure:
            return self.record_final(Phase.FAILED.value, failure)
        self._transition(Phase.COMPLETE, [(F.POSTPROCESSED, True)])
        return Phase.COMPLETE

    def _transition(self, wanted: Phase, writes) -> None:
        if self.writer != F.PROXY:
            raise IllegalWriter("only the proxy changes a job's phase, not the %s" % self.writer)
        current = self.phase()
        check_transition(self.job_id, current, wanted)
        for name, value in writes:
            store.write_value(self.fact_path(name), value)
        self._log(current, wanted)
        if self.on_change is not None:
            self.on_change(self, current, wanted)

    # -- the operational log line (one per phase change) ------------------------------------------
    def _log(self, previous: Phase, phase: Phase) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        started = self.written_at(F.LAUNCH_CONFIG)
        duration = "%.1fs" % (time.time() - started) if started and phase != Phase.PREPROCESSING else "-"
        code = self.return_code() if phase in TERMINAL_PHASES or phase == Phase.POSTPROCESSING else None
        log.info("job state: manager=%s job=%s state=%s previous=%s exit_code=%s duration=%s bytes_staged=%d",
                 self.manager or "-", self.job_id, phase, previous, "-" if code is None else code, duration,
                 bytes_below(os.path.join(self.path, "inputs")))


def bytes_below(directory: str) -> int:
    """Bytes of the files under ``directory`` (links not followed): a job's staged inputs."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
