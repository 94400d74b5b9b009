"""LWR's Paste server runner (``use = egg:lwr#server``): Paste's threadpool HTTP server, fixed.

What it adds to ``egg:Paste#http`` on Python 3:

* HTTPS through the standard library's :mod:`ssl` (Paste's pyOpenSSL path is
  broken: ``ssl_pem = *`` fails and request bodies over 16 KB are dropped);
  ``ssl_pem = *`` generates a self-signed RSA-2048/SHA-256 certificate at start.
* Chunked request bodies are decoded (Paste hands the application zero bytes).
* ``wsgi.file_wrapper``, served through one reusable 1 MiB buffer, or with
  ``socket.sendfile`` when ``use_sendfile = true`` (which kernel path is faster
  depends on the kernel: measure with ``bench/staging.py``).
* HTTP/1.1 keep-alive, closing the connection when a request body was not read.
* Daemon worker threads, so the process can always exit.
"""
import logging
import os
import ssl
import sys
import tempfile
import time

from lwr.util import asbool
from lwr.web.http_io import BodyReader, ChunkedReader, FileWrapper


def _import_paste_httpserver():
    """Import ``paste.httpserver`` without loading pyOpenSSL.

    Paste tries ``from OpenSSL import SSL, tsafe``; pyOpenSSL dropped ``tsafe`` long ago, so
    the import fails and Paste sets ``SSL = None`` either way, but only after pyOpenSSL has
    loaded cryptography's native code (~9 MiB of resident memory in every server). LWR does
    TLS with the standard library, so the outcome is the same and the memory stays free.
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

__all__ = ["server_runner", "serve", "LwrHandler"]

#: How much of an unread request body is read and dropped before the connection closes.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5.0

log = logging.getLogger(__name__)


class LwrHandler(httpserver.WSGIHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without TCP_NODELAY a small body can wait
    # for the client's delayed ACK.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # Handshake here, in the worker thread, not in the accept loop.
            self.connection.do_handshake()

    def handle_expect_100(self):
        # The stdlib would answer "100 Continue" at once; ContinueHook answers on the first
        # body read instead, so a refused request (401, 404) never makes the client send its body.
        return True

    def wsgi_setup(self, environ=None):
        super().wsgi_setup(environ)
        raw = self.rfile
        self.lwr_continue = None
        if self.headers.get("Expect", "").lower() == "100-continue":
            raw = self.lwr_continue = httpserver.ContinueHook(raw, self.wfile.write)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = ChunkedReader(raw)
            self.wsgi_environ["CONTENT_LENGTH"] = ""
            self.wsgi_environ["wsgi.input_terminated"] = True
        else:
            try:
                length = max(int(self.headers.get("Content-Length", "0")), 0)
            except ValueError:
                length = 0
            body = BodyReader(raw, length)
        self.lwr_body = body
        self.wsgi_environ["wsgi.input"] = body
        self.wsgi_environ["wsgi.file_wrapper"] = FileWrapper
        if isinstance(self.connection, ssl.SSLSocket):
            self.wsgi_environ["wsgi.url_scheme"] = "https"
            self.wsgi_environ["HTTPS"] = "on"

    def wsgi_execute(self, environ=None):
        self.wsgi_setup(environ)
        try:
            result = self.server.wsgi_application(self.wsgi_environ, self.wsgi_start_response)
            try:
                if isinstance(result, FileWrapper):
                    self._send_file(result)
                else:
                    for chunk in result:
                        self.wsgi_write_chunk(chunk)
                    if not self.wsgi_headers_sent:
                        self.wsgi_write_chunk(b"")
            finally:
                if hasattr(result, "close"):
                    result.close()
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError) as exc:
            self.close_connection = 1
            self.wsgi_connection_drop(exc, environ)
            return
        except Exception:
            log.exception("unhandled error serving %s %s", self.command, self.path.split("?")[0])
            self.close_connection = 1
            if not self.wsgi_headers_sent:
                body = b'{"error": "internal server error"}'
                self.wsgi_curr_headers = ("500 Internal Server Error",
                                          [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body)))])
                self.wsgi_write_chunk(body)
            return
        if not self.lwr_body.finished:
            # Unread request body bytes would be parsed as the next request.
            self.close_connection = 1
            self._drain_unread_body()

    def _drain_unread_body(self):
        """Read and drop what the client still sends of a body the application stopped reading
        (an upload refused half-way: disk full, bad name), for a bounded time, so the client
        reads our answer instead of a connection reset. A client still waiting for
        ``100 Continue`` has sent nothing and is left alone."""
        if self.lwr_continue is not None and self.lwr_continue.read.__name__ == "_ContinueFile_read":
            return
        try:
            self.wfile.flush()
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_BYTES and time.monotonic() < deadline:
                data = self.lwr_body.read(1024 * 1024)
                if not data:
                    return
                drained += len(data)
        except (EOFError, ValueError, OSError):
            pass  # the client gave up first: nothing more to do

    def _send_file(self, wrapper):
        self.wsgi_write_chunk(b"")  # status line and headers
        self.wfile.flush()
        handle = wrapper.filelike
        if getattr(self.server, "lwr_use_sendfile", False):
            try:
                offset = handle.tell()
            except (OSError, AttributeError):
                offset = 0
            try:
                self.connection.sendfile(handle, offset)
                return
            except (AttributeError, ValueError, OSError) as exc:
                if isinstance(exc, (ConnectionError, TimeoutError)):
                    raise
                # Nothing was sent: sendfile refuses before its first byte (e.g. not a regular file).
        if hasattr(handle, "readinto"):
            buffer = bytearray(wrapper.block_size)
            view = memoryview(buffer)
            while True:
                count = handle.readinto(buffer)
                if not count:
                    return
                self.connection.sendall(view[:count])
        for chunk in wrapper:
            self.wfile.write(chunk)

    def log_request(self, *args, **kwargs):
        pass  # LWR's access log (lwr.access) records requests with secrets masked


def self_signed_pem(path: str, common_name: str = "localhost") -> str:
    """Write a new RSA-2048 / SHA-256 self-signed key+certificate PEM to ``path``."""
    import datetime

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
    if ssl_pem == "*":
        directory = tempfile.mkdtemp(prefix="lwr-ssl-")
        ssl_pem = self_signed_pem(os.path.join(directory, "auto.pem"))
        log.warning("ssl_pem = *: serving HTTPS with a generated self-signed certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(ssl_pem)
    return context


def serve(app, host="localhost", port=8913, ssl_pem=None, threadpool_workers=10, socket_timeout=None,
          request_queue_size=64, start_loop=True, threadpool_options=None, use_sendfile=False):
    """Build (and, with ``start_loop``, run) the server."""
    workers = max(int(threadpool_workers), 1)
    options = {"spawn_if_under": min(5, workers - 1), "kill_thread_limit": 86400,
               "hung_thread_limit": 3600}
    options.update(threadpool_options or {})
    server = httpserver.serve(app, host=host, port=int(port), handler=LwrHandler, start_loop=False,
                              use_threadpool=True, threadpool_workers=workers, daemon_threads=True,
                              threadpool_options=options, request_queue_size=int(request_queue_size),
                              socket_timeout=socket_timeout)
    server.lwr_use_sendfile = bool(use_sendfile) and not ssl_pem  # TLS cannot use sendfile
    if ssl_pem:
        server.socket = ssl_context(ssl_pem).wrap_socket(server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
    if not start_loop:
        return server
    scheme = "https" if ssl_pem else "http"
    print("serving on %s://%s:%s" % (scheme, host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.thread_pool.shutdown(force_quit_timeout=1)
    return server


def server_runner(wsgi_app, global_conf, host="localhost", port="8913", ssl_pem=None,
                  threadpool_workers="10", socket_timeout=None, request_queue_size="64",
                  use_sendfile="false", **kwargs):
    """PasteDeploy ``paste.server_runner`` entry point; ``threadpool_*`` options go to Paste's pool."""
    threadpool_options = {}
    for key, value in kwargs.items():
        if key.startswith("threadpool_"):
            threadpool_options[key[len("threadpool_"):]] = int(value)
        elif key not in ("use",):
            log.warning("ignoring unknown [server:main] option %r", key)
    serve(wsgi_app, host=host, port=port, ssl_pem=ssl_pem or None,
          threadpool_workers=threadpool_workers,
          socket_timeout=int(socket_timeout) if socket_timeout else None,
          request_queue_size=request_queue_size, threadpool_options=threadpool_options,
          use_sendfile=asbool(use_sendfile))
