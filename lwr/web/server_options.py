"""``[server:main]`` options of LWR's own server runner (``use = egg:lwr#server``), declared once.

:func:`lwr.web.httpserver.server_factory` validates the section against :data:`SERVER_OPTIONS`
before the application is loaded; the docs' table is generated from it.  Other servers
(``egg:Paste#http``, waitress, gunicorn, uWSGI) read their own options.
"""
from lwr.options import BOOL, PEM_FILE, PORT, STRING, Option, OptionSet, integer, number

__all__ = ["SERVER_OPTIONS", "SERVER_SECTION"]

SERVER_SECTION = "server:main"

SERVER_OPTIONS = OptionSet("server", [
    Option("use", STRING, "egg:lwr#server", "The server runner: egg:lwr#server."),
    Option("host", STRING, "localhost", "Interface to listen on: localhost (this machine only), a host name "
           "or address, or 0.0.0.0 for every interface."),
    Option("port", PORT, 8913, "TCP port to listen on."),
    Option("ssl_pem", PEM_FILE, None, "Serve HTTPS: a PEM file holding the private key and the certificate, "
           "or * to generate a self-signed certificate at each start."),
    Option("threadpool_workers", integer(1), 10, "Worker threads running requests."),
    Option("threadpool_", integer(0), None, "threadpool_<name>: other settings of Paste's thread pool "
           "(spawn_if_under, hung_thread_limit, kill_thread_limit, dying_limit, max_requests, "
           "hung_check_period, max_zombie_threads_before_die).", prefix=True),
    Option("socket_timeout", number(minimum=0.1), 30.0,
           "Seconds a worker waits for a client that sends or reads nothing, mid-request."),
    Option("min_rate", number(minimum=0), 1024.0,
           "Slowest transfer in bytes per second a client may keep a worker busy with (0: no minimum)."),
    Option("header_timeout", number(minimum=0.1), 30.0, "Seconds a client has to send a complete request head."),
    Option("keepalive_timeout", number(minimum=0.1), 60.0,
           "Seconds an idle kept-alive connection stays open between requests."),
    Option("max_request_line", integer(256), 65536, "Longest request line in bytes (414 beyond)."),
    Option("max_header_size", integer(256), 65536, "Largest header block in bytes (431 beyond)."),
    Option("max_headers", integer(1), 100, "Most header lines in a request."),
    Option("max_query_parameters", integer(1), 1000, "Most query parameters in a request."),
    Option("max_connections", integer(1), 4000, "Most open connections."),
    Option("request_queue_size", integer(1), 64, "Connections the kernel queues before the server accepts them."),
    Option("use_sendfile", BOOL, False, "Send downloads with the kernel's sendfile (ignored with ssl_pem)."),
    Option("use_threadpool", STRING, None, "Accepted for egg:Paste#http configurations and ignored: "
           "this server always uses its pool.", deprecated="Paste#http option"),
    Option("daemon_threads", STRING, None, "Accepted for egg:Paste#http configurations and ignored.",
           deprecated="Paste#http option"),
    Option("protocol_version", STRING, None, "Accepted for egg:Paste#http configurations and ignored.",
           deprecated="Paste#http option"),
    Option("server_version", STRING, None, "Accepted for egg:Paste#http configurations and ignored.",
           deprecated="Paste#http option"),
], ignored_keys=("here", "__file__"), where_documented="see docs/configure.rst", title="[server:main]")
