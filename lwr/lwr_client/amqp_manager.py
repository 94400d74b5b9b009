"""Message-queue clients (spec §6.7): Galaxy publishes ``setup``/``kill``, consumes ``status_update``.

The client cannot reach the LWR, so destinations need ``jobs_directory``
(local setup) and remote file actions (``remote_transfer`` / ``remote_copy``);
the LWR fetches inputs and pushes outputs itself.

Status updates are de-duplicated here: the LWR publishes at least once (it
republishes anything the broker did not confirm), and the callback sees each
job's ``running`` at most once and exactly one terminal status.
"""
import base64
import collections
import json
import logging
import shlex
import threading

from lwr.lwr_client.amqp_acks import ACK_FORCE_NOACK_KEY, InvalidAckRequest, ack_request, answer_ack
from lwr.lwr_client.amqp_exchange import LwrExchange, parse_amqp_options
from lwr.lwr_client.client import BaseJobClient
from lwr.lwr_client.destination import submit_params
from lwr.lwr_client.exceptions import LwrClientError

__all__ = ["MessageQueueClientManager", "BaseMessageJobClient", "MessageJobClient", "MessageCLIJobClient",
           "TERMINAL_STATUSES"]

log = logging.getLogger(__name__)

TERMINAL_STATUSES = ("complete", "failed", "lost", "cancelled")
#: How many finished jobs the de-duplication remembers.
DEDUPLICATION_MEMORY = 100000


class MessageQueueClientManager:
    """``build_client_manager(url=<amqp url>, manager=..., amqp_*=...)``.

    ``amqp_exchange`` (default ``lwr``, what LWR 0.2.0 servers use) and
    ``amqp_key_prefix`` pick the queue names; ``amqp_exchange="pulsar"``
    talks to Pulsar servers.
    """

    def __init__(self, url, manager="_default_", **kwds):
        amqp_conf = {key: value for key, value in kwds.items() if key.startswith("amqp_")}
        self.url = url
        self.manager_name = manager or "_default_"
        self.exchange = LwrExchange(url, self.manager_name, exchange_name=amqp_conf.get("amqp_exchange") or "lwr",
                                    amqp_key_prefix=amqp_conf.get("amqp_key_prefix"),
                                    **parse_amqp_options(amqp_conf))
        self.status_cache = {}
        self.callback = None
        self.active = True
        self._seen = collections.OrderedDict()  # job_id -> set of statuses already delivered
        self._lock = threading.Lock()
        self._consumer = None
        self._connected = threading.Event()

    # -- status updates ------------------------------------------------------------------------
    def ensure_has_status_update_callback(self, callback) -> None:
        """Call ``callback(status_dict)`` for each new status; starts the consumer thread once."""
        self.callback = callback
        self._ensure_consuming()

    def _ensure_consuming(self):
        with self._lock:
            if self._consumer is not None:
                return
            self._consumer = threading.Thread(target=self._consume, name="lwr-mq-status-%s" % self.manager_name,
                                              daemon=True)
            self._consumer.start()

    def _consume(self):
        self.exchange.consume("status_update", self._on_message, check=lambda: self.active,
                              on_connected=self._connected.set)

    def wait_connected(self, timeout=None) -> bool:
        """True once the status consumer is connected (tests and tools that must not race it)."""
        self._ensure_consuming()
        return self._connected.wait(timeout)

    def _on_message(self, message):
        try:
            body = json.loads(message.body if isinstance(message.body, str)
                              else bytes(message.body).decode("utf-8"))
            if not isinstance(body, dict) or not body.get("job_id") or not body.get("status"):
                raise ValueError("not a status object with job_id and status")
            if self._record(body):
                callback = self.callback
                if callback is not None:
                    try:
                        callback(body)
                    except Exception:
                        log.exception("status update callback failed for job %s", body.get("job_id"))
            self._answer_ack(body)
        except ValueError as exc:
            log.error("ignoring malformed status update: %s", exc)
        finally:
            message.ack()

    def _answer_ack(self, body):
        """A server with ``amqp_acknowledge`` on republishes a status until it is acknowledged."""
        try:
            request = ack_request(body)
            if request is not None:
                answer_ack(self.exchange, *request)
        except InvalidAckRequest as exc:
            log.error("job %s: status update asks for an acknowledgement that cannot be sent: %s",
                      body.get("job_id"), exc)
        except Exception as exc:
            log.warning("job %s: acknowledging its status update failed (%s: %s); the server will send it "
                        "again", body.get("job_id"), type(exc).__name__, exc)

    def _record(self, body) -> bool:
        """Cache ``body``; True if it is news (not a repeat, nothing after a terminal status)."""
        job_id, status = str(body["job_id"]), body["status"]
        with self._lock:
            seen = self._seen.get(job_id)
            if seen is None:
                seen = self._seen[job_id] = set()
                while len(self._seen) > DEDUPLICATION_MEMORY:
                    self._seen.popitem(last=False)
            if status in seen or seen.intersection(TERMINAL_STATUSES):
                log.debug("job %s: duplicate %s status dropped", job_id, status)
                return False
            seen.add(status)
            self.status_cache[job_id] = body
        return True

    def delivered_statuses(self, job_id) -> list:
        with self._lock:
            return sorted(self._seen.get(str(job_id), ()))

    # -- clients -------------------------------------------------------------------------------
    def get_client(self, destination_params, job_id, **kwargs):
        if job_id is None:
            raise LwrClientError("a message queue client needs a job_id")
        destination_params = dict(destination_params or {})
        destination_params.update(kwargs)
        if destination_params.get("shell_plugin"):
            return MessageCLIJobClient(destination_params, job_id, self)
        return MessageJobClient(destination_params, job_id, self)

    def shutdown(self) -> None:
        self.active = False
        consumer = self._consumer
        if consumer is not None:
            consumer.join(5)
        self.exchange.close()


class BaseMessageJobClient(BaseJobClient):
    """Needs ``jobs_directory``: the job is laid out locally and staged by the server."""

    def __init__(self, destination_params, job_id, client_manager):
        if not (destination_params or {}).get("jobs_directory"):
            raise LwrClientError("message queue destinations need jobs_directory (the LWR's staging "
                                 "directory), since the client cannot ask the server for it")
        super().__init__(destination_params, job_id)
        self.client_manager = client_manager
        self.launched = False

    def setup_message(self, command_line, dependencies_description=None, env=(), remote_staging=None,
                      job_config=None) -> dict:
        """The ``setup`` body: dicts travel as JSON objects, not strings."""
        message = {"command_line": command_line, "job_id": self.job_id}
        submit = submit_params(self.destination_params)
        if submit:
            message["submit_params"] = submit
        if dependencies_description:
            if hasattr(dependencies_description, "to_dict"):
                dependencies_description = dependencies_description.to_dict()
            message["dependencies_description"] = dependencies_description
        if env:
            message["env"] = list(env)
        if remote_staging:
            message["remote_staging"] = remote_staging
        job_config = job_config or {}
        message["setup_params"] = {"job_id": self.job_id, "tool_id": job_config.get("tool_id"),
                                   "tool_version": job_config.get("tool_version")}
        return message

    def full_status(self) -> dict:
        """The last status received; ``preprocessing`` while a launched job has reported nothing yet."""
        self.client_manager._ensure_consuming()
        cached = self.client_manager.status_cache.get(self.job_id)
        if cached is not None:
            return cached
        if not self.launched:
            raise LwrClientError("no status received for job %s (it was not launched by this client)"
                                 % self.job_id)
        return {"job_id": self.job_id, "complete": "false", "status": "preprocessing"}

    raw_check_complete = full_status

    def get_status(self) -> str:
        return self.full_status()["status"]

    def clean(self):
        """Ask the LWR to delete the job's directory (``clean`` queue) and forget the cached status.

        LWR 0.2.0 only forgot the status, leaving job directories behind for good.
        """
        self.client_manager.exchange.publish("clean", {"job_id": self.job_id})
        self.client_manager.status_cache.pop(self.job_id, None)

    def put_file(self, *args, **kwds):
        raise LwrClientError("message queue job %s: files must use remote_transfer or remote_copy actions "
                             "(the client cannot upload to the LWR)" % self.job_id)

    def fetch_output(self, path, name=None, working_directory=None, action_type="transfer",
                     output_type="output"):
        if action_type in ("transfer", "copy"):
            raise LwrClientError("message queue job %s: output %s needs a remote_transfer or remote_copy "
                                 "action (the client cannot download from the LWR)" % (self.job_id, path))


class MessageJobClient(BaseMessageJobClient):
    """Publishes ``setup`` and ``kill`` to the manager's queues (confirmed by the broker)."""

    def launch(self, command_line, dependencies_description=None, env=(), remote_staging=None,
               job_config=None):
        message = self.setup_message(command_line, dependencies_description, env, remote_staging, job_config)
        self.client_manager._ensure_consuming()
        self.client_manager.exchange.publish("setup", message)
        self.launched = True

    def kill(self):
        self.client_manager.exchange.publish("kill", {"job_id": self.job_id})

    def request_status(self):
        """Ask the server to publish this job's current status (``status`` queue; any state)."""
        self.client_manager.exchange.publish("status", {"request": "status", "job_id": self.job_id,
                                                        ACK_FORCE_NOACK_KEY: True})


class MessageCLIJobClient(BaseMessageJobClient):
    """Starts ``scripts/submit.bash --base64 ...`` over a CLI shell (``shell_plugin``, e.g. SecureShell)."""

    def __init__(self, destination_params, job_id, client_manager):
        super().__init__(destination_params, job_id, client_manager)
        self.remote_lwr_path = destination_params.get("remote_lwr_path")
        if not self.remote_lwr_path:
            raise LwrClientError("a shell_plugin destination needs remote_lwr_path (the LWR checkout "
                                 "on the remote host)")
        from lwr.managers.util.cli import CliInterface  # the CLI variant needs the full lwr package
        shell_params = {key[len("shell_"):]: value for key, value in destination_params.items()
                        if key.startswith("shell_")}
        self.shell = CliInterface.get_shell_plugin(shell_params)

    def launch_command(self, message) -> str:
        """``nohup <remote_lwr_path>/scripts/submit.bash --base64 <job> [--ini_path --app --manager] &``.

        ``remote_lwr_ini_path`` / ``remote_lwr_app`` (destination parameters) pick
        the remote configuration; the manager is the client manager's.
        """
        encoded = base64.b64encode(json.dumps(message).encode("utf-8")).decode("ascii")
        argv = ["%s/scripts/submit.bash" % self.remote_lwr_path.rstrip("/"), "--base64", encoded]
        for option, key in (("--ini_path", "remote_lwr_ini_path"), ("--app", "remote_lwr_app")):
            if self.destination_params.get(key):
                argv += [option, str(self.destination_params[key])]
        if self.client_manager.manager_name != "_default_":
            argv += ["--manager", self.client_manager.manager_name]
        return "nohup %s > /dev/null 2>&1 &" % " ".join(shlex.quote(part) for part in argv)

    def launch(self, command_line, dependencies_description=None, env=(), remote_staging=None,
               job_config=None):
        message = self.setup_message(command_line, dependencies_description, env, remote_staging, job_config)
        # The job does not arrive over a queue: tell the LWR which exchange this client reads statuses on.
        message["amqp_exchange"] = self.client_manager.exchange.exchange_name
        self.client_manager._ensure_consuming()
        result = self.shell.execute(self.launch_command(message))
        if result.returncode != 0:
            raise LwrClientError("starting submit.bash for job %s failed (exit %s): %s"
                                 % (self.job_id, result.returncode, result.stderr.strip()))
        self.launched = True

    def kill(self):
        log.warning("job %s: kill is not supported for shell-launched message queue jobs", self.job_id)

    def clean(self):
        # A shell-launched job may have no LWR daemon consuming this manager's queues.
        self.client_manager.status_cache.pop(self.job_id, None)
