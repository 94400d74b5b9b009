"""Small helpers shared by the server: atomic file writes, streaming copies."""
import json

from lwr.lwr_client.util import ReplacingFile, asbool

__all__ = ["atomic_write", "atomic_write_json", "read_json", "copy_stream", "CHUNK_SIZE", "asbool",
           "loads_bounded", "JsonTooDeep", "MAX_JSON_DEPTH"]

#: Size of every streaming read and write: large enough for loopback speed, small enough for RSS.
CHUNK_SIZE = 1024 * 1024


def atomic_write(path: str, data, mode: int = 0o644) -> None:
    """Write ``data`` (bytes or str) to a temporary name beside ``path`` and rename it into place.

    A reader never sees a half-written file, and a process killed mid-write
    leaves the old contents (or nothing) under ``path``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with ReplacingFile(path, mode=mode) as handle:
        handle.write(data)


def atomic_write_json(path: str, value) -> None:
    atomic_write(path, json.dumps(value))


def read_json(path: str, default=None):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return default


#: Deepest nesting of arrays/objects accepted in JSON from the network.  Every structure a
#: client sends (remote_staging, env, dependencies) is a few levels deep; Python's parser
#: and serialiser fail with RecursionError somewhere near 1,000.
MAX_JSON_DEPTH = 64


class JsonTooDeep(ValueError):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH`."""


def loads_bounded(text, max_depth: int = MAX_JSON_DEPTH):
    """``json.loads(text)``, refusing (``JsonTooDeep``) documents nested deeper than ``max_depth``.

    Invalid JSON raises ``ValueError`` as ``json.loads`` does.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep("JSON nested more than %d levels deep" % max_depth) from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JsonTooDeep("JSON nested more than %d levels deep" % max_depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


def copy_stream(source, destination, length=None, observe=None) -> int:
    """Copy a readable stream into a writable one in ``CHUNK_SIZE`` pieces; return bytes copied.

    With ``length`` set, stop after that many bytes and raise ``EOFError`` if the
    source ends early (a client that disconnected mid-upload). ``observe(block)``, when
    given, sees every block written (a digest computed in the same pass).
    """
    copied = 0
    while length is None or copied < length:
        want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - copied)
        chunk = source.read(want)
        if not chunk:
            if length is not None:
                raise EOFError("request body ended after %d of %d bytes" % (copied, length))
            break
        destination.write(chunk)
        if observe is not None:
            observe(chunk)
        copied += len(chunk)
    return copied
