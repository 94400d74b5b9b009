"""Handlers for the object-store routes of spec §1.3 (``/objects/{object_id}...``), each named
after its row in :data:`lwr.lwr_client.route_table.ROUTES`.

Parameters arrive as strings; the booleans (``dir_only``, ``extra_dir_at_root``,
``create``) are parsed, so ``False`` means false (0.2.0 treated any non-empty string as
true). As in 0.2.0, ``delete`` ignores ``entire_dir`` and ``base_dir``.
"""
import codecs
import json

from webob import Response

from lwr.objectstore import Dataset
from lwr.util import asbool
from lwr.web.framework import HttpError

__all__ = ["parse_bool"]

DATA_CHUNK = 256 * 1024


def parse_bool(name, value):
    try:
        return asbool(value)
    except ValueError:
        raise HttpError(400, "parameter %r must be true or false, not %r" % (name, value))


def _int(name, value, minimum):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HttpError(400, "parameter %r must be an integer, not %r" % (name, value))
    if number < minimum:
        raise HttpError(400, "parameter %r must be at least %d, got %d" % (name, minimum, number))
    return number


def _store(object_store):
    if object_store is None:
        raise HttpError(404, "this LWR serves no object store (set object_store_config_file)")
    return object_store


def _location(base_dir=None, dir_only=None, extra_dir=None, extra_dir_at_root=None, alt_name=None):
    return {"base_dir": base_dir or None, "dir_only": parse_bool("dir_only", dir_only),
            "extra_dir": extra_dir or None,
            "extra_dir_at_root": parse_bool("extra_dir_at_root", extra_dir_at_root),
            "alt_name": alt_name or None}


def _apply(object_store, operation, object_id, *location):
    """``store.<operation>(dataset, **location)``, the location parsed from its query parameters."""
    return getattr(_store(object_store), operation)(Dataset(object_id), **_location(*location))


def object_store_exists(object_store, object_id, base_dir=None, dir_only=None, extra_dir=None,
                        extra_dir_at_root=None, alt_name=None):
    return _apply(object_store, "exists", object_id, base_dir, dir_only, extra_dir, extra_dir_at_root, alt_name)


def object_store_file_ready(object_store, object_id, base_dir=None, dir_only=None, extra_dir=None,
                            extra_dir_at_root=None, alt_name=None):
    return _apply(object_store, "file_ready", object_id, base_dir, dir_only, extra_dir, extra_dir_at_root, alt_name)


def object_store_create(object_store, object_id, base_dir=None, dir_only=None, extra_dir=None,
                        extra_dir_at_root=None, alt_name=None):
    _apply(object_store, "create", object_id, base_dir, dir_only, extra_dir, extra_dir_at_root, alt_name)
    return None


def object_store_empty(object_store, object_id, base_dir=None, extra_dir=None, extra_dir_at_root=None,
                       alt_name=None):
    return _apply(object_store, "empty", object_id, base_dir, None, extra_dir, extra_dir_at_root, alt_name)


def object_store_size(object_store, object_id, extra_dir=None, extra_dir_at_root=None, alt_name=None):
    return _apply(object_store, "size", object_id, None, None, extra_dir, extra_dir_at_root, alt_name)


def object_store_delete(object_store, object_id, entire_dir=None, base_dir=None, extra_dir=None,
                        extra_dir_at_root=None, alt_name=None):
    # entire_dir and base_dir are accepted but ignored, as in 0.2.0: a remote caller never
    # removes a whole directory or reaches into the job working / temp directories.
    return _apply(object_store, "delete", object_id, None, None, extra_dir, extra_dir_at_root, alt_name)


def object_store_get_data(object_store, object_id, start="0", count="-1", base_dir=None, extra_dir=None,
                          extra_dir_at_root=None, alt_name=None):
    """A JSON string of ``count`` bytes from ``start`` (UTF-8; undecodable bytes become U+FFFD).

    Streamed in two passes over the file (one to size the response, one to send it), so a
    large range never sits in memory.
    """
    start = _int("start", start, 0)
    count = _int("count", count, -1)
    handle = _apply(object_store, "open_data", object_id, None, None, extra_dir, extra_dir_at_root, alt_name)
    try:
        length = sum(len(piece) for piece in _json_string_pieces(handle, start, count))
    except BaseException:
        handle.close()
        raise
    response = Response(content_type="application/json", charset=None)
    response.app_iter = _ClosingIterable(_json_string_pieces(handle, start, count), handle)
    response.content_length = length
    return response


def _json_string_pieces(handle, start, count):
    handle.seek(start)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    remaining = count
    yield b'"'
    while remaining != 0:
        block = handle.read(DATA_CHUNK if remaining < 0 else min(DATA_CHUNK, remaining))
        if not block:
            break
        if remaining > 0:
            remaining -= len(block)
        text = decoder.decode(block)
        if text:
            yield json.dumps(text)[1:-1].encode("ascii")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield json.dumps(tail)[1:-1].encode("ascii")
    yield b'"'


class _ClosingIterable:
    def __init__(self, pieces, handle):
        self.pieces = pieces
        self.handle = handle

    def __iter__(self):
        return iter(self.pieces)

    def close(self):
        self.handle.close()


def object_store_get_filename(object_store, object_id, base_dir=None, dir_only=None, extra_dir=None,
                              extra_dir_at_root=None, alt_name=None):
    return _apply(object_store, "get_filename", object_id, base_dir, dir_only, extra_dir, extra_dir_at_root, alt_name)


def object_store_update_from_file(object_store, object_id, base_dir=None, extra_dir=None,
                                  extra_dir_at_root=None, alt_name=None, file_name=None, create=None):
    _store(object_store).update_from_file(
        Dataset(object_id), file_name=file_name or None, create=parse_bool("create", create),
        **_location(base_dir, None, extra_dir, extra_dir_at_root, alt_name))
    return None


def object_store_get_store_usage_percent(object_store):
    return _store(object_store).get_store_usage_percent()
