"""LWR's server runner (``use = egg:lwr#server``): an event-loop front door before a worker pool.

* :mod:`lwr.web.http_loop` accepts connections, does TLS handshakes, reads and checks
  request heads (limits: :mod:`lwr.web.http_head`) and small bodies without a thread per
  connection, so idle or slow clients cannot occupy the workers;
* Paste's thread pool (``threadpool_*`` options) runs the application, one request per
  worker (:mod:`lwr.web.http_worker`), with paced socket I/O that drops clients slower
  than ``min_rate`` (:mod:`lwr.web.http_io`);
* HTTPS through the standard library's :mod:`ssl`; ``ssl_pem = *`` generates a
  self-signed RSA-2048/SHA-256 certificate at start;
* chunked request bodies, ``100 Continue`` on the first body read, keep-alive, downloads
  through ``wsgi.file_wrapper`` (one reusable 1 MiB buffer, or ``sendfile`` with
  ``use_sendfile = true``), and a body the application did not read drained
  (at most 64 MiB / 5 s) before the connection closes.

The measured comparison with the Paste-only runner and other servers is in
``docs/front_door.rst``.
"""
import collections
import datetime
import errno
import logging
import os
import resource
import shutil
import socket
import ssl
import sys
import tempfile
import threading

from lwr.options import ConfigurationError
from lwr.web.http_head import Limits
from lwr.web.http_loop import FrontDoor
from lwr.web.http_worker import Exchange
from lwr.web.exposure import note_bound
from lwr.web.server_options import SERVER_OPTIONS, SERVER_SECTION


def _import_paste_httpserver():
    """Import ``paste.httpserver`` (for its ``ThreadPool``) without loading pyOpenSSL.

    Paste tries ``from OpenSSL import SSL, tsafe``; pyOpenSSL dropped ``tsafe`` long ago, so
    the import fails either way, but only after pyOpenSSL has loaded cryptography's native
    code (~9 MiB of resident memory in every server).
    """
    if "paste.httpserver" in sys.modules or "OpenSSL" in sys.modules:
        from paste import httpserver as module
        return module
    sys.modules["OpenSSL"] = None  # makes the import raise ImportError at once
    try:
        from paste import httpserver as module
    finally:
        del sys.modules["OpenSSL"]
    return module


httpserver = _import_paste_httpserver()

__all__ = ["server_factory", "server_runner", "serve", "Server", "DEFAULTS"]

log = logging.getLogger(__name__)

#: Workers never given to requests whose body is still arriving (uploads): a client
#: trickling an upload can slow other uploads, never status requests.
RESERVED_WORKERS = 2

#: [server:main] options of the front door, their defaults, type and smallest value.
DEFAULTS = {
    "socket_timeout": (30.0, float, 0.1),
    "min_rate": (1024.0, float, 0.0),
    "header_timeout": (30.0, float, 0.1),
    "keepalive_timeout": (60.0, float, 0.1),
    "max_request_line": (64 * 1024, int, 256),
    "max_header_size": (64 * 1024, int, 256),
    "max_headers": (100, int, 1),
    "max_query_parameters": (1000, int, 1),
    "max_connections": (4000, int, 1),
    "threadpool_workers": (10, int, 1),
    "request_queue_size": (64, int, 1),
}


def _option(name, value):
    default, kind, minimum = DEFAULTS[name]
    if value is None or str(value).strip() == "":
        return default
    try:
        number = kind(str(value).strip())
    except ValueError:
        number = None
    if number is None or number != number or number < minimum:
        raise SystemExit("[server:main] %s = %r: expected %s number of at least %s"
                         % (name, value, "a whole" if kind is int else "a", minimum))
    return number


def self_signed_pem(path: str, common_name: str = "localhost") -> str:
    """Write a new RSA-2048 / SHA-256 self-signed key+certificate PEM to ``path``."""
    # here: cryptography's native code costs every server ~9 MiB; only ssl_pem = * needs it
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def ssl_context(ssl_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ssl_pem != "*":
        context.load_cert_chain(ssl_pem)
        return context
    # The generated key lives only in the context: load_cert_chain reads a file, which is
    # removed at once (private to this process meanwhile: a 0700 directory, a 0600 file).
    directory = tempfile.mkdtemp(prefix="lwr-ssl-")
    try:
        context.load_cert_chain(self_signed_pem(os.path.join(directory, "auto.pem")))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    log.warning("ssl_pem = *: serving HTTPS with a generated self-signed certificate")
    return context


class Server:
    """The listening socket, the worker pool and the front door; :meth:`serve_forever` runs it."""

    def __init__(self, app, host="localhost", port=8913, ssl_pem=None, use_sendfile=False,
                 threadpool_options=None, listener=None, tls_context=None, **options):
        values = {name: _option(name, options.get(name)) for name in DEFAULTS}
        self.application = app
        self.host, self.port = host, int(port)
        self.socket_timeout = values["socket_timeout"]
        self.min_rate = values["min_rate"]
        self.use_sendfile = bool(use_sendfile) and not ssl_pem  # TLS encrypts in user space
        self.listener = listener or _listen(host, self.port, values["request_queue_size"])
        self.port = self.listener.getsockname()[1]
        workers = values["threadpool_workers"]
        pool_options = {"spawn_if_under": min(5, workers - 1), "kill_thread_limit": 86400,
                        "hung_thread_limit": 3600}
        pool_options.update(threadpool_options or {})
        self.thread_pool = httpserver.ThreadPool(workers, name="lwr-worker", daemon=True, **pool_options)
        self.streaming_limit = max(workers - RESERVED_WORKERS, 1)
        self.streaming = 0
        self.streaming_lock = threading.Lock()
        self.waiting_streams = collections.deque()
        limits = Limits(values["max_request_line"], values["max_header_size"], values["max_headers"],
                        values["max_query_parameters"])
        self.front_door = FrontDoor(self.listener, self._dispatch, limits,
                                    tls_context or (ssl_context(ssl_pem) if ssl_pem else None),
                                    header_timeout=values["header_timeout"],
                                    keepalive_timeout=values["keepalive_timeout"],
                                    max_connections=_connection_limit(values["max_connections"]),
                                    send_timeout=self.socket_timeout, min_rate=self.min_rate)
        metrics = getattr(app, "metrics", None)  # LWR's app reports the connections and workers (lwr.metrics)
        if metrics is not None and callable(getattr(metrics, "watch_server", None)):
            metrics.watch_server(self)

    def _dispatch(self, connection, head, body_prefix):
        """Called by the front door with a complete head. A request whose body is still to
        come may occupy at most ``streaming_limit`` workers: the others stay free for requests
        the client cannot slow down (status polls, small bodies read by the front door)."""
        exchange = Exchange(self, connection, head, body_prefix)
        if not (head.chunked or (head.content_length or 0) > len(body_prefix)):
            self.thread_pool.add_task(exchange.run)
            return
        with self.streaming_lock:
            if self.streaming >= self.streaming_limit:
                self.waiting_streams.append(exchange)
                return
            self.streaming += 1
        self.thread_pool.add_task(lambda: self._run_streaming(exchange))

    def _run_streaming(self, exchange):
        try:
            exchange.run()
        finally:
            with self.streaming_lock:
                following = self.waiting_streams.popleft() if self.waiting_streams else None
                if following is None:
                    self.streaming -= 1
            if following is not None:
                self.thread_pool.add_task(lambda: self._run_streaming(following))

    def serve_forever(self):
        self.front_door.serve_forever()

    def shutdown(self):
        self.front_door.shutdown()

    def server_close(self):
        self.listener.close()
        self.thread_pool.shutdown(force_quit_timeout=1)


def _listen(host, port, backlog):
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=backlog)


def _bound(host, port):
    """What :func:`socket.create_server` does short of ``listen()``."""
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _connection_limit(wanted):
    """``max_connections``, raising the open-file limit to fit it when the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + 256  # job files, logs, the workers' own files
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        limit = max(soft - 256, 16)
        log.warning("max_connections lowered from %d to %d: the open-file limit is %d", wanted, limit, soft)
        return limit
    return wanted


def serve(app, host="localhost", port=8913, ssl_pem=None, start_loop=True, **options):
    """Build (and, with ``start_loop``, run) the server."""
    server = Server(app, host=host, port=port, ssl_pem=ssl_pem, **options)
    if not start_loop:
        return server
    scheme = "https" if ssl_pem else "http"
    print("serving on %s://%s:%s" % (scheme, host, server.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return server


def server_factory(global_conf, **local_conf):
    """PasteDeploy ``paste.server_factory`` entry point (``use = egg:lwr#server``).

    Runs before the application is loaded: the section is checked against
    :data:`~lwr.web.server_options.SERVER_OPTIONS`, the certificate loaded and the port bound
    here, so a mistake, a port in use or an unknown host ends ``paster serve`` at once with one
    line (``SystemExit``) naming the file, the section and the option or address.
    """
    config_file = global_conf.get("__file__")
    try:
        return _prepare(config_file, local_conf)
    except ConfigurationError as exc:
        raise SystemExit(str(exc.located(config_file, SERVER_SECTION))) from None


def server_runner(wsgi_app, global_conf, **local_conf):
    """PasteDeploy ``paste.server_runner`` entry point (older installs): the same as the factory."""
    server_factory(global_conf, **local_conf)(wsgi_app)


def _prepare(config_file, local_conf):
    values = SERVER_OPTIONS.validate(local_conf, config_file, SERVER_SECTION)
    host = local_conf.get("host", "localhost")  # "" stays "": every interface
    host = "localhost" if host is None else host.strip()
    port = values.get("port") or 8913
    ssl_pem = values.get("ssl_pem")
    tls_context = None
    if ssl_pem:
        try:
            tls_context = ssl_context(ssl_pem)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigurationError("ssl_pem = %r: expected a PEM file holding a private key and its certificate "
                                     "(%s)" % (ssl_pem, exc.strerror if isinstance(exc, OSError) and exc.strerror
                                               else exc), config_file, SERVER_SECTION, "ssl_pem")
    # Bound now, listening only once the application is built: a port in use is told before the
    # application loads, and nothing (run.sh, lwr-server start) takes the address for a server that is up.
    listener = bind(host, port, config_file)
    backlog = values.get("request_queue_size") or DEFAULTS["request_queue_size"][0]
    options, threadpool_options = {}, {}
    for key, value in local_conf.items():
        if key in DEFAULTS:
            options[key] = value
        elif key.startswith("threadpool_"):
            threadpool_options[key[len("threadpool_"):]] = values[key]

    def run(wsgi_app):
        listener.listen(backlog)
        serve(wsgi_app, host=host, port=port, ssl_pem=ssl_pem, use_sendfile=values.get("use_sendfile", False),
              threadpool_options=threadpool_options, listener=listener, tls_context=tls_context, **options)
    run.listener = listener
    return run


def bind(host, port, config_file=None):
    """A socket bound to the address (not yet listening), or a one-line :class:`ConfigurationError`
    naming the address."""
    address = "[%s]:%s" % (host, port) if ":" in host else "%s:%s" % (host or "*", port)
    try:
        sock = _bound(host, port)
        note_bound(sock.getsockname()[0])
        return sock
    except socket.gaierror as exc:
        raise ConfigurationError("host = %r: cannot resolve the host name (%s)" % (host, exc.strerror or exc),
                                 config_file, SERVER_SECTION, "host") from None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)  # "Address already in use", ...
        if exc.errno == errno.EACCES and port < 1024:
            reason += " (ports below 1024 need privileges)"
        raise ConfigurationError("cannot listen on %s: %s" % (address, reason), config_file, SERVER_SECTION,
                                 "port") from None
