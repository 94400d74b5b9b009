"""The WSGI application Paste loads: ``paste.app_factory = lwr.web.wsgi:app_factory``."""
import atexit
import logging
import sys

from lwr.app_options import validate_app_conf
from lwr.core import LwrApp
from lwr.lwr_client.route_table import ROUTES
from lwr.manager_factory import check_managers_config
from lwr.manager_endpoint_util import SubmitRefused
from lwr.managers.base.directory import JobExists, UnknownFileType
from lwr.managers.stateful import JobStateConflict, UnknownJob
from lwr.managers.util.job_script import InvalidEnvironment
from lwr.metrics.http import MetricsMiddleware
from lwr.objectstore import InvalidObjectRequest, ObjectNotFound
from lwr.options import ConfigurationError
from lwr.paths import InvalidPath
from lwr.tools.authorization import AuthorizationError
from lwr.tools.deps import InvalidDependencies
from lwr.web import object_store_routes, routes, status_page
from lwr.web.access_log import AccessLogMiddleware, install_secret_masking
from lwr.web.exposure import check_authentication
from lwr.web.framework import RoutingApp, bind_routes
from lwr.web.http_io import MalformedChunk

__all__ = ["app_factory", "check_app_conf", "LwrWebApp", "EXCEPTION_STATUS"]

log = logging.getLogger(__name__)


#: Exceptions from managers and path checks -> HTTP status (the message is the exception text).
EXCEPTION_STATUS = [
    (InvalidPath, 400),
    (UnknownFileType, 400),
    (InvalidEnvironment, 400),
    (SubmitRefused, 400),
    (UnknownJob, 404),
    (JobExists, 409),
    (JobStateConflict, 409),
    (InvalidObjectRequest, 400),
    (ObjectNotFound, 404),
    (MalformedChunk, 400),
]


def exception_map():
    return EXCEPTION_STATUS + [(AuthorizationError, 403), (InvalidDependencies, 400)]


#: The modules holding a handler, of the same name, for each route of the declared table.
ROUTE_HANDLERS = (routes, object_store_routes, status_page)


class LwrWebApp(RoutingApp):
    """Routes bound to an :class:`LwrApp`; unknown attributes are the LwrApp's."""

    def __init__(self, lwr_app):
        super().__init__(lwr_app, bind_routes(ROUTES, ROUTE_HANDLERS), exception_map(),
                         unauthorized=status_page.login_form_response)
        self.lwr_app = lwr_app

    def __getattr__(self, name):
        return getattr(self.lwr_app, name)

    def shutdown(self):
        self.lwr_app.shutdown()


def check_app_conf(global_conf, local_conf) -> dict:
    """Every check ``app_factory`` makes before building anything: the declared options, the job
    managers file, the object store file and ``private_key`` against where the server listens."""
    config_file = global_conf.get("__file__")
    options = validate_app_conf(local_conf, config_file)
    check_managers_config(local_conf)
    check_authentication(local_conf.get("private_key"), options.get("allow_unauthenticated", False), config_file)
    return options


#: gunicorn's arbiter stops (instead of starting the worker again, forever) on this exit status.
_GUNICORN_WORKER_BOOT_ERROR = 3


def _refusal(message: str) -> SystemExit:
    """The one line as the process's last word: ``SystemExit(message)`` prints it and exits 1
    (paster, uWSGI, lwr-daemon); a gunicorn worker prints it and exits with the status that
    makes the arbiter give up."""
    if "gunicorn.workers.base" in sys.modules:
        print(message, file=sys.stderr, flush=True)
        return SystemExit(_GUNICORN_WORKER_BOOT_ERROR)
    return SystemExit(message)


def app_factory(global_conf, **local_conf):
    """PasteDeploy entry point: build the app from ``[app:main]`` options (all strings).

    A configuration mistake ends the process with one line (``SystemExit``: no traceback from
    ``paster serve``, uWSGI or gunicorn) naming the file, the section and the option.
    """
    install_secret_masking([local_conf.get("private_key"), local_conf.get("private_token")])
    config_file = global_conf.get("__file__")
    try:
        check_app_conf(global_conf, local_conf)
        lwr_app = LwrApp(global_conf=global_conf, **local_conf).start()
    except ConfigurationError as exc:
        raise _refusal(str(exc.located(config_file, "app:main"))) from None
    webapp = LwrWebApp(lwr_app)
    atexit.register(webapp.shutdown)
    if lwr_app.metrics is not None:
        webapp = MetricsMiddleware(webapp, lwr_app.metrics)
    return AccessLogMiddleware(webapp)
