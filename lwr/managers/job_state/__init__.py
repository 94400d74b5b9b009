"""Where a job's state lives and who changes it (docs/development.rst, "The job state machine").

* :mod:`.facts`   every persisted per-job fact: its file, the layers allowed to write it
* :mod:`.phases`  the phases, the allowed transitions, the errors
* :mod:`.state`   :class:`JobState`: questions ("accepted?", "terminal?") and checked writes
* :mod:`.store`   the atomic write and the no-follow read every fact goes through

Standard library only: nothing of LWR is imported here.
"""
from lwr.managers.job_state import facts
from lwr.managers.job_state.facts import FACTS, MANAGER, PROXY, READER, SCRIPT
from lwr.managers.job_state.phases import (IllegalTransition, IllegalWriter, JobStateConflict, NotCancelled, Phase,
                                           TERMINAL_PHASES, TRANSITIONS, UnknownJob)
from lwr.managers.job_state.state import JobState

__all__ = ["facts", "FACTS", "PROXY", "MANAGER", "SCRIPT", "READER", "Phase", "TRANSITIONS", "TERMINAL_PHASES",
           "JobState", "NotCancelled", "IllegalTransition", "IllegalWriter", "JobStateConflict", "UnknownJob"]
