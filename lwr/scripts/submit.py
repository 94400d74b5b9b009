"""``lwr_submit`` (``scripts/submit.bash``): run one job from a setup message, without any queue consumer.

The job description is the message-queue ``setup`` body (spec §6.7), read from
``--file`` or ``--base64``.  The app is built with ``message_queue_consume=False``,
so when ``message_queue_url`` is set the job's statuses are still published;
the script waits until the job is done and those statuses are confirmed.
Exit status: 0 when the job completed, 1 otherwise.

``--retry_budget`` and the other ``--retry_*`` options override ``server.ini``'s options of the
same names for the job's ``remote_transfer`` requests.

Files the job's ``remote_transfer`` actions fetch from Galaxy, and outputs sent back, are
shown on standard error with their rate and ETA when it is a terminal, or with ``--progress``.
"""
import argparse
import base64
import binascii
import json
import logging
import sys
import time

from lwr.lwr_client.progress import display_for, set_default_progress
from lwr.lwr_client.transport import retry
from lwr.manager_endpoint_util import submit_job
from lwr.managers import status
from lwr.scripts.config import ConfigError, LwrManagerConfigBuilder, load_lwr_app

__all__ = ["main", "read_job_config"]

log = logging.getLogger("lwr.submit")

DEFAULT_POLL_INTERVAL = 2.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lwr-submit",
                                     description="Submit one job to an LWR manager and wait for it to finish.")
    LwrManagerConfigBuilder.populate_options(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", help="JSON file with the job description (a setup message)")
    source.add_argument("--base64", help="the job description as base64-encoded JSON")
    parser.add_argument("--poll_interval", type=float, default=DEFAULT_POLL_INTERVAL,
                        help="seconds between status checks (default %(default)s)")
    parser.add_argument("--progress", action="store_true",
                        help="show file transfers (rate, ETA) on standard error even when it is not a "
                             "terminal (on a terminal they are always shown)")
    retry.add_arguments(parser, "the job's remote_transfer requests to Galaxy (overriding server.ini)")
    return parser


def read_job_config(file_path=None, base64_text=None) -> dict:
    """The job description dict; ValueError names what is wrong with it."""
    try:
        if file_path:
            with open(file_path, "rb") as handle:
                raw = handle.read()
        else:
            raw = base64.b64decode(base64_text.encode("ascii"), validate=True)
        config = json.loads(raw.decode("utf-8"))
    except (OSError, binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError("cannot read the job description: %s" % exc)
    if not isinstance(config, dict) or not config.get("job_id"):
        raise ValueError("the job description must be a JSON object with a job_id")
    return config


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    builder = LwrManagerConfigBuilder(args)
    try:
        job_config = read_job_config(args.file, args.base64)
        retry_params = retry.arguments_params(args)
        builder.setup_logging()
        app = load_lwr_app(builder, message_queue_consume=False, **retry_params)
    except (ConfigError, ValueError) as exc:
        print("lwr-submit: error: %s" % exc, file=sys.stderr)
        return 1
    # The manager's staging threads transfer in this process: the display sees every file.
    display = display_for(sys.stderr, force=args.progress)
    set_default_progress(display)
    try:
        return _run(app, builder.manager, job_config, args.poll_interval, display)
    finally:
        set_default_progress(None)
        if display is not None:
            display.close()
        app.shutdown()


def _run(app, manager_name, job_config, poll_interval, display=None) -> int:
    manager = app.managers.get(manager_name)
    if manager is None:
        print("lwr-submit: error: no manager %r (have %s)" % (manager_name, ", ".join(sorted(app.managers))),
              file=sys.stderr)
        return 1
    job_id = str(job_config["job_id"])
    binding = getattr(app, "message_queue_binding", None)
    if binding is not None:
        binding.remember_route(manager_name, job_id, job_config)  # before any status can be published
    submit_job(manager, job_config)
    log.info("job %s submitted to manager %s", job_id, manager_name)
    while True:
        state = manager.get_status(job_id)
        if status.is_job_done(state):
            break
        time.sleep(max(poll_interval, 0.05))
    if binding is not None and hasattr(binding, "wait_published") and not binding.wait_published():
        log.warning("job %s: its final status is not yet confirmed by the broker; it stays in the outbox "
                    "and is sent by the next LWR started with this persistence_directory", job_id)
    if display is not None:
        display.clear()
    print("job %s: %s" % (job_id, state))
    return 0 if state == status.COMPLETE else 1


if __name__ == "__main__":
    sys.exit(main())
