"""``[app:main]`` of ``server.ini``: every option the app reads, declared once.

:func:`validate_app_conf` refuses an unknown option or a bad value with a one-line
:class:`~lwr.options.ConfigurationError`; ``app_factory`` (``paster serve``, uWSGI, gunicorn)
and ``lwr-daemon`` call it before anything is built.  The docs' table of these options is
generated from :data:`APP_OPTIONS` (``docs/_ext/lwr_options.py``).
"""
from typing import Mapping, Optional

from lwr.lwr_client.progress import parse_size
from lwr.lwr_client.transport.retry import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BUDGET,
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_JITTER,
    DEFAULT_MAX_BACKOFF,
    JITTERS,
)
from lwr.managers.options import MANAGER_OPTIONS
from lwr.messaging.options import MESSAGE_QUEUE_OPTIONS
from lwr.objectstore.config import load_config
from lwr.options import (
    BOOL,
    DURATION,
    OCTAL,
    PATH,
    STRING,
    ConfigurationError,
    Kind,
    Option,
    OptionSet,
    choice,
    integer,
    number,
)

__all__ = ["APP_OPTIONS", "APP_SECTION", "validate_app_conf"]

APP_SECTION = "app:main"

BYTES = Kind("bytes", parse_size, "a number of bytes, optionally with K, M, G or T (powers of 1024)")

_GENERAL = [
    Option("staging_directory", PATH, "lwr_staging",
           "Directory under which each job gets its own directory (inputs, outputs, working, ...)."),
    Option("private_key", STRING, None,
           "Shared secret every client request must carry (Galaxy's private_token). Required when the "
           "server listens beyond loopback, unless allow_unauthenticated is true."),
    Option("allow_unauthenticated", BOOL, False,
           "true lets a server without private_key listen beyond loopback (logged as a warning at every "
           "start): anyone who can reach the port may then run any command as the server's user."),
    Option("persistence_directory", PATH, "persisted_data",
           "Where managers remember active jobs across server restarts."),
    Option("job_managers_config", PATH, None,
           "job_managers.ini defining the managers. Unset: one queued_python manager named _default_."),
    Option("assign_ids", choice("galaxy", "uuid"), "galaxy",
           "galaxy keeps the client's job id; uuid gives every job a fresh UUID (shared servers)."),
    Option("debug", BOOL, False, "true keeps job directories after clean requests."),
    Option("cleanup_after", DURATION, None,
           "Remove finished jobs no client cleaned this long after they ended (7d, 12h, 30m, 45s)."),
    Option("cleanup_unsubmitted_after", DURATION, None,
           "Remove jobs set up but never submitted once nothing in them changed for this long."),
    Option("cleanup_interval", DURATION, "10m", "How often job directories are checked for retention."),
    Option("healthz_min_free_bytes", BYTES, "100M",
           "/healthz answers 503 when the file system of staging_directory has less free space; 0 disables."),
    Option("metrics", BOOL, True,
           "GET /metrics serves Prometheus metrics (docs/metrics.rst); false counts nothing and answers 404."),
    Option("metrics_allow_loopback_without_token", BOOL, False,
           "true serves /metrics without private_key to requests from a loopback address that carry no "
           "proxy header (X-Forwarded-For, Forwarded, X-Real-IP); every other route still needs the token."),
]

_TOOLS = [
    Option("tool_dependency_dir", PATH, "dependencies",
           "Galaxy-style tool dependencies: <dir>/<name>/<version>/env.sh."),
    Option("dependency_resolvers_config_file", PATH, "dependency_resolvers_conf.xml",
           "Dependency resolvers XML file (read only if it exists)."),
    Option("tool_config_files", STRING, None,
           "Galaxy tool configuration(s), comma-separated, restricting what clients may run."),
    Option("tool_config_file", STRING, None, "Accepted as another name for tool_config_files."),
    Option("allowed_env_files", STRING, None,
           "On a restricted server: files a client's env entries may source, one per line."),
    Option("allowed_env_commands", STRING, None,
           "On a restricted server: commands a client's env entries may run, one per line."),
    Option("allowed_native_specifications", STRING, None,
           "On a restricted server: DRMAA native specifications a client may pass, one per line."),
    Option("job_metrics_config_file", PATH, "job_metrics_conf.xml",
           "Job metrics plugins (Galaxy's job_metrics_conf.xml; read only if it exists)."),
]

_GALAXY = [
    Option("galaxy_home", PATH, None,
           "Galaxy installation for jobs setting metadata on this server (default: $GALAXY_HOME)."),
    Option("galaxy_virtual_env", PATH, None, "Galaxy's virtualenv for those jobs (default: $GALAXY_VIRTUAL_ENV)."),
    Option("galaxy_config_file", PATH, None, "Galaxy configuration handed to metadata jobs."),
    Option("galaxy_dataset_files_path", PATH, None, "Galaxy's dataset directory handed to metadata jobs."),
    Option("galaxy_datatypes_config_file", PATH, None, "Galaxy's datatypes configuration for metadata jobs."),
]

_STORAGE = [
    Option("file_cache_dir", PATH, None, "Experimental input file cache shared between jobs."),
    Option("partial_upload_idle_timeout", number(positive=True), "86400",
           "Seconds an unfinished resumable upload may sit untouched before it is removed (docs/transfers.rst)."),
    Option("object_store_config_file", PATH, None,
           "Serve a Galaxy object store (XML or YAML config) at /objects/...; unset: no object store."),
    Option("object_store_file_path", PATH, "database/files",
           "files_dir of a top-level disk store whose configuration names none."),
    Option("object_store_job_working_directory", PATH, None, "Default extra_dir of type job_work."),
    Option("object_store_new_file_path", PATH, None, "Default extra_dir of type temp."),
    Option("object_store_umask", OCTAL, None, "Umask for files and directories the store creates."),
]

_STATUS = [
    Option("job_history_file", PATH, None,
           "SQLite file keeping finished jobs' summaries for the status page (docs/status_page.rst). "
           "Default: job_history.sqlite in persistence_directory."),
    Option("job_history_max_days", number(minimum=0), 30,
           "Finished jobs older than this many days are dropped from the job history."),
    Option("job_history_max_rows", integer(minimum=0), 10000,
           "At most this many finished jobs are kept in the job history (the oldest go first); 0 turns it off."),
]

#: The retry budget of the server's own requests (remote_transfer to and from Galaxy's job files API).
_TRANSFERS = [
    Option("retry_max_attempts", integer(1), DEFAULT_ATTEMPTS,
           "Most attempts per remote_transfer request, the first included."),
    Option("retry_initial_backoff", number(minimum=0), DEFAULT_INITIAL_BACKOFF,
           "Seconds of the first wait before a retry; each further wait may be twice as long."),
    Option("retry_max_backoff", number(minimum=0), DEFAULT_MAX_BACKOFF,
           "Longest wait in seconds between two attempts."),
    Option("retry_budget", number(minimum=0), DEFAULT_BUDGET,
           "Seconds after a request's first attempt when no further attempt starts (0: no time limit); "
           "the default rides out a restart of Galaxy."),
    Option("retry_jitter", choice(*JITTERS), DEFAULT_JITTER,
           "Spreading of the waits: full, decorrelated or none (see Retry budgets)."),
]

#: Keys PasteDeploy, uWSGI or an older sample put into [app:main] that are not options.
_STRUCTURAL = ("use", "paste.app_factory", "paste.filter_factory", "paste.composite_factory",
               "filter-with", "here", "__file__")

APP_OPTIONS = OptionSet("app", _GENERAL + _TOOLS + _GALAXY + _STORAGE + _STATUS + _TRANSFERS
                        + MESSAGE_QUEUE_OPTIONS,
                        ignored_keys=_STRUCTURAL, where_documented="see docs/configure.rst",
                        title="[app:main]")


def validate_app_conf(conf: Mapping[str, object], file: Optional[str] = None,
                      section: str = APP_SECTION) -> dict:
    """Typed values of ``conf``; :class:`~lwr.options.ConfigurationError` on the first mistake."""
    conf = {k: v for k, v in conf.items() if v is not None}
    for key in conf:
        if key not in APP_OPTIONS and key not in APP_OPTIONS.ignored_keys and not APP_OPTIONS.nearest(key):
            manager_option = _manager_option(key)
            if manager_option:
                raise ConfigurationError("unknown option %s (%s is a job manager option: set it in a "
                                         "[manager:NAME] section of job_managers_config)" % (key, manager_option),
                                         file, section, key)
    options = APP_OPTIONS.validate(conf, file, section)
    if options.get("object_store_config_file"):
        load_config(options["object_store_config_file"])  # refuses an unknown key or a bad value in it
    if options.get("message_queue_url"):
        from lwr.messaging.routes import (
            parse_exchanges,  # here: the AMQP client code only for an MQ server
        )
        try:
            parse_exchanges(conf, [])
        except ValueError as exc:
            raise ConfigurationError(str(exc), file, section, "amqp_exchange") from None
    return options


def _manager_option(key):
    for options in MANAGER_OPTIONS.values():
        if key in options:
            return key
        nearest = options.nearest(key)
        if nearest:
            return nearest
    return None
