"""Every fact LWR persists about one job: its file, who may write it, what it means.

Each fact is a file at the top of the job directory holding one JSON value.  ``writers``
names the layers allowed to write it:

* ``proxy``   :class:`lwr.managers.stateful.StatefulManagerProxy` (the job's life cycle)
* ``manager`` a concrete manager (``unqueued``, ``queued_*``: how the job runs)
* ``script``  the job script itself, running as the job (``command.sh``)

The message-queue handlers and the routes write no fact; they ask
:class:`lwr.managers.job_state.JobState` questions.  Standard library only.
"""
from typing import Dict, NamedTuple, Tuple

__all__ = ["Fact", "FACTS", "PROXY", "MANAGER", "SCRIPT", "READER", "PHASE_FACTS", "LAUNCHED_FACTS", "fact_names",
           "TOOL_ID", "TOOL_VERSION", "SETUP_OPTIONS", "STAGING_CONFIG", "LAUNCH_CONFIG", "PREPROCESSED",
           "RUNNING", "FINAL_STATUS", "FAILURE_REASON", "POSTPROCESSED", "PUSHED_OUTPUTS", "SUBMITTED",
           "COMMAND_LINE", "LAUNCHING", "PID", "EXTERNAL_ID", "CANCELLED", "RETURN_CODE", "JOB_STARTED"]

PROXY = "proxy"
MANAGER = "manager"
SCRIPT = "script"
#: Layers that only ask questions (message-queue handlers, routes, retention) use this writer.
READER = "reader"


class Fact(NamedTuple):
    name: str                 # the file name in the job directory
    writers: Tuple[str, ...]  # layers allowed to write it
    meaning: str


TOOL_ID = "tool_id"
TOOL_VERSION = "tool_version"
SETUP_OPTIONS = "setup_options"
STAGING_CONFIG = "staging_config"
LAUNCH_CONFIG = "launch_config"
PREPROCESSED = "preprocessed"
RUNNING = "running"
FINAL_STATUS = "final_status"
FAILURE_REASON = "failure_reason"
POSTPROCESSED = "postprocessed"
PUSHED_OUTPUTS = "pushed_outputs"
SUBMITTED = "submitted"
COMMAND_LINE = "command_line"
LAUNCHING = "launching"
PID = "pid"
EXTERNAL_ID = "external_id"
CANCELLED = "cancelled"
RETURN_CODE = "return_code"
JOB_STARTED = "job_started"

FACTS: Dict[str, Fact] = {fact.name: fact for fact in (
    # set-up (the manager's setup_job)
    Fact(TOOL_ID, (MANAGER,), "tool the job was set up for"),
    Fact(TOOL_VERSION, (MANAGER,), "its version"),
    Fact(SETUP_OPTIONS, (MANAGER,), "use_metadata / preserve_galaxy_python_environment of the setup"),
    # the life cycle (the proxy): these define the job's phase
    Fact(STAGING_CONFIG, (PROXY,), "remote staging description sent with the submit"),
    Fact(LAUNCH_CONFIG, (PROXY,), "the submit request, written before submit answers OK"),
    Fact(PREPROCESSED, (PROXY,), "staging done and the manager accepted the job"),
    Fact(RUNNING, (PROXY,), "the job was seen running once (its callback fired)"),
    Fact(FINAL_STATUS, (PROXY,), "complete / failed / cancelled / lost, written once"),
    Fact(POSTPROCESSED, (PROXY,), "outputs pushed back (or nothing to push)"),
    Fact(PUSHED_OUTPUTS, (PROXY,), "outputs already pushed (a restart does not push them twice)"),
    Fact(FAILURE_REASON, (PROXY, MANAGER), "why the job failed; shown with its stderr"),
    # how the job runs (the manager)
    Fact(SUBMITTED, (MANAGER,), "accepted by the manager, not started / being handed to the scheduler"),
    Fact(COMMAND_LINE, (MANAGER,), "queued_python: the script waiting in the queue"),
    Fact(LAUNCHING, (MANAGER,), "a local process is being started right now"),
    Fact(PID, (MANAGER,), "the local process (pid + start time)"),
    Fact(EXTERNAL_ID, (MANAGER,), "the scheduler's id for the job"),
    Fact(CANCELLED, (MANAGER,), "cancelled on request"),
    # written by the job script
    Fact(RETURN_CODE, (SCRIPT, MANAGER), "the tool's exit code"),
    Fact(JOB_STARTED, (SCRIPT,), "the job script's first command ran"),
)}

#: Facts that define the proxy's phase of a job: written only by JobState's transition methods.
PHASE_FACTS = (LAUNCH_CONFIG, PREPROCESSED, RUNNING, FINAL_STATUS, POSTPROCESSED)

#: Manager facts showing the manager already accepted a job (it must not be launched again).
LAUNCHED_FACTS = (SUBMITTED, COMMAND_LINE, LAUNCHING, PID, RETURN_CODE, EXTERNAL_ID, CANCELLED)


def fact_names():
    """Every file name a fact uses (reserved: clients may not upload over them)."""
    return set(FACTS)
