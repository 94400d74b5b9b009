"""After the job: push outputs whose actions are remote (remote_copy / remote_transfer) to Galaxy."""
import logging
import os
import threading
import time

from lwr.lwr_client.action_mapper import has_remote_actions
from lwr.managers.job_state import PROXY
from lwr.managers.job_state import facts as F
from lwr.paths import InvalidPath

__all__ = ["postprocess", "needs_postprocess", "realized_dynamic_file_sources", "PUSHED_OUTPUTS"]

#: A dynamic file source (galaxy.json) larger than this is not sent in the status: clients then
#: collect what its patterns match, not the files it names.
MAXIMUM_DYNAMIC_FILE_SOURCE_SIZE = 8 * 1024 * 1024

#: Job metadata: the destinations already pushed, so stage-out resumed after a restart sends
#: each file once (Galaxy's job files API appends to an existing tool_stdout / tool_stderr;
#: a retry of one of those after a lost answer is guarded by lwr_client.transport.appending).
PUSHED_OUTPUTS = F.PUSHED_OUTPUTS

log = logging.getLogger(__name__)


def needs_postprocess(staging_config) -> bool:
    """Only jobs whose action mapper can pick a remote action have anything to push."""
    return bool(staging_config) and has_remote_actions(staging_config.get("action_mapper"))


def postprocess(job_directory, staging_config, observe=None) -> list:
    """Run the results collector with a server-side collector; return the list of failures.

    ``observe(direction, file_type, size, seconds)``, when given, is told of each file pushed."""
    if not needs_postprocess(staging_config):
        return []
    from lwr.lwr_client.action_mapper import FileActionMapper
    from lwr.lwr_client.staging import ClientOutputs, LwrOutputs
    from lwr.lwr_client.staging.down import ResultsCollector

    action_mapper = FileActionMapper(config=staging_config["action_mapper"])
    client_outputs = ClientOutputs.from_dict(staging_config.get("client_outputs") or {})
    lwr_outputs = LwrOutputs(job_directory.working_directory_contents(),
                             job_directory.outputs_directory_contents(), os.sep,
                             metadata_directory_contents=job_directory.metadata_directory_contents(),
                             job_directory_contents=job_directory.job_directory_contents(),
                             realized_dynamic_file_sources=realized_dynamic_file_sources(job_directory))
    collector = _ServerOutputCollector(job_directory)
    collector.observe = observe
    results = ResultsCollector(collector, action_mapper, client_outputs, lwr_outputs)
    return list(results.collect() or [])


def realized_dynamic_file_sources(job_directory) -> list:
    """Each ``dynamic_file_sources`` entry of the submit whose file the job wrote in ``working/``,
    with its text as ``contents`` (clients collect the files a galaxy.json names)."""
    launch_config = job_directory.state(PROXY).launch_config()
    realized = []
    for source in launch_config.get("dynamic_file_sources") or []:
        try:
            path = job_directory.calculate_path(source["path"], "output_workdir", create_parents=False)
        except (InvalidPath, KeyError, TypeError, ValueError) as exc:
            log.warning("job %s: dynamic file source %r ignored: %s", job_directory.job_id, source, exc)
            continue
        try:
            if os.path.getsize(path) > MAXIMUM_DYNAMIC_FILE_SOURCE_SIZE:
                log.warning("job %s: %s is larger than %d bytes and is not sent to the client",
                            job_directory.job_id, source["path"], MAXIMUM_DYNAMIC_FILE_SOURCE_SIZE)
                continue
        except OSError:
            continue  # the job did not write it
        text = job_directory.read_stream(path, MAXIMUM_DYNAMIC_FILE_SOURCE_SIZE)
        if text is not None:
            realized.append(dict(source, contents=text))
    return realized


class _ServerOutputCollector:
    """Pushes each remotely-staged output from the job directory to where the action says."""

    observe = None  # postprocess's observe callback

    def __init__(self, job_directory):
        self.job_directory = job_directory
        self.pushed = set(job_directory.state(PROXY).get(PUSHED_OUTPUTS) or [])
        self._lock = threading.Lock()

    def collect_output(self, results_collector, output_type, action, name):
        if not action.staging_needed or action.staging_action_local:
            return True  # Galaxy downloads these itself (transfer / copy) or nothing moves (none).
        name = name or os.path.basename(action.path)
        path = self.job_directory.calculate_path(name, output_type, create_parents=False)
        if not os.path.exists(path):
            raise FileNotFoundError("output %r was not produced by the job" % name)
        destination = str(action.path)
        with self._lock:
            if destination in self.pushed:
                log.info("job %s: %s %s was pushed before a restart; not sent again",
                         self.job_directory.job_id, output_type, name)
                return True
        log.debug("pushing %s %s with %s", output_type, name, action.action_type)
        started = time.monotonic()
        action.write_from_path(path)
        if self.observe is not None:
            self.observe("out", output_type, os.path.getsize(path), time.monotonic() - started)
        with self._lock:
            self.pushed.add(destination)
            self.job_directory.state(PROXY).set(PUSHED_OUTPUTS, sorted(self.pushed))
        return True
