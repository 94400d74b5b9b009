"""Paste server runners for other WSGI servers: ``use = egg:lwr#waitress``.

``[server:main]`` of ``server.ini.sample`` is written for LWR's own runner
(``egg:lwr#server``).  Swapping its ``use`` line for ``egg:lwr#waitress`` keeps the file
working: the options that have a waitress equivalent are translated, those that have none
are refused at start with one line naming the option, and any other option goes to waitress
under its own name (``threads``, ``trusted_proxy``, ``url_scheme``, ...).  Waitress's own
``egg:waitress#main`` would stop with a traceback on ``threadpool_workers``.
"""
from typing import Dict

__all__ = ["waitress_factory", "waitress_runner", "waitress_options", "TRANSLATED", "REFUSED"]

#: LWR runner option -> waitress adjustment.
TRANSLATED = {
    "threadpool_workers": "threads",
    "request_queue_size": "backlog",
    "max_connections": "connection_limit",
    "socket_timeout": "channel_timeout",
}
#: LWR runner options waitress has nothing for, and what to do instead.
REFUSED = {
    "ssl_pem": "waitress serves plain HTTP only; terminate TLS in a proxy in front (docs/deployment.rst) "
               "or use egg:lwr#server",
    "min_rate": "waitress has no minimum transfer rate; remove it",
    "header_timeout": "waitress has no separate request-head timeout (channel_timeout covers it); remove it",
    "keepalive_timeout": "waitress closes idle connections after channel_timeout; remove it",
    "max_headers": "waitress limits the header block's size only (max_request_header_size); remove it",
    "max_query_parameters": "waitress does not count query parameters; remove it",
    "use_sendfile": "waitress has no sendfile option; remove it",
}
#: Uploads of job inputs are often larger than waitress's default 1 GiB request body limit.
DEFAULT_MAX_REQUEST_BODY_SIZE = str(1 << 40)


def waitress_options(host: str, port: str, options: Dict[str, str]) -> Dict[str, str]:
    """The keyword arguments for ``waitress.serve`` from ``[server:main]`` options; raises
    SystemExit with one line for an option waitress cannot honour."""
    result = {"host": host, "port": port, "max_request_body_size": DEFAULT_MAX_REQUEST_BODY_SIZE,
              "ident": "LWR"}
    header_limits = []
    for key, value in options.items():
        if key in REFUSED:
            raise SystemExit("[server:main] %s: not supported with use = egg:lwr#waitress: %s" % (key, REFUSED[key]))
        if key in ("max_request_line", "max_header_size"):
            header_limits.append(value)
        elif key in TRANSLATED:
            if TRANSLATED[key] in options:
                raise SystemExit("[server:main] %s and %s are both set (the same waitress setting); keep one"
                                 % (key, TRANSLATED[key]))
            result[TRANSLATED[key]] = value
        elif key.startswith("threadpool_"):
            raise SystemExit("[server:main] %s: Paste thread-pool option, not supported with "
                             "use = egg:lwr#waitress (threadpool_workers becomes threads); remove it" % key)
        else:
            result[key] = value
    if header_limits:
        # waitress has one limit for the request line and the headers together.
        try:
            result["max_request_header_size"] = str(sum(int(v) for v in header_limits))
        except ValueError:
            raise SystemExit("[server:main] max_request_line / max_header_size: expected whole numbers, got %s"
                             % ", ".join(header_limits))
    return result


def waitress_factory(global_conf, host="localhost", port="8913", **options):
    """PasteDeploy ``paste.server_factory`` for waitress (``pip install waitress``).

    Everything is checked here, before the application is built: a refused option ends
    ``paster serve`` with its one line without starting the LWR first."""
    options.pop("use", None)
    kwargs = waitress_options(host, port, options)
    try:
        import waitress
        from waitress.adjustments import Adjustments
    except ImportError:
        raise SystemExit("[server:main] use = egg:lwr#waitress: waitress is not installed (pip install waitress)")
    try:
        Adjustments(**kwargs)  # validate first: waitress's own errors are tracebacks
    except (ValueError, TypeError) as exc:
        raise SystemExit("[server:main] invalid waitress setting: %s" % exc)

    def serve(wsgi_app):
        waitress.serve(wsgi_app, **kwargs)
    return serve


def waitress_runner(wsgi_app, global_conf, **options):
    """The same as a ``paste.server_runner`` (for code that calls runners directly)."""
    waitress_factory(global_conf, **options)(wsgi_app)
