"""The real LWR application plus one route that logs its environ and raises (log-masking tests)."""
import logging

from lwr.web.framework import route
from lwr.web.wsgi import app_factory  # noqa: F401  (the factory server.ini names)

log = logging.getLogger("test.failing_route")


@route("GET", "/fail")
def fail(environ):
    log.error("failing route called with %r", environ)
    raise RuntimeError("route failed for %s?%s" % (environ["PATH_INFO"], environ["QUERY_STRING"]))
