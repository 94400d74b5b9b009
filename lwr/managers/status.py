"""Job states shared by every manager.  Standard library only; imports nothing of LWR."""

PREPROCESSING = "preprocessing"
QUEUED = "queued"
RUNNING = "running"
COMPLETE = "complete"
CANCELLED = "cancelled"
FAILED = "failed"
LOST = "lost"
POSTPROCESSING = "postprocessing"

ALL_STATES = (PREPROCESSING, QUEUED, RUNNING, COMPLETE, CANCELLED, FAILED, LOST, POSTPROCESSING)
ACTIVE_STATES = (PREPROCESSING, QUEUED, RUNNING, POSTPROCESSING)
TERMINAL_STATES = (COMPLETE, CANCELLED, FAILED, LOST)


def is_job_done(status: str) -> bool:
    """True once a job will never change state again."""
    return status in TERMINAL_STATES
