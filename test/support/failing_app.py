"""The real LWR application plus one route that logs its environ and raises (log-masking tests)."""
import logging

from lwr.lwr_client.route_table import Route
from lwr.web import wsgi
from lwr.web.framework import RoutingApp

log = logging.getLogger("test.failing_route")

FAIL_ROUTE = Route("fail", "GET", "/fail")


def fail(environ):
    log.error("failing route called with %r", environ)
    raise RuntimeError("route failed for %s?%s" % (environ["PATH_INFO"], environ["QUERY_STRING"]))


class _WithFailRoute:
    """``/fail`` goes to a one-route app on the same LwrApp (same token check, same error
    handling); everything else to the real routes."""

    def __init__(self, webapp):
        self.webapp = webapp
        self.fail_app = RoutingApp(webapp.lwr_app, [(FAIL_ROUTE, fail)], wsgi.exception_map(),
                                   manager_prefix=False)

    def __getattr__(self, name):
        return getattr(self.webapp, name)

    def __call__(self, environ, start_response):
        app = self.fail_app if environ.get("PATH_INFO") == FAIL_ROUTE.path else self.webapp
        return app(environ, start_response)


def app_factory(global_conf, **local_conf):
    """The factory server.ini names: the real one, with the failing route added."""
    logged = wsgi.app_factory(global_conf, **local_conf)
    logged.app = _WithFailRoute(logged.app)
    return logged
