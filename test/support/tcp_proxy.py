"""A TCP proxy on loopback: a test puts it between a client and a real server to cut, delay,
wrap (TLS) or drop the traffic.

``TcpProxy(target).start()`` listens on a free port (``.port``) and relays every connection
to ``target`` in both directions.  A subclass changes one step: :meth:`accepted` (what the
client's socket becomes before the upstream connection is made: a TLS wrapper, or ``None``
to drop it) or :meth:`relay` (what passes between the two).  :meth:`stop` refuses new
connections and keeps open ones; :meth:`cut` drops those too; both may be followed by
another :meth:`start` on the same port ("the server comes back").
"""
import socket
import threading

__all__ = ["TcpProxy", "pipe", "close_quietly"]


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
        for sock in (source, sink):
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
        """Pass bytes both ways until either side closes."""
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

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
