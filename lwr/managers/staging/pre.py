"""Before launch: carry out the client's remote setup actions (remote_copy, remote_transfer, message)."""
import logging
import os
import time

__all__ = ["preprocess", "ALLOWED_SETUP_ACTIONS"]

log = logging.getLogger(__name__)

ALLOWED_SETUP_ACTIONS = ("remote_copy", "remote_transfer", "message")


class StagingError(Exception):
    """A setup action could not be carried out; the message is shown to the client."""


def preprocess(job_directory, setup_actions, observe=None) -> None:
    """Write every staged file into the job directory; raise :class:`StagingError` on the first failure.

    ``observe(direction, file_type, size, seconds)``, when given, is told of each file staged
    (the app's metrics, :meth:`lwr.metrics.AppMetrics.staged`)."""
    if not setup_actions:
        return
    from lwr.lwr_client.action_mapper import from_dict

    for setup_action in setup_actions:
        if not isinstance(setup_action, dict):
            raise StagingError("setup action %r is not an object" % (setup_action,))
        name = setup_action.get("name")
        input_type = setup_action.get("type")
        action_description = setup_action.get("action") or {}
        action_type = action_description.get("action_type")
        if action_type not in ALLOWED_SETUP_ACTIONS:
            raise StagingError("setup action for %r has action_type %r; expected one of %s"
                               % (name, action_type, ", ".join(ALLOWED_SETUP_ACTIONS)))
        path = job_directory.calculate_path(name, input_type)
        action = from_dict(action_description)
        log.debug("staging %s %s into %s", action_type, name, path)
        started = time.monotonic()
        try:
            action.write_to_path(path)
        except Exception as exc:
            raise StagingError("staging %s file %r (%s) failed: %s" % (input_type, name, action_type, exc))
        if observe is not None:
            observe("in", input_type, _size(path), time.monotonic() - started)


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
