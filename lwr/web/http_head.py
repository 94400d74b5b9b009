"""Request heads from the network: found in a buffer, bounded, parsed and checked before any worker.

Pure functions, no sockets: :func:`head_end` says whether a buffer holds a complete head
(and refuses one that grows past the limits before it is complete), :func:`parse_head`
turns it into a :class:`RequestHead` or raises :class:`HeadError` carrying the status to
answer. Everything that could smuggle a second request past a proxy - two different
``Content-Length`` values, ``Content-Length`` beside ``Transfer-Encoding``, a codings list,
a space before a header's colon, folded header lines - is refused here.
"""
import json
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from lwr.web.query import count_parameters

__all__ = ["Limits", "HeadError", "RequestHead", "head_end", "parse_head"]


_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 501: "Not Implemented",
            505: "HTTP Version Not Supported"}


@dataclass(frozen=True)
class Limits:
    max_request_line: int = 64 * 1024
    max_header_size: int = 64 * 1024
    max_headers: int = 100
    max_query_parameters: int = 1000


class HeadError(Exception):
    """A request head the server answers itself with ``status`` and ``message``, then closes."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> bytes:
        """The whole answer: status line, headers and a JSON ``{"error": message}`` body."""
        body = json.dumps({"error": self.message}).encode("utf-8")
        return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % (self.status, _REASONS.get(self.status, "Error").encode(),
                                                  len(body))) + body


@dataclass
class RequestHead:
    method: str
    target: str  # as sent (latin-1 text)
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: List[Tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)
    content_length: Optional[int] = None
    chunked: bool = False
    expect_continue: bool = False
    keep_alive: bool = True

    def header(self, name: str, default: str = "") -> str:
        values = [value for key, value in self.headers if key == name]
        return ",".join(values) if values else default

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


_END = re.compile(rb"\r?\n\r?\n")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(r"^HTTP/(\d)\.(\d)$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")


def head_end(buffer: bytes, limits: Limits) -> int:
    """Offset just past the head's blank line, or -1 while incomplete.

    Raises :class:`HeadError` 414 when the request line, or 431 when the header block,
    is already longer than allowed, so a client that never ends its line is refused after
    at most one limit's worth of buffering. Leading empty lines are skipped (RFC 9112 §2.2).
    """
    start = len(buffer) - len(buffer.lstrip(b"\r\n"))
    match = _END.search(buffer, start)
    line_end = buffer.find(b"\n", start)
    if line_end < 0:
        line_end = len(buffer)
    if line_end - start > limits.max_request_line:
        raise HeadError(414, "request line longer than %d bytes (server option max_request_line); "
                             "send long parameters as a form body" % limits.max_request_line)
    end = match.end() if match else len(buffer)
    if end - line_end > limits.max_header_size:
        raise HeadError(431, "request headers larger than %d bytes (server option max_header_size)"
                             % limits.max_header_size)
    return end if match else -1


def parse_head(data: bytes, limits: Limits) -> RequestHead:
    """Parse a complete head (as found by :func:`head_end`)."""
    text = data.lstrip(b"\r\n").decode("latin-1")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise HeadError(400, "empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise HeadError(400, "malformed request line")
    method, target, version = parts
    match = _VERSION.match(version)
    if not match:
        raise HeadError(400, "malformed HTTP version")
    if match.group(1) != "1":
        raise HeadError(505, "only HTTP/1.0 and HTTP/1.1 are served")
    if not (target.startswith("/") or target == "*" or re.match(r"^https?://", target, re.I)):
        raise HeadError(400, "malformed request target")
    if any(ord(char) < 0x21 or ord(char) == 0x7f for char in target):
        raise HeadError(400, "control character or space in the request target")
    query = target.partition("?")[2].partition("#")[0]
    if count_parameters(query) > limits.max_query_parameters:
        raise HeadError(414, "more than %d query parameters (server option max_query_parameters)"
                             % limits.max_query_parameters)
    head = RequestHead(method, target, "HTTP/1.%s" % match.group(2))
    if len(lines) - 1 > limits.max_headers:
        raise HeadError(431, "more than %d request headers (server option max_headers)" % limits.max_headers)
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise HeadError(400, "folded header lines are not accepted")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            raise HeadError(400, "malformed header line")
        head.headers.append((name.lower(), value.strip(" \t")))
    _check_framing(head)
    connection = head.header("connection").lower()
    head.keep_alive = head.version == "HTTP/1.1" and "close" not in connection
    head.expect_continue = head.header("expect").lower() == "100-continue" and head.version == "HTTP/1.1"
    return head


def _check_framing(head: RequestHead) -> None:
    lengths = [value for key, value in head.headers if key == "content-length"]
    codings = [value for key, value in head.headers if key == "transfer-encoding"]
    if codings:
        if lengths:
            raise HeadError(400, "Content-Length and Transfer-Encoding together are refused "
                                 "(request smuggling)")
        if head.version == "HTTP/1.0":
            raise HeadError(400, "Transfer-Encoding in an HTTP/1.0 request")
        coding = ",".join(codings).strip().lower()
        if coding != "chunked":
            raise HeadError(501, "Transfer-Encoding %r is not supported (only chunked)" % coding[:40])
        head.chunked = True
        return
    values = {item.strip() for value in lengths for item in value.split(",")}
    if not values:
        return
    if len(values) > 1:
        raise HeadError(400, "conflicting Content-Length values (request smuggling)")
    value = values.pop()
    if not _DIGITS.match(value):
        raise HeadError(400, "invalid Content-Length %r" % value[:40])
    head.content_length = int(value)
