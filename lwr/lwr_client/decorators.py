"""Decorators for client methods: JSON decoding.  (Retries are the transports'
:class:`~lwr.lwr_client.transport.retry.RetryPolicy`.)"""
import functools
import json

__all__ = ["parseJson", "parse_json"]


def parse_json():
    """Decode the (string) result of the wrapped call as JSON."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return json.loads(func(*args, **kwargs))

        return wrapper

    return decorate


parseJson = parse_json

