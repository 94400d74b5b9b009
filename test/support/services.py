"""Decide whether a test that needs a real service runs, skips or fails.

On a developer's machine a test whose service is absent is skipped with a
one-line reason.  In CI (``LWR_TEST_REQUIRE_SERVICES=1``) an absent service is
a failure: a skipped test checks nothing.
"""
import os
import socket

import pytest

__all__ = ["services_required", "require", "port_open"]


def services_required() -> bool:
    return os.environ.get("LWR_TEST_REQUIRE_SERVICES", "0") not in ("", "0", "false", "no")


def require(available: bool, reason: str) -> None:
    """Skip (or, in CI, fail) the calling test unless ``available``."""
    if available:
        return
    if services_required():
        pytest.fail("required service absent: %s" % reason, pytrace=False)
    pytest.skip(reason)  # skipped only while LWR_TEST_REQUIRE_SERVICES is unset (see above)


def port_open(host: str, port: int, timeout: float = 0.5, tries: int = 4) -> bool:
    """Something accepts connections there. A refusal answers at once; a connection that times out
    (a loaded 2-core machine can be slow to accept) is tried again, with a doubled timeout."""
    for _ in range(tries):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except socket.timeout:
            timeout *= 2
        except OSError:
            return False
    return False
