"""Decorators for client methods: JSON decoding and (bounded) retries."""
import functools
import json
import time

__all__ = ["parseJson", "parse_json", "retry", "DEFAULT_MAX_ATTEMPTS", "DEFAULT_DELAY"]

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_DELAY = 0.1


def parse_json():
    """Decode the (string) result of the wrapped call as JSON."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return json.loads(func(*args, **kwargs))

        return wrapper

    return decorate


parseJson = parse_json


def retry(attempts: int = DEFAULT_MAX_ATTEMPTS, delay: float = DEFAULT_DELAY, retry_on=None, sleep=time.sleep):
    """Call the function up to ``attempts`` times; re-raise the last error.

    ``retry_on(exception) -> bool`` limits which errors are retried (default:
    any ``Exception`` except those carrying ``transient = False``, so a
    permanent HTTP 4xx is raised at once).
    """

    def should_retry(exc):
        if retry_on is not None:
            return retry_on(exc)
        return getattr(exc, "transient", True) is not False

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(attempts):
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if attempt + 1 >= attempts or not should_retry(exc):
                        raise
                sleep(delay)

        return wrapper

    return decorate
