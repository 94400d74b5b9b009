"""A TCP proxy on loopback: a test puts it between a client and a real server to cut, delay,
wrap (TLS) or drop the traffic.

``TcpProxy(target).start()`` listens on a free port (``.port``) and relays every connection
to ``target`` in both directions.  A subclass changes one step: :meth:`accepted` (what the
client's socket becomes before the upstream connection is made: a TLS wrapper, or ``None``
to drop it) or :meth:`relay` (what passes between the two).  :meth:`stop` refuses new
connections and keeps open ones; :meth:`cut` drops those too; both may be followed by
another :meth:`start` on the same port ("the server comes back").

:class:`FaultyProxy` adds faults a transfer must survive: the connection cut after N bytes,
stalled for a while, or one byte corrupted in flight (``test/transfers_test.py``).
"""
import socket
import struct
import threading
import time

__all__ = ["TcpProxy", "FaultyProxy", "Fault", "CUTS", "pipe", "close_quietly", "shut_down", "reset"]


def close_quietly(sock):
    """Shut down and close ``sock``, whatever state it is in."""
    for step in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            step()
        except OSError:
            pass


def pipe(source, sink):
    """Copy ``source`` to ``sink`` until either end closes, then shut both down."""
    try:
        while True:
            block = source.recv(65536)
            if not block:
                break
            sink.sendall(block)
    except OSError:
        pass
    finally:
        shut_down(source, sink)


def reset(sock):
    """Close ``sock`` with a reset (RST) instead of an orderly close (FIN); a thread blocked
    reading it returns (end of stream)."""
    for step in (lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                 lambda: sock.shutdown(socket.SHUT_RD), sock.close):  # SHUT_RD sends nothing
        try:
            step()
        except OSError:
            pass


def shut_down(*sockets):
    """Shut each socket down both ways (one already closed is fine): the other end sees EOF."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class TcpProxy:
    """Relays connections from ``127.0.0.1:port`` (0: a free port, read ``.port`` after
    :meth:`start`) to ``target``, a ``(host, port)`` pair."""

    def __init__(self, target, port=0):
        self.target = tuple(target)
        self.port = port
        self.listener = None
        self.sockets = []
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.create_server(("127.0.0.1", self.port), backlog=32)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="tcp-proxy").start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client):
        client = self.accepted(client)
        if client is None:
            return
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            close_quietly(client)
            return
        with self._lock:
            self.sockets += [client, upstream]
        self.relay(client, upstream)

    def accepted(self, client):
        """The socket to relay for a new client connection (``None``: drop it)."""
        return client

    def relay(self, client, upstream):
        """Pass bytes both ways until either side closes, then close both sockets."""
        down = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        down.start()
        pipe(client, upstream)
        down.join()
        _closed(client, upstream)

    def stop(self):
        """No new connections; those open stay."""
        if self.listener is not None:
            self.listener.close()

    def cut(self):
        """No new connections, and every open one is dropped."""
        self.stop()
        with self._lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            close_quietly(sock)

    close = cut


def _closed(*sockets):
    """Close sockets both of whose directions have ended. Shut down is not enough: a socket
    left open with unread bytes keeps a zero receive window, and a peer still sending stalls
    until its timeout instead of getting a reset."""
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass


#: How a :class:`Fault` cuts: both sides closed (the server sees the end of the stream, the
#: client a reset), both reset, or the client's side closed and the server's left open and
#: silent (a lost network: the server's read waits for bytes that never come).
CUTS = ("close", "reset", "half-open")


class Fault:
    """What a :class:`FaultyProxy` does to one connection, in one ``direction`` (``"up"``: client
    to server, ``"down"``: back): ``cut`` after that many bytes (``how``: one of :data:`CUTS`),
    ``stall`` for ``seconds`` after that many bytes, or ``corrupt`` (flip) the byte at that
    offset. Offsets count the connection's bytes in that direction, HTTP headers included."""

    def __init__(self, direction="up", cut=None, stall=None, seconds=0.0, corrupt=None, how="close"):
        if direction not in ("up", "down"):
            raise ValueError("direction must be 'up' or 'down'")
        if how not in CUTS:
            raise ValueError("how must be one of %s" % ", ".join(CUTS))
        self.how = how
        self.direction = direction
        self.cut = cut
        self.stall = stall
        self.seconds = seconds
        self.corrupt = corrupt


class FaultyProxy(TcpProxy):
    """A :class:`TcpProxy` that applies a :class:`Fault` to connections: the next one of
    ``faults`` to each new connection (then none), or ``always`` to every one. ``moved`` counts
    the bytes relayed each way over all connections (what a transfer really cost)."""

    def __init__(self, target, port=0, faults=(), always=None):
        super().__init__(target, port)
        self.faults = list(faults)
        self.always = always
        self.moved = {"up": 0, "down": 0}
        self.connections = 0

    def add_fault(self, fault):
        with self._lock:
            self.faults.append(fault)

    def relay(self, client, upstream):
        with self._lock:
            self.connections += 1
            fault = self.faults.pop(0) if self.faults else self.always
        cut = threading.Event()  # set by the direction that cuts: the other leaves the sockets be
        down = threading.Thread(target=self._pipe, args=(upstream, client, "down", fault, cut), daemon=True)
        down.start()
        self._pipe(client, upstream, "up", fault, cut)
        down.join()  # a half-open cut: until stop()/cut() closes the server's side
        _closed(client, upstream)

    def _pipe(self, source, sink, direction, fault, cut):
        if fault is None or fault.direction != direction:
            fault = None
        position = 0
        stalled = False
        try:
            while True:
                block = source.recv(65536)
                if not block:
                    break
                end = position + len(block)
                if fault is not None and fault.corrupt is not None and position <= fault.corrupt < end:
                    block = bytearray(block)
                    block[fault.corrupt - position] ^= 0xFF
                    block = bytes(block)
                if fault is not None and fault.cut is not None and end >= fault.cut:
                    keep = fault.cut - position
                    if keep > 0:
                        sink.sendall(block[:keep])
                        self._count(direction, keep)
                    cut.set()
                    self._cut(source, sink, direction, fault.how)
                    return
                if fault is not None and fault.stall is not None and not stalled and end >= fault.stall:
                    keep = fault.stall - position
                    sink.sendall(block[:keep])
                    time.sleep(fault.seconds)
                    stalled = True
                    sink.sendall(block[keep:])
                else:
                    sink.sendall(block)
                self._count(direction, len(block))
                position = end
        except OSError:
            pass
        if not cut.is_set():
            shut_down(source, sink)

    @staticmethod
    def _cut(source, sink, direction, how):
        client, server = (source, sink) if direction == "up" else (sink, source)
        if how == "reset":
            reset(client)
            reset(server)
        elif how == "half-open":
            close_quietly(client)  # the server's side stays open; stop()/cut() closes it
        else:
            close_quietly(client)
            close_quietly(server)

    def _count(self, direction, count):
        with self._lock:
            self.moved[direction] += count
