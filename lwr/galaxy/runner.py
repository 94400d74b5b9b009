"""``LwrJobRunner``: Galaxy's job runner plugin for LWR servers.

Load it in Galaxy's job configuration with ``load: lwr.galaxy.runner:LwrJobRunner``
(the directory holding the ``lwr`` package must be on Galaxy's ``PYTHONPATH``).
This module imports Galaxy; nothing in LWR imports it.
"""
import logging
import os

from galaxy import model
from galaxy.jobs.job_destination import JobDestination
from galaxy.jobs.runners import AsynchronousJobRunner, AsynchronousJobState, JobState
from galaxy.util import unicodify

from lwr.galaxy import params as lwr_params
from lwr.galaxy import status as lwr_status
from lwr.galaxy.submission import client_outputs, prepare_submission, read_streams
from lwr.lwr_client import LwrOutputs, build_client_manager, finish_job, submit_job
from lwr.lwr_client.exceptions import ServerRefusedToken, ServerUnavailable, TransportError
from lwr.lwr_client.transport.base import mask_url

__all__ = ["LwrJobRunner"]

log = logging.getLogger(__name__)

_STREAM_LIMIT = 1024 * 1024
_GALAXY_DONE = (model.Job.states.DELETED, model.Job.states.DELETING, model.Job.states.STOPPED,
                model.Job.states.ERROR, model.Job.states.OK)


class LwrJobState(AsynchronousJobState):
    """Galaxy's job state plus the LWR URL and the last status response."""

    def __init__(self, job_wrapper, job_destination, job_id, lwr_url=""):
        super().__init__(job_wrapper=job_wrapper, job_destination=job_destination, job_id=job_id)
        self.lwr_url = lwr_url
        self.full_status = None


class LwrJobRunner(AsynchronousJobRunner):
    """Stages Galaxy jobs to an LWR server, watches them and brings their outputs back."""

    runner_name = "LwrJobRunner"
    start_methods = ["_init_client_manager", "_init_worker_threads", "_init_monitor_thread"]

    def __init__(self, app, nworkers, **kwargs):
        super().__init__(app, nworkers, runner_param_specs=dict(lwr_params.RUNNER_PARAM_SPECS), **kwargs)
        galaxy_url = self.runner_params.get("galaxy_url") or getattr(app.config, "galaxy_infrastructure_url", None)
        self.galaxy_url = galaxy_url.rstrip("/") if galaxy_url else None
        self.use_mq = bool(self.runner_params.get("url"))
        self.client_manager = None

    def _init_client_manager(self):
        self.client_manager = build_client_manager(**lwr_params.client_manager_kwargs(self.runner_params))
        if self.use_mq:
            # Status updates arrive on the queue and land in the manager's status cache;
            # the monitor thread reads that cache instead of polling the server.
            self.client_manager.ensure_has_status_update_callback(self._status_update)

    def _status_update(self, full_status):
        log.debug("LWR status update for job %s: %s", full_status.get("job_id"), full_status.get("status"))

    # -- clients -------------------------------------------------------------------------------
    def url_to_destination(self, url):
        """Legacy ``lwr://http://host:8913/`` runner URLs."""
        return JobDestination(runner="lwr", params=lwr_params.destination_client_params({"url": url}))

    def _client(self, destination_params, job_id):
        params = lwr_params.destination_client_params(dict(destination_params or {}))
        extra = {}
        if self.galaxy_url:
            encoded_id = self.app.security.encode_id(int(job_id)) if str(job_id).isdigit() else job_id
            job_key = self.app.security.encode_id(int(job_id), kind="jobs_files") if str(job_id).isdigit() else ""
            extra["files_endpoint"] = "%s/api/jobs/%s/files?job_key=%s" % (self.galaxy_url, encoded_id, job_key)
        return self.client_manager.get_client(params, str(job_id), **extra)

    def _client_for_state(self, job_state):
        job_wrapper = job_state.job_wrapper
        client = self._client(job_state.job_destination.params, job_wrapper.job_id)
        client.job_id = str(job_state.job_id)  # the LWR may have assigned its own id
        return client

    def _lwr_url(self, destination_params):
        """Where the LWR is, for messages: its URL, or the broker and manager with a message queue."""
        if self.use_mq:
            return "%s (message queue, manager %s)" % (mask_url(self.runner_params.get("url")),
                                                       self.runner_params.get("manager") or "_default_")
        params = lwr_params.destination_client_params(dict(destination_params or {}))
        return params.get("url") or "(no url)"

    # -- queue ---------------------------------------------------------------------------------
    def queue_job(self, job_wrapper):
        job_state = job_wrapper.get_state()
        if job_state == model.Job.states.DELETED:
            log.debug("(%s) job deleted before it reached the LWR runner", job_wrapper.get_id_tag())
            if self.app.config.cleanup_job in ("always", "onsuccess"):
                job_wrapper.cleanup()
            return
        if job_state != model.Job.states.QUEUED:
            log.info("(%s) job is in state %s, not submitting it", job_wrapper.get_id_tag(), job_state)
            return
        destination = job_wrapper.job_destination
        url = self._lwr_url(destination.params)
        client = None
        try:
            client = self._client(destination.params, job_wrapper.job_id)
            submission = prepare_submission(self, job_wrapper, client)
            if submission is None:
                return
            external_id = submit_job(client, submission.description, submission.remote_job_config)
        except ServerRefusedToken as exc:
            self._fail_queued(job_wrapper, client, "The LWR server at %s refused the job: authentication failed "
                              "(wrong or missing private_token): %s" % (url, exc.server_message or exc))
            return
        except ServerUnavailable as exc:
            self._fail_queued(job_wrapper, None, "Cannot reach the LWR server at %s: %s" % (url, exc))
            return
        except Exception as exc:
            log.exception("(%s) submitting to LWR %s failed", job_wrapper.get_id_tag(), url)
            self._fail_queued(job_wrapper, client, "Submitting the job to the LWR server at %s failed: %s"
                              % (url, unicodify(exc)))
            return
        log.info("(%s) submitted to LWR %s as job %s", job_wrapper.get_id_tag(), url, external_id)
        job_wrapper.set_job_destination(destination, external_id=external_id, flush=True)
        lwr_state = LwrJobState(job_wrapper, destination, external_id, url)
        lwr_state.old_state = model.Job.states.QUEUED
        self.monitor_job(lwr_state)

    @staticmethod
    def _fail_queued(job_wrapper, client, message):
        log.warning("(%s) %s", job_wrapper.get_id_tag(), message)
        if client is not None:
            try:
                client.clean()
            except Exception:
                log.debug("could not clean the half-submitted LWR job", exc_info=True)
        job_wrapper.fail(message)

    # -- monitor -------------------------------------------------------------------------------
    def check_watched_item(self, job_state):
        galaxy_state = job_state.job_wrapper.get_state()
        if galaxy_state in _GALAXY_DONE:
            # Deleted/stopped in Galaxy (stop_job killed the LWR job) or finished elsewhere.
            return None
        if job_state.check_limits():
            self.mark_as_failed(job_state)
            return None
        try:
            status = self._status(job_state)
        except ServerRefusedToken as exc:
            job_state.fail_message = "The LWR server at %s refused the status request: authentication failed: %s" \
                % (job_state.lwr_url, exc.server_message or exc)
            job_state.stop_job = False
            self.mark_as_failed(job_state)
            return None
        except TransportError as exc:
            if exc.status == 404:
                job_state.fail_message = "The LWR server at %s no longer knows job %s (lost): %s" \
                    % (job_state.lwr_url, job_state.job_id, exc.server_message or exc)
                job_state.stop_job = False
                self.mark_as_failed(job_state)
                return None
            log.warning("(%s) status check with LWR %s failed, will retry: %s",
                        job_state.job_wrapper.get_id_tag(), job_state.lwr_url, exc)
            return job_state
        if status is None:
            return job_state
        decision = lwr_status.decide(status, job_state.lwr_url, job_state.running)
        if decision.action == lwr_status.WAIT:
            return job_state
        if decision.action == lwr_status.RUNNING:
            job_state.running = True
            job_state.job_wrapper.change_state(model.Job.states.RUNNING)
            return job_state
        job_state.full_status = status
        if decision.action == lwr_status.FINISH:
            if status.get("status") == "cancelled":
                job_state.fail_message = "The LWR job was cancelled on the server (%s)" % job_state.lwr_url
                job_state.stop_job = False
                self.mark_as_failed(job_state)
            else:
                self.mark_as_finished(job_state)
            return None
        job_state.fail_message = decision.message
        job_state.stop_job = False
        if decision.runner_state:
            job_state.runner_state = getattr(JobState.runner_states, decision.runner_state)
        self.mark_as_failed(job_state)
        return None

    def _status(self, job_state):
        if self.use_mq:
            return getattr(self.client_manager, "status_cache", {}).get(str(job_state.job_id))
        return self._client_for_state(job_state).full_status()

    # -- finish / fail -------------------------------------------------------------------------
    def finish_job(self, job_state):
        job_wrapper = job_state.job_wrapper
        try:
            client = self._client_for_state(job_state)
            status = job_state.full_status
            if not status or status.get("complete") != "true":
                status = client.full_status()
            galaxy_state = job_wrapper.get_state()
            completed_normally = galaxy_state not in (model.Job.states.ERROR, model.Job.states.DELETED)
            failures = finish_job(client, job_wrapper.cleanup_job, completed_normally,
                                  client_outputs(self, job_wrapper), LwrOutputs.from_status_response(status))
            if failures:
                job_wrapper.fail("Could not download %d output(s) of the job from the LWR server at %s: %s"
                                 % (len(failures), job_state.lwr_url, "; ".join(str(f) for f in failures[:3])))
                return
        except Exception as exc:
            log.exception("(%s) collecting the LWR job's results failed", job_wrapper.get_id_tag())
            job_state.fail_message = "Collecting the job's results from the LWR server at %s failed: %s" \
                % (job_state.lwr_url, unicodify(exc))
            job_state.stop_job = False
            self.fail_job(job_state, exception=True)
            return
        exit_code = status.get("returncode")
        tool_stdout, tool_stderr, job_stdout, job_stderr = read_streams(job_wrapper, status, _STREAM_LIMIT)
        with open(os.path.join(job_wrapper.working_directory, "galaxy_%s.ec" % job_wrapper.job_id), "w") as handle:
            handle.write(str(exit_code if exit_code is not None else ""))
        try:
            self._handle_metadata_externally(job_wrapper, resolve_requirements=True)
            job_wrapper.finish(tool_stdout, tool_stderr, exit_code, job_stdout=job_stdout, job_stderr=job_stderr)
        except Exception:
            log.exception("(%s) job_wrapper.finish failed", job_wrapper.get_id_tag())
            job_wrapper.fail("Unable to finish job", exception=True)

    def fail_job(self, job_state, exception=False, message="Job failed", full_status=None):
        full_status = full_status or getattr(job_state, "full_status", None)
        if job_state.job_wrapper.cleanup_job == "always" and getattr(job_state, "job_id", None):
            try:
                self._client_for_state(job_state).clean()
            except Exception:
                log.debug("could not clean LWR job %s", job_state.job_id, exc_info=True)
        super().fail_job(job_state, exception=exception, message=message, full_status=full_status)

    # -- stop / recover / shutdown -------------------------------------------------------------
    def stop_job(self, job_wrapper):
        job = job_wrapper.get_job()
        external_id = job.get_job_runner_external_id()
        if not external_id:
            return
        params = job.destination_params or job_wrapper.job_destination.params
        try:
            client = self._client(params, job.id)
            client.job_id = str(external_id)
            client.kill()
            log.info("(%s) asked LWR %s to cancel job %s", job.id, self._lwr_url(params), external_id)
        except Exception:
            log.exception("(%s) cancelling LWR job %s failed", job.id, external_id)

    def recover(self, job, job_wrapper):
        """Watch again the jobs Galaxy had queued or running when it stopped."""
        external_id = job.get_job_runner_external_id()
        state = job.get_state()
        if not external_id:
            # Never reached the LWR (Galaxy stopped while staging): submit from scratch.
            log.info("(%s) no LWR job id recorded; submitting again", job.id)
            self._clean_quietly(job_wrapper.job_destination.params, job.id)
            self.mark_as_queued(job_wrapper)
            return
        destination = job_wrapper.job_destination
        lwr_state = LwrJobState(job_wrapper, destination, external_id, self._lwr_url(destination.params))
        lwr_state.old_state = state
        lwr_state.running = state == model.Job.states.RUNNING
        log.debug("(%s) recovered LWR job %s in state %s", job.id, external_id, state)
        self.monitor_job(lwr_state)

    def _clean_quietly(self, params, job_id):
        try:
            self._client(params, job_id).clean()
        except Exception:
            log.debug("no LWR job %s to clean", job_id, exc_info=True)

    def shutdown(self):
        super().shutdown()
        if self.client_manager is not None:
            self.client_manager.shutdown()
