"""What the server does with one ``setup``, ``kill``, ``status`` or ``clean`` message, independent of AMQP.

A handler returns only after the job is durably recorded (or the message
was judged malformed and answered with a ``failed`` status in the outbox);
the caller acknowledges the message afterwards.  A redelivered setup message
for a job already recorded is recognised and ignored.
"""
import logging
from typing import Optional

from lwr.managers import status as job_status
from lwr import paths
from lwr.managers.job_state import READER, NotCancelled, UnknownJob
from lwr.util import JsonTooDeep, loads_bounded

__all__ = ["MalformedMessage", "SetupHandler", "KillHandler", "CleanHandler", "StatusRequestHandler",
           "decode_body", "failed_payload"]

log = logging.getLogger(__name__)


class MalformedMessage(Exception):
    """A message that cannot be acted on; ``job_id`` is set when the body named one."""

    def __init__(self, reason: str, job_id: Optional[str] = None):
        super().__init__(reason)
        self.job_id = job_id


def decode_body(body) -> dict:
    """The JSON object of a message body (bytes, str or an already decoded dict)."""
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("body is not UTF-8 text")
    try:
        decoded = loads_bounded(body)
    except JsonTooDeep as exc:
        raise MalformedMessage("body is %s" % exc)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage("body is not JSON (%s)" % exc)
    if not isinstance(decoded, dict):
        raise MalformedMessage("body is JSON but not an object")
    return decoded


def _job_id(body: dict) -> str:
    job_id = body.get("job_id")
    if job_id is None or job_id == "":
        raise MalformedMessage("no job_id in the message")
    if not isinstance(job_id, (str, int)) or isinstance(job_id, bool):
        raise MalformedMessage("job_id must be a string, not %r" % (job_id,))
    try:
        return paths.check_job_id(str(job_id))
    except paths.InvalidPath as exc:
        raise MalformedMessage(str(exc), str(job_id))


def failed_payload(job_id: str, reason: str, status: str = job_status.FAILED) -> dict:
    """A terminal ``failed`` (or ``lost``) status for a job LWR never created (full form, empty outputs)."""
    return {"job_id": job_id, "complete": "true", "status": status, "returncode": None,
            "stdout": "", "stderr": reason, "failure_reason": reason, "working_directory": None,
            "working_directory_contents": [], "outputs_directory_contents": [],
            "metadata_directory": None, "metadata_directory_contents": [], "system_properties": {}}


class _Handler:
    """``publish_status(job_id, status, payload, route)`` queues a status for the exchange ``route``."""

    kind = ""

    def __init__(self, manager, publish_status=None):
        self.manager = manager
        self.publish_status = publish_status or (lambda job_id, status, payload, route: None)

    def _check_manager(self, body, job_id):
        named = body.get("manager") or body.get("manager_name")
        if named not in (None, "") and named != self.manager.name:
            raise MalformedMessage("message names manager %r but arrived on the queue of manager %r"
                                   % (named, self.manager.name), job_id)

    def _fail(self, job_id: str, reason: str, route=None) -> None:
        """Record ``reason`` as the job's failure and queue its ``failed`` status."""
        payload = None
        try:
            job_directory = self.manager.job_directory(job_id)
            # Only a directory this message created (nothing launched) may be marked failed.
            exists = job_directory.exists() and not job_directory.state(READER).submitted()
        except Exception:  # an unusable job id: there is no directory to record anything in
            exists = False
        if exists:
            try:
                self.manager.record_failure(job_id, reason)
                from lwr.manager_endpoint_util import full_status
                payload = full_status(self.manager, job_status.FAILED, job_id)
            except Exception:
                log.exception("job %s: could not record the failure in its directory", job_id)
        if payload is None:
            payload = failed_payload(job_id, reason)
        self.publish_status(job_id, job_status.FAILED, payload, route)


class SetupHandler(_Handler):
    """``setup``: submit the job once; duplicates are acknowledged and ignored.

    ``remember_route(job_id, route)`` runs before the job is submitted, so its
    statuses go back to the exchange the message came from.
    """

    kind = "setup"

    def __init__(self, manager, publish_status=None, remember_route=None):
        super().__init__(manager, publish_status)
        self.remember_route = remember_route or (lambda job_id, route: None)

    def handle(self, body, route=None) -> str:
        """Process one message body; returns ``submitted``, ``duplicate`` or ``rejected``."""
        job_id = None
        try:
            body = decode_body(body)
            job_id = _job_id(body)
            if self._known(job_id):
                log.info("job %s: duplicate setup message ignored (the job is already recorded)", job_id)
                return "duplicate"
            self._check_manager(body, job_id)
            self.remember_route(job_id, route)
            return self._submit(job_id, body)
        except MalformedMessage as exc:
            job_id = exc.job_id or job_id
            log.error("manager %s: rejected setup message%s: %s", self.manager.name,
                      " for job %s" % job_id if job_id else "", exc)
            if job_id:
                self._fail(job_id, "LWR rejected the setup message: %s" % exc, route)
            return "rejected"
        except Exception as exc:
            log.exception("job %s: setup failed", job_id)
            self._fail(job_id, "LWR could not set up the job: %s" % exc, route)
            return "rejected"

    def _known(self, job_id) -> bool:
        try:
            job_directory = self.manager.job_directory(job_id)
        except paths.InvalidPath as exc:
            raise MalformedMessage(str(exc), job_id)
        return job_directory.exists() and job_directory.state(READER).submitted()

    def _submit(self, job_id, body) -> str:
        from lwr.manager_endpoint_util import submit_job
        from lwr.managers.base.directory import JobExists
        from lwr.managers.stateful import JobStateConflict

        try:
            submit_job(self.manager, body)
        except JobExists:
            if self._known(job_id):
                return "duplicate"
            # A previous delivery created the directory and died before recording the launch.
            log.info("job %s: directory left by an interrupted setup; continuing it", job_id)
            retry = dict(body)
            retry.pop("setup_params", None)
            try:
                submit_job(self.manager, retry)
            except JobStateConflict:
                return "duplicate"
        except JobStateConflict:
            log.info("job %s: duplicate setup message ignored (%s)", job_id, "already submitted")
            return "duplicate"
        log.info("job %s: accepted from the message queue", job_id)
        return "submitted"


class _JobRequestHandler(_Handler):
    """A message naming one job to act on; an unknown job is logged and ignored (repeats are harmless)."""

    kind = ""
    done = ""

    def act(self, job_id, route):  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self, body, route=None) -> str:
        job_id = None
        try:
            body = decode_body(body)
            job_id = _job_id(body)
            self._check_manager(body, job_id)
            self.act(job_id, route)
            log.info("job %s: %s on request from the message queue", job_id, self.done)
            return self.done
        except UnknownJob as exc:
            log.warning("manager %s: %s for unknown job %s ignored: %s", self.manager.name, self.kind, job_id, exc)
            return "unknown"
        except NotCancelled as exc:
            log.warning("manager %s: %s of job %s not done, the job keeps running: %s", self.manager.name,
                        self.kind, job_id, exc)
            return "not cancelled"
        except MalformedMessage as exc:
            log.error("manager %s: rejected %s message: %s", self.manager.name, self.kind, exc)
            return "rejected"
        except Exception:
            log.exception("job %s: %s failed", job_id, self.kind)
            return "rejected"


class KillHandler(_JobRequestHandler):
    """``kill``: cancel a job."""

    kind = "kill"
    done = "killed"

    def act(self, job_id, route):
        self.manager.kill(job_id)


class CleanHandler(_JobRequestHandler):
    """``clean``: delete a job's directory (Galaxy's cleanup_job policy over MQ; not in LWR 0.2.0)."""

    kind = "clean"
    done = "cleaned"

    def act(self, job_id, route):
        self.manager.clean(job_id)


class StatusRequestHandler(_JobRequestHandler):
    """``status`` (``{"request": "status", "job_id"}``): publish the job's current status, whatever it is.

    The answer goes to the exchange the request came from.  A job this LWR
    does not know is answered ``lost``, as the HTTP status route does.
    """

    kind = "status request"
    done = "status queued"

    def act(self, job_id, route):
        from lwr.manager_endpoint_util import full_status

        try:
            current = self.manager.get_status(job_id)
        except UnknownJob:
            log.warning("manager %s: status requested for unknown job %s; answering lost", self.manager.name,
                        job_id)
            self.publish_status(job_id, job_status.LOST,
                                failed_payload(job_id, "LWR has no job %s" % job_id, job_status.LOST), route)
            return
        self.publish_status(job_id, current, full_status(self.manager, current, job_id), route)
