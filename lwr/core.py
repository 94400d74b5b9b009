"""``LwrApp``: the server's objects built from ``server.ini``'s ``[app:main]`` (spec §1.1)."""
import logging
import os
import time

from lwr import log_ring
from lwr.app_options import validate_app_conf
from lwr.health import HealthCheck
from lwr.history import HistoryRecorder, JobHistory
from lwr.lifecycle import Threads
from lwr.locks import LockManager
from lwr.lwr_client.transport.retry import RetryPolicy, set_default_retry
from lwr.manager_factory import build_managers
from lwr.managers.base import leftovers
from lwr.managers.base.reaper import DirectoryReaper
from lwr.managers.retention import JobReaper, RetentionPolicy
from lwr.managers.util.metrics import JobMetrics
from lwr.metrics import build_metrics
from lwr.options import ConfigurationError
from lwr.tools.authorization import get_authorizer
from lwr.tools.deps import DependencyManager
from lwr.tools.restrictions import POLICY_OPTIONS, RestrictionPolicy
from lwr.util import asbool
from lwr.util.malloc import limit_malloc_arenas

__all__ = ["LwrApp", "DEFAULT_PRIVATE_KEY"]

log = logging.getLogger(__name__)

DEFAULT_PRIVATE_KEY = None
DEFAULT_STAGING_DIRECTORY = "lwr_staging"
DEFAULT_PERSISTENCE_DIRECTORY = "persisted_data"
#: Seconds before an untouched partial upload is removed (lwr.web.resumable sweeps).
DEFAULT_PARTIAL_IDLE_TIMEOUT = 24 * 3600.0


def _configured(build, *args):
    """``build(*args)``, its ``ValueError`` (a bad option value) turned into the one-line
    :class:`ConfigurationError` a start is refused with."""
    try:
        return build(*args)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


class LwrApp:
    """Holds managers, file cache, authorizer and message-queue binding; knows nothing of HTTP.

    Building it starts no thread: :meth:`start` does (managers' workers and monitors, the
    recovery of active jobs, the directory reaper, retention), :meth:`shutdown` stops and joins
    them.  Every thread is created through :attr:`threads` (:class:`lwr.lifecycle.Threads`).
    """

    def __init__(self, global_conf=None, **conf):
        limit_malloc_arenas()  # before this app's threads exist (see lwr.util.malloc)
        self.threads = Threads("lwr app")
        self._started = False
        self.started_at = time.time()
        self.log_ring = log_ring.install()  # the status page's last warnings and errors
        conf = {k: v for k, v in conf.items() if v is not None}
        validate_app_conf(conf)  # declared options only (lwr.app_options): a typo is refused, not ignored
        self.config = conf
        self.global_conf = global_conf or {}
        self.staging_directory = os.path.abspath(conf.get("staging_directory", DEFAULT_STAGING_DIRECTORY))
        self.private_key = conf.get("private_key") or DEFAULT_PRIVATE_KEY
        self.persistence_directory = os.path.abspath(
            conf.get("persistence_directory", DEFAULT_PERSISTENCE_DIRECTORY))
        os.makedirs(self.persistence_directory, exist_ok=True)
        self.partial_upload_idle_timeout = self._partial_upload_idle_timeout(conf)
        retention_policy = _configured(RetentionPolicy.from_config, conf)
        self.job_history = _configured(JobHistory.from_config, conf, self.persistence_directory)
        self.history_recorder = HistoryRecorder(self.job_history, self.staging_directory)
        self.retry_policy = self._build_retry_policy(conf)
        self.health = _configured(HealthCheck.from_config, self, conf)
        self.metrics = _configured(build_metrics, self, conf)
        # Before any manager exists: what is older than this mark was left by an earlier server.
        started_ns = leftovers.mark_start(self.staging_directory)
        self.lock_manager = LockManager()
        self.reaper = DirectoryReaper(self.threads)
        self.authorizer = self._build_authorizer(conf)
        self.object_store = self._build_object_store(conf, self.staging_directory)
        self.dependency_manager = self._build_dependency_manager(conf)
        self.job_metrics = self._build_job_metrics(conf)
        self.managers = build_managers(self, conf)
        for manager in self.managers.values():
            manager.add_phase_listener(self.history_recorder)  # the status page's job history
        if self.metrics is not None:
            self.metrics.watch_managers(self.managers, self.staging_directory)
        self.file_cache = self._build_file_cache(conf)
        self.message_queue_binding = None
        if conf.get("message_queue_url"):
            from lwr.messaging import bind_app  # here: only a message-queue server loads the AMQP modules
            try:
                self.message_queue_binding = bind_app(self, conf["message_queue_url"], conf)
            except Exception:  # a refused option: stop the managers' threads before reporting it
                for manager in self.managers.values():
                    manager.shutdown()
                raise
        publishes = bool(conf.get("message_queue_url")) and asbool(conf.get("message_queue_publish"), True)
        self.job_reaper = JobReaper(self.staging_directory, self.managers, retention_policy, started_ns,
                                    self.lock_manager, honour_pending_publication=publishes,
                                    threads=self.threads, reaper=self.reaper)

    def start(self) -> "LwrApp":
        """Start the app's threads and pick up the jobs an earlier server left active (once)."""
        if self._started:
            return self
        self._started = True
        if self.message_queue_binding is not None:  # first: it hears the state changes of recovered jobs
            self.message_queue_binding.start()
        for manager in self.managers.values():
            manager.start()
        self.job_reaper.start()
        return self

    @staticmethod
    def _partial_upload_idle_timeout(conf):
        """Seconds an unfinished resumable upload may sit untouched (``docs/transfers.rst``)."""
        text = conf.get("partial_upload_idle_timeout")
        if text in (None, ""):
            return DEFAULT_PARTIAL_IDLE_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise ConfigurationError("partial_upload_idle_timeout must be a positive number of seconds, not %r"
                                     % text)
        return value

    @staticmethod
    def _build_retry_policy(conf):
        """The retry budget of this server's own HTTP requests (``remote_transfer`` actions to and
        from Galaxy's job files API): ``retry_*`` options over the built-in defaults."""
        set_default_retry(None)
        policy = _configured(lambda: RetryPolicy.from_environ().with_params(conf))
        set_default_retry(policy)
        return policy

    @property
    def loopback_open_routes(self):
        """Routes served without the token to requests from this host (``metrics_allow_loopback_without_token``)."""
        return ("metrics",) if self.metrics is not None and self.metrics.allow_loopback_without_token else ()

    @staticmethod
    def _build_authorizer(conf):
        tool_configs = conf.get("tool_config_files") or conf.get("tool_config_file")
        if not tool_configs:
            for option in POLICY_OPTIONS:
                if conf.get(option):
                    raise ConfigurationError("%s only applies to a server restricted by tool_config_files"
                                             % option)
        return get_authorizer(tool_configs, RestrictionPolicy.from_config(conf))

    @staticmethod
    def _build_dependency_manager(conf):
        resolvers_file = conf.get("dependency_resolvers_config_file", "dependency_resolvers_conf.xml")
        if not os.path.exists(resolvers_file):
            resolvers_file = None
        return DependencyManager(os.path.abspath(conf.get("tool_dependency_dir", "dependencies")),
                                 resolvers_file)

    @staticmethod
    def _build_job_metrics(conf):
        return JobMetrics.from_file(conf.get("job_metrics_config_file", "job_metrics_conf.xml"))

    @staticmethod
    def _build_object_store(conf, staging_directory):
        config_file = conf.get("object_store_config_file")
        if not config_file:
            return None
        from lwr.objectstore import build_object_store_from_config  # here: only when configured
        umask = conf.get("object_store_umask")
        try:
            umask = int(str(umask), 8) if umask not in (None, "") else None
        except ValueError:
            raise ValueError("object_store_umask must be an octal number such as 0022, not %r" % umask)
        return build_object_store_from_config(
            config_file,
            file_path=conf.get("object_store_file_path", "database/files"),
            job_working_directory=conf.get("object_store_job_working_directory"),
            new_file_path=conf.get("object_store_new_file_path"),
            umask=umask,
            allowed_source_roots=[staging_directory])

    @staticmethod
    def _build_file_cache(conf):
        cache_dir = conf.get("file_cache_dir")
        if not cache_dir:
            return None
        from lwr.cache import Cache  # here: only when configured (the cache loads sqlite3)
        return Cache(cache_dir)

    def shutdown(self, timeout=None):
        """Stop every thread of the app; returns those still running after ``timeout``."""
        self.threads.stopping.set()
        self.job_reaper.shutdown(timeout)
        self.health.close()
        if self.message_queue_binding is not None:
            try:
                self.message_queue_binding.shutdown()
            except Exception:
                log.exception("stopping the message queue binding failed")
        for manager in self.managers.values():
            try:
                manager.shutdown(timeout)
            except Exception:
                log.exception("shutting down manager %s failed", manager.name)
        remaining = self.threads.shutdown(timeout)
        self.job_history.close()  # last: managers finishing jobs at shutdown still record them
        return remaining
