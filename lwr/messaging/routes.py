"""Which queue names the server serves, and on which of them each job's statuses go back.

``amqp_exchange`` lists one or more exchanges (default ``pulsar, lwr``): Galaxy's
stock Pulsar runners publish to ``pulsar`` with keys ``pulsar_<manager>_...``,
LWR 0.2.0 clients (and this package's own client) to ``lwr`` with
``lwr_<manager>_...``.  The server consumes ``setup``/``kill``/``status``/
``clean`` on every exchange listed; ``amqp_key_prefix``, when set, replaces the
derived prefix on the first one (as Galaxy's runner parameter of that name does).

A job's ``status_update`` messages go to the exchange its ``setup`` arrived on,
remembered in ``<persistence_directory>/<manager>-amqp-routes/<job id>``
(written before the job is submitted, so no status can go out before it).
Jobs that did not come over a queue (HTTP, ``lwr_submit``) report on the first
exchange, unless their setup body names another listed one as ``amqp_exchange``.
"""
import logging
import os
from typing import List, Optional

from lwr.lwr_client.amqp_exchange import check_name, queue_name
from lwr.lwr_client.util import ReplacingFile
from lwr.paths import check_job_id

__all__ = ["DEFAULT_EXCHANGES", "parse_exchanges", "RouteBook"]

log = logging.getLogger(__name__)

DEFAULT_EXCHANGES = ("pulsar", "lwr")


def parse_exchanges(conf: dict, manager_names=("_default_",)) -> List[dict]:
    """``[{"exchange_name", "amqp_key_prefix"}, ...]`` from ``amqp_exchange`` / ``amqp_key_prefix``.

    ValueError (naming the option) for a bad name, a repeated exchange, or two
    exchanges whose queue names would be the same.

    >>> [r["exchange_name"] for r in parse_exchanges({})]
    ['pulsar', 'lwr']
    >>> parse_exchanges({"amqp_exchange": "lwr", "amqp_key_prefix": "gx"})
    [{'exchange_name': 'lwr', 'amqp_key_prefix': 'gx'}]
    """
    raw = conf.get("amqp_exchange")
    if raw is None or str(raw).strip() == "":
        names = list(DEFAULT_EXCHANGES)
    else:
        names = [part.strip() for part in str(raw).split(",") if part.strip()]
    if not names:
        raise ValueError("amqp_exchange must name at least one exchange")
    for name in names:
        check_name(name, "amqp_exchange")
    if len(set(names)) != len(names):
        raise ValueError("amqp_exchange lists an exchange twice: %s" % ", ".join(names))
    prefix = conf.get("amqp_key_prefix")
    prefix = check_name(str(prefix).strip(), "amqp_key_prefix") if prefix not in (None, "") else None
    routes = [{"exchange_name": name, "amqp_key_prefix": prefix if index == 0 else None}
              for index, name in enumerate(names)]
    for manager_name in manager_names:
        queues = [queue_name(manager_name, "setup", r["exchange_name"], r["amqp_key_prefix"]) for r in routes]
        if len(set(queues)) != len(queues):
            raise ValueError("amqp_key_prefix %r gives manager %s the same queue names on two exchanges (%s)"
                             % (prefix, manager_name, ", ".join(queues)))
    return routes


class RouteBook:
    """Per job: the exchange its statuses go to (only jobs that did not use the first one are written)."""

    def __init__(self, directory: str, default: str):
        self.directory = directory
        self.default = default
        os.makedirs(directory, exist_ok=True)

    def _path(self, job_id) -> str:
        return os.path.join(self.directory, check_job_id(str(job_id)))

    def remember(self, job_id: str, exchange_name: str) -> None:
        """Durably record ``exchange_name`` for ``job_id`` (a valid job id: it names a file)."""
        path = self._path(job_id)
        if exchange_name == self.default:
            _unlink_quietly(path)
            return
        with ReplacingFile(path, suffix=".tmp", mode=0o666, fsync=True) as handle:
            handle.write(exchange_name.encode("utf-8"))

    def lookup(self, job_id) -> str:
        try:
            with open(self._path(job_id)) as handle:
                return handle.read().strip() or self.default
        except (OSError, ValueError):  # not written (the first exchange), or not a valid job id
            return self.default

    def forget(self, job_id) -> None:
        try:
            _unlink_quietly(self._path(job_id))
        except ValueError:
            pass

    def job_ids(self) -> List[str]:
        return sorted(name for name in os.listdir(self.directory) if not name.startswith("."))

    def sweep(self, job_exists) -> int:
        """Forget the routes of jobs whose directory is gone (cleaned or reaped); returns how many."""
        removed = 0
        for job_id in self.job_ids():
            try:
                exists = job_exists(job_id)
            except Exception:
                exists = False
            if not exists:
                self.forget(job_id)
                removed += 1
        return removed


def route_of_body(body: dict, known, default: str) -> Optional[str]:
    """The ``amqp_exchange`` a setup body that did not come over a queue asks its statuses on."""
    wanted = body.get("amqp_exchange") if isinstance(body, dict) else None
    if wanted in (None, ""):
        return default
    if wanted not in known:
        log.warning("job %s: its setup asks for statuses on exchange %r, which this LWR does not serve (%s); "
                    "using %s", body.get("job_id"), wanted, ", ".join(known), default)
        return default
    return wanted


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
