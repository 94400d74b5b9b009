"""The front door: one event-loop thread that owns every connection no worker is serving.

It accepts connections, performs TLS handshakes, reads request heads (and bodies of at
most :data:`PREREAD_BYTES`) without blocking, and only then hands a request to the worker
pool. Idle, half-sent and kept-alive connections therefore cost a socket and a small
buffer here, never a worker thread. A head that outgrows the limits is answered (414/431)
and the connection drained and closed here too; so are connections whose head does not
arrive within ``header_timeout`` (408) or that idle past ``keepalive_timeout``.
Workers give connections back (:meth:`FrontDoor.resume`, :meth:`FrontDoor.linger`);
the loop is woken through a pipe.
"""
import collections
import errno
import heapq
import itertools
import logging
import os
import selectors
import socket
import ssl
import threading
import time

from lwr.web.http_head import HeadError, head_end, parse_head

__all__ = ["FrontDoor", "Connection", "PREREAD_BYTES", "LINGER_BYTES", "LINGER_SECONDS"]

log = logging.getLogger(__name__)

#: Request bodies up to this size are read by the loop before a worker sees the request.
PREREAD_BYTES = 64 * 1024
#: How much of a body nobody will read is read and dropped before the connection closes,
#: so the client gets our answer instead of a reset.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5.0

HANDSHAKE, HEAD, BODY, DRAIN, SEND = "handshake", "head", "body", "drain", "send"

class Connection:
    """A client connection; ``buffer`` holds what was read and not yet handed to a worker."""

    __slots__ = ("sock", "address", "state", "buffer", "deadline", "head", "head_end", "idle", "fd", "drain_left",
                 "download", "keep_alive")

    def __init__(self, sock, address, state):
        self.sock = sock
        self.address = address[0] if isinstance(address, tuple) else str(address)
        self.state = state
        self.buffer = bytearray()
        self.deadline = 0.0
        self.head = None
        self.head_end = 0
        self.idle = False
        self.fd = sock.fileno()
        self.drain_left = LINGER_BYTES
        self.download = None  # a LoopDownload being sent (state SEND)
        self.keep_alive = False


class FrontDoor:
    def __init__(self, listener, dispatch, limits, ssl_context=None, header_timeout=30.0,
                 keepalive_timeout=60.0, max_connections=4000, send_timeout=30.0, min_rate=1024.0):
        self.listener = listener
        self.dispatch = dispatch  # dispatch(connection, head, body_prefix) -> runs in a worker
        self.limits = limits
        self.ssl_context = ssl_context
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_connections = max_connections
        self.send_timeout = send_timeout
        self.min_rate = min_rate
        self.selector = selectors.DefaultSelector()
        self.loop_connections = collections.OrderedDict()  # fd -> Connection, oldest first
        self.timers = []  # heap of (deadline, seq, connection)
        self.sequence = itertools.count()
        self.returned = collections.deque()  # (connection, leftover bytes or None to linger)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        self.stopping = threading.Event()
        self.accept_paused_until = 0.0

    # --- called from worker threads -------------------------------------------------------
    def resume(self, connection, leftover: bytes):
        """Take back a kept-alive connection (``leftover``: bytes already read past the request)."""
        self.returned.append((connection, leftover))
        self._wake()

    def linger(self, connection, remaining=None):
        """Take back a connection to drain and close: the client may still be sending a body
        (``remaining`` bytes of it; None: unknown, drain until the client closes)."""
        connection.drain_left = LINGER_BYTES if remaining is None else min(remaining, LINGER_BYTES)
        self.returned.append((connection, None))
        self._wake()

    def send_download(self, connection, download, keep_alive):
        """Take back a connection whose client reads slowly, to send it the rest of a file."""
        connection.download, connection.keep_alive = download, keep_alive
        self.returned.append((connection, SEND))
        self._wake()

    def shutdown(self):
        self.stopping.set()
        self._wake()

    def _wake(self):
        try:
            os.write(self.wake_write, b"x")
        except BlockingIOError:
            pass  # the pipe is full: the loop is awake already

    # --- the loop --------------------------------------------------------------------------
    def serve_forever(self):
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "listener")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        try:
            while not self.stopping.is_set():
                timeout = self._expire()
                for key, events in self.selector.select(timeout):
                    if key.data == "listener":
                        self._accept()
                    elif key.data == "wake":
                        self._take_returned()
                    else:
                        self._ready(key.data, events)
        finally:
            for connection in list(self.loop_connections.values()):
                self._close(connection)
            self.selector.close()
            os.close(self.wake_read)
            os.close(self.wake_write)

    def _set_timer(self, connection, seconds):
        connection.deadline = time.monotonic() + seconds
        heapq.heappush(self.timers, (connection.deadline, next(self.sequence), connection))

    def _expire(self) -> float:
        now = time.monotonic()
        if self.accept_paused_until and now >= self.accept_paused_until:
            self.accept_paused_until = 0.0
            self.selector.register(self.listener, selectors.EVENT_READ, "listener")
        while self.timers:
            deadline, _seq, connection = self.timers[0]
            if deadline > now:
                return min(deadline - now, 1.0)
            heapq.heappop(self.timers)
            if connection.deadline != deadline or connection.fd not in self.loop_connections:
                continue  # stale timer: the connection moved on
            self._guarded(connection, self._expired)
        return 1.0

    def _expired(self, connection):
        if connection.state == SEND and connection.download.fast_enough(self.send_timeout, self.min_rate):
            self._set_timer(connection, self.send_timeout)
        elif connection.state in (HEAD, BODY) and connection.buffer and not connection.idle:
            raise HeadError(408, "request head not received within %gs (server option header_timeout)"
                            % self.header_timeout)
        else:
            self._close(connection)

    def _accept(self):
        for _ in range(64):
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    if not self._evict_oldest():
                        log.warning("cannot accept connections (%s); pausing accepts for 0.1s", exc.strerror)
                        self.selector.unregister(self.listener)
                        self.accept_paused_until = time.monotonic() + 0.1
                        return
                    continue
                log.warning("accept failed: %s", exc)
                return
            if len(self.loop_connections) >= self.max_connections:
                self._evict_oldest()
            self._add(sock, address)

    def _add(self, sock, address):
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = HEAD
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError):
                sock.close()
                return
            state = HANDSHAKE
        connection = Connection(sock, address, state)
        self.loop_connections[connection.fd] = connection
        self.selector.register(sock, selectors.EVENT_READ, connection)
        self._set_timer(connection, self.header_timeout)

    def _evict_oldest(self) -> bool:
        """Close the connection that has waited longest, to make room for a new one."""
        for connection in self.loop_connections.values():
            self._close(connection)
            return True
        return False

    def _take_returned(self):
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        while self.returned:
            connection, leftover = self.returned.popleft()
            self._guarded(connection, lambda c, leftover=leftover: self._take_back(c, leftover))

    def _take_back(self, connection, leftover):
        connection.sock.setblocking(False)
        self.loop_connections[connection.fd] = connection
        self.selector.register(connection.sock, selectors.EVENT_READ, connection)
        if leftover is None:
            self._start_drain(connection)
        elif leftover is SEND:
            connection.state = SEND
            self.selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
            self._set_timer(connection, self.send_timeout)
            self._send(connection)
        else:
            connection.state, connection.head = HEAD, None
            connection.buffer = bytearray(leftover)
            connection.idle = not leftover
            self._set_timer(connection, self.keepalive_timeout if connection.idle else self.header_timeout)
            # A pipelined request, or TLS bytes already decrypted: no readiness event will come.
            if (leftover and self._advance(connection) and self._tls_pending(connection)) or (
                    not leftover and self._tls_pending(connection)):
                self._read(connection)

    def _guarded(self, connection, step):
        """Run one step for ``connection``; whatever goes wrong closes that connection only."""
        try:
            try:
                step(connection)
            except HeadError as exc:
                self._refuse(connection, exc)
        except (OSError, ValueError):
            self._close(connection)
        except Exception:
            log.exception("front door: unexpected error on a connection from %s", connection.address)
            self._close(connection)

    @staticmethod
    def _tls_pending(connection) -> bool:
        return isinstance(connection.sock, ssl.SSLSocket) and connection.sock.pending() > 0

    def _ready(self, connection, _events):
        self._guarded(connection, self._step)

    def _step(self, connection):
        if connection.state == HANDSHAKE:
            self._handshake(connection)
        elif connection.state == DRAIN:
            self._drain(connection)
        elif connection.state == SEND:
            self._send(connection)
        else:
            self._read(connection)

    def _handshake(self, connection):
        try:
            connection.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.selector.modify(connection.sock, selectors.EVENT_READ, connection)
            return
        except ssl.SSLWantWriteError:
            self.selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
            return
        connection.state = HEAD
        self.selector.modify(connection.sock, selectors.EVENT_READ, connection)
        self._read(connection)

    def _recv(self, connection, size):
        """Bytes read (b"" at end of stream) or None when nothing is available now."""
        try:
            return connection.sock.recv(size)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None

    def _read(self, connection):
        while True:
            data = self._recv(connection, 65536)
            if data is None:
                return
            if not data:
                self._close(connection)
                return
            if connection.idle:
                connection.idle = False  # a kept-alive connection starts a request: head timer now
                self._set_timer(connection, self.header_timeout)
            connection.buffer += data
            # The selector reports plain sockets again while bytes remain; TLS may hold
            # decrypted bytes the selector cannot see.
            if not self._advance(connection) or not self._tls_pending(connection):
                return

    def _advance(self, connection) -> bool:
        """Parse what is buffered; dispatch when complete. True while the loop keeps the connection."""
        if connection.head is None:
            end = head_end(bytes(connection.buffer), self.limits)
            if end < 0:
                return True
            connection.head = parse_head(bytes(connection.buffer[:end]), self.limits)
            connection.head_end = end
            connection.state = BODY
        head = connection.head
        prefix = len(connection.buffer) - connection.head_end
        if (head.content_length and head.content_length <= PREREAD_BYTES and not head.expect_continue
                and prefix < head.content_length):
            return True  # a small body: wait for all of it here, not in a worker
        self._hand_to_worker(connection)
        return False

    def _hand_to_worker(self, connection):
        self._detach(connection)
        body_prefix = bytes(connection.buffer[connection.head_end:])
        head = connection.head
        connection.buffer = bytearray()
        connection.head = None
        self.dispatch(connection, head, body_prefix)

    def _detach(self, connection):
        self.loop_connections.pop(connection.fd, None)
        try:
            self.selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass
        connection.deadline = 0.0

    def _refuse(self, connection, error):
        log.info("refused a request from %s: %d %s", connection.address, error.status, error.message)
        try:
            connection.sock.send(error.response())
        except (OSError, ValueError):
            self._close(connection)
            return
        connection.drain_left = LINGER_BYTES  # whatever the client still sends
        self._start_drain(connection)

    def _start_drain(self, connection):
        connection.state = DRAIN
        connection.buffer = bytearray()
        connection.head = None
        self._set_timer(connection, LINGER_SECONDS)
        self.selector.modify(connection.sock, selectors.EVENT_READ, connection)
        try:
            # Our answer is complete: a client reading until the connection closes sees the
            # end at once, while whatever it still sends is read and dropped below.
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._drain(connection)

    def _drain(self, connection):
        while connection.drain_left > 0:
            data = self._recv(connection, min(65536, connection.drain_left))
            if data is None:
                return
            if not data:
                break
            connection.drain_left -= len(data)
        self._close(connection)

    def _send(self, connection):
        if not connection.download.step(connection.sock):
            return
        connection.download.close()
        connection.download = None
        if not connection.keep_alive:
            self._close(connection)
            return
        connection.state, connection.idle = HEAD, True
        self.selector.modify(connection.sock, selectors.EVENT_READ, connection)
        self._set_timer(connection, self.keepalive_timeout)

    def _close(self, connection):
        if connection.download is not None:
            connection.download.close()
            connection.download = None
        self._detach(connection)
        try:
            connection.sock.close()
        except OSError:
            pass
