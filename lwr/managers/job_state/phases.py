"""A job's phases as the proxy persists them, and the transitions allowed between them.

::

    ACCEPTED --launch--> PREPROCESSING --manager accepted--> SUBMITTED --seen running--> RUNNING
       |                    |                                  |                            |
       |                    +----------------------------------+----------------------------+
       |                               |                          |
       +-- kill / failed upload -->  CANCELLED, FAILED, LOST      COMPLETE with outputs to push
                                                                  |
                                                           POSTPROCESSING --> COMPLETE | FAILED

QUEUED and RUNNING as reported to clients come from the manager while the job is SUBMITTED or
RUNNING; only RUNNING is persisted (once, so its callback fires once).  Standard library only.
"""
import enum

__all__ = ["Phase", "TRANSITIONS", "TERMINAL_PHASES", "IllegalTransition", "JobStateConflict", "UnknownJob",
           "IllegalWriter", "NotCancelled", "check_transition"]


class Phase(str, enum.Enum):
    ACCEPTED = "accepted"              # set up, nothing submitted
    PREPROCESSING = "preprocessing"    # submit recorded, staging inputs / handing to the manager
    SUBMITTED = "submitted"            # the manager accepted it (queued or running there)
    RUNNING = "running"                # seen running
    POSTPROCESSING = "postprocessing"  # complete, outputs being pushed
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    def __str__(self):
        return self.value


TERMINAL_PHASES = frozenset((Phase.COMPLETE, Phase.FAILED, Phase.CANCELLED, Phase.LOST))
_ENDINGS = {Phase.COMPLETE, Phase.POSTPROCESSING, Phase.FAILED, Phase.CANCELLED, Phase.LOST}

TRANSITIONS = {
    Phase.ACCEPTED: {Phase.PREPROCESSING, Phase.FAILED, Phase.CANCELLED},
    Phase.PREPROCESSING: {Phase.SUBMITTED, Phase.FAILED, Phase.CANCELLED, Phase.LOST},
    Phase.SUBMITTED: {Phase.RUNNING} | _ENDINGS,
    Phase.RUNNING: set(_ENDINGS),
    Phase.POSTPROCESSING: {Phase.COMPLETE, Phase.FAILED},
    Phase.COMPLETE: set(),
    Phase.FAILED: set(),
    Phase.CANCELLED: set(),
    Phase.LOST: set(),
}


class UnknownJob(KeyError):
    """No job directory for this id."""

    def __str__(self):
        return "unknown job %s" % self.args[0]


class JobStateConflict(Exception):
    """The request does not fit the job's state (e.g. a second submit)."""


class IllegalTransition(JobStateConflict):
    """A write that would move a job between phases the state machine does not connect."""

    def __init__(self, job_id, current, wanted):
        super().__init__("job %s: no transition from %s to %s" % (job_id, current, wanted))
        self.job_id = job_id
        self.current = current
        self.wanted = wanted


class IllegalWriter(Exception):
    """A layer wrote a fact it does not own (a programming error, never a client's)."""


def check_transition(job_id, current: Phase, wanted: Phase) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(job_id, current, wanted)


class NotCancelled(JobStateConflict):
    """A kill the manager could not carry out: the job keeps running (and is not cleaned)."""
