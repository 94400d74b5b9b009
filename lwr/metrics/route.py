"""The ``/metrics`` answer."""
from webob import Response

from lwr.metrics import CONTENT_TYPE_LATEST
from lwr.web.framework import HttpError

__all__ = ["metrics_response"]


def metrics_response(app) -> Response:
    metrics = getattr(app, "metrics", None)
    if metrics is None:
        raise HttpError(404, "metrics are turned off on this LWR (metrics = false in server.ini)")
    body = metrics.exposition()
    return Response(body=body, headerlist=[("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store"),
                                           ("Content-Length", str(len(body)))])
