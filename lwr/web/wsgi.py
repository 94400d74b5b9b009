"""The WSGI application Paste loads: ``paste.app_factory = lwr.web.wsgi:app_factory``."""
import atexit
import logging

from lwr.core import LwrApp
from lwr.lwr_client.route_table import ROUTES
from lwr.manager_endpoint_util import SubmitRefused
from lwr.managers.base.directory import JobExists, UnknownFileType
from lwr.managers.stateful import JobStateConflict, UnknownJob
from lwr.managers.util.job_script import InvalidEnvironment
from lwr.objectstore import InvalidObjectRequest, ObjectNotFound
from lwr.paths import InvalidPath
from lwr.tools.authorization import AuthorizationError
from lwr.tools.deps import InvalidDependencies
from lwr.web import object_store_routes, routes, status_page
from lwr.web.access_log import AccessLogMiddleware, install_secret_masking
from lwr.web.framework import RoutingApp, bind_routes
from lwr.web.http_io import MalformedChunk

__all__ = ["app_factory", "LwrWebApp", "EXCEPTION_STATUS"]

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


def app_factory(global_conf, **local_conf):
    """PasteDeploy entry point: build the app from ``[app:main]`` options (all strings)."""
    install_secret_masking([local_conf.get("private_key"), local_conf.get("private_token")])
    lwr_app = LwrApp(global_conf=global_conf, **local_conf)
    webapp = LwrWebApp(lwr_app)
    atexit.register(webapp.shutdown)
    return AccessLogMiddleware(webapp)
