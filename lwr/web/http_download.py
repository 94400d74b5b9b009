"""Sending a download (``wsgi.file_wrapper``): by the worker while the client keeps up,
by the front door's event loop once it does not.

A worker sends at full speed, but gives up a send that has waited :data:`HANDOFF_SECONDS`:
the rest of the file (position, length, and for TLS the record in flight) goes to the front
door as a :class:`LoopDownload`, which sends it as the client reads - with ``sendfile`` on
plain sockets, in 16 KiB TLS records otherwise - and drops the client if it moves fewer
than ``min_rate`` bytes/s. A slow reader therefore holds no worker, and no memory beyond
one record.
"""
import os
import ssl

__all__ = ["send_file", "LoopDownload", "HANDOFF_SECONDS"]

#: A worker hands a download to the front door once one send has waited this long.
HANDOFF_SECONDS = 0.5
TLS_RECORD = 16 * 1024
BUFFER = 1024 * 1024


class LoopDownload:
    """The rest of a download, sent by the event loop without blocking."""

    def __init__(self, wrapper, offset: int, remaining: int, pending: bytes = b""):
        self.wrapper = wrapper
        self.fd = wrapper.filelike.fileno()
        self.offset = offset
        self.remaining = remaining
        self.pending = pending  # TLS: the record a worker's send timed out on, to be sent again as is
        self.moved = 0

    def step(self, sock, budget: int = 4 * 1024 * 1024) -> bool:
        """Send what the socket takes now (at most ``budget``); True once all is sent."""
        tls = isinstance(sock, ssl.SSLSocket)
        while budget > 0:
            if not self.pending:
                if self.remaining <= 0:
                    return True
                if not tls:
                    try:
                        sent = os.sendfile(sock.fileno(), self.fd, self.offset, min(self.remaining, budget))
                    except BlockingIOError:
                        return False
                    if not sent:
                        raise ConnectionError("file shorter than its announced length")
                    self.offset += sent
                    self.remaining -= sent
                    self.moved += sent
                    budget -= sent
                    continue
                self.pending = os.pread(self.fd, min(TLS_RECORD, self.remaining), self.offset)
                if not self.pending:
                    raise ConnectionError("file shorter than its announced length")
                self.offset += len(self.pending)
                self.remaining -= len(self.pending)
            try:
                sent = sock.send(self.pending)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            self.pending = self.pending[sent:]
            self.moved += sent
            budget -= sent
        return False

    def fast_enough(self, seconds: float, min_rate: float) -> bool:
        """Whether the client took at least ``min_rate`` bytes/s over the last ``seconds``."""
        moved, self.moved = self.moved, 0
        return moved > 0 and moved >= min_rate * seconds

    def close(self):
        self.wrapper.close()


def send_file(exchange, wrapper, length, use_sendfile):
    """Send ``length`` bytes of ``wrapper``'s file from its position; returns a
    :class:`LoopDownload` for the front door when the client stopped keeping up, else None."""
    stream, handle = exchange.stream, wrapper.filelike
    tls = isinstance(stream.sock, ssl.SSLSocket)
    offset = handle.tell()
    if use_sendfile and not tls:
        while length > 0:
            sent = stream.try_sendfile(handle.fileno(), offset, min(length, 4 * BUFFER), HANDOFF_SECONDS)
            if sent is None:
                return LoopDownload(wrapper, offset, length)
            offset += sent
            length -= sent
        return None
    buffer = bytearray(min(wrapper.block_size or BUFFER, BUFFER))
    piece = TLS_RECORD if tls else len(buffer)
    while length > 0:
        count = handle.readinto(memoryview(buffer)[:min(len(buffer), length)])
        if not count:
            raise ConnectionError("file shorter than its announced length")
        view = memoryview(buffer)[:count]
        while view:
            part = view[:piece]
            sent = stream.try_send(part, HANDOFF_SECONDS)
            if sent is None:
                if tls:  # the record in flight must be offered again, byte for byte
                    return LoopDownload(wrapper, offset + len(part), length - len(part), bytes(part))
                return LoopDownload(wrapper, offset, length)
            view = view[sent:]
            offset += sent
            length -= sent
    return None
