"""The query string, decoded one way for every reader: route binding, the token check, log masking.

The decoding is WebOb's (``Request.GET``), the one LWR has always used: ``+`` is a space,
pairs are separated by ``&`` *or* ``;``, names and values are percent-decoded to bytes and
then read as UTF-8. ``private%5Fkey=T``, ``%70rivate_token=T`` and ``x=1;private_key=T``
therefore all carry the token, and the log masking (:func:`mask_query`, :func:`mask_text`)
finds them with the same function (:func:`decode_component`) the token check uses.
"""
import re
from typing import Dict, Iterator, List, Optional, Tuple
from urllib.parse import unquote_to_bytes

__all__ = ["SECRET_NAMES", "MASK", "QueryError", "decode_component", "query_items", "query_dict",
           "mask_query", "mask_text", "count_parameters"]

#: Query parameters that carry the shared secret (LWR 0.2.0's name and Pulsar's).
SECRET_NAMES = ("private_key", "private_token")
MASK = "********"

_PAIR = re.compile(r"[^&;]+")
#: ``name=value`` inside any text (a logged URL, an environ's repr, an exception message).
_TEXT_PAIR = re.compile(r"([^\s&;?'\"=<>,(){}\[\]]+)=([^\s&;'\"<>,#)}\]]*)")


class QueryError(ValueError):
    """The query string cannot be decoded (not UTF-8 after percent-decoding)."""


def decode_component(text: str, errors: str = "strict") -> str:
    """Decode one name or value exactly as WebOb does: ``+`` -> space, percent-decoding, UTF-8."""
    raw = text.encode("latin-1", "replace").replace(b"+", b" ")
    try:
        return unquote_to_bytes(raw).decode("utf-8", errors)
    except UnicodeDecodeError:
        raise QueryError("the query string is not valid UTF-8")


def _spans(query_string: str) -> Iterator[Tuple[str, str, int, int]]:
    """``(raw_name, raw_value, value_start, value_end)`` for each pair, in order."""
    for match in _PAIR.finditer(query_string or ""):
        pair = match.group(0)
        name, sep, value = pair.partition("=")
        start = match.start() + len(name) + len(sep)
        yield name, value, start, match.end()


def count_parameters(query_string: str) -> int:
    return sum(1 for _ in _PAIR.finditer(query_string or ""))


def query_items(query_string: str) -> List[Tuple[str, str]]:
    """Every ``(name, value)`` pair, decoded; :class:`QueryError` if one is not UTF-8."""
    return [(decode_component(name), decode_component(value))
            for name, value, _start, _end in _spans(query_string)]


def query_dict(query_string: str) -> Dict[str, str]:
    """Name -> value; the last of repeated names wins (as ``Request.GET.get`` answers)."""
    return dict(query_items(query_string))


def _is_secret_name(raw_name: str) -> bool:
    try:
        return decode_component(raw_name, errors="replace") in SECRET_NAMES
    except QueryError:  # pragma: no cover - errors="replace" never raises
        return False


def mask_query(query_string: Optional[str]) -> str:
    """The query string with the value of every parameter that decodes to a secret name masked.

    >>> mask_query("job_id=1&private%5Fkey=s3cret;x=2")
    'job_id=1&private%5Fkey=********;x=2'
    """
    text = query_string or ""
    pieces, last = [], 0
    for name, _value, start, end in _spans(text):
        if end > start and _is_secret_name(name):
            pieces += [text[last:start], MASK]
            last = end
    pieces.append(text[last:])
    return "".join(pieces)


def mask_text(text: str, secrets: Tuple[str, ...] = ()) -> str:
    """Mask secret query parameters anywhere in free text, and every literal ``secrets`` value."""
    def replace(match):
        if _is_secret_name(match.group(1)):
            return match.group(1) + "=" + MASK
        return match.group(0)

    if "=" in text:
        text = _TEXT_PAIR.sub(replace, text)
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text
