"""Retry budgets: how often, how far apart and for how long a transport retries a transient failure.

A :class:`RetryPolicy` retries a transient failure (no answer at all, HTTP 408/429 or a 5xx
other than 501/505/507) with exponentially growing, jittered pauses until either
``attempts`` were made or the total time ``budget`` is spent, whichever comes first.  The
defaults ride out a restart of Galaxy or of the LWR server (a few minutes at most): a policy
that gave up in 1.5 s made every ``remote_transfer`` job fail whenever Galaxy restarted.

The same five settings come from Galaxy destination parameters (the client) and from
``server.ini``'s ``[app:main]`` (the server's ``remote_transfer`` actions); see
:data:`PARAMETERS` and :func:`set_default_retry`.
"""
import logging
import os
import random
import time
from typing import Mapping, Optional

from lwr.lwr_client.exceptions import ServerUnavailable, TransportError
from lwr.lwr_client.transport.base import mask_url

__all__ = [
    "RetryPolicy",
    "PARAMETERS",
    "JITTERS",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_INITIAL_BACKOFF",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_BUDGET",
    "DEFAULT_JITTER",
    "set_default_retry",
    "default_retry",
    "add_arguments",
    "arguments_params",
]

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 100
DEFAULT_INITIAL_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 15.0
DEFAULT_BUDGET = 180.0
DEFAULT_JITTER = "full"
#: ``full``: a pause drawn from [0, min(max, initial * 2**n)]; ``decorrelated``: drawn from
#: [initial, 3 * the previous pause], capped at max; ``none``: exactly min(max, initial * 2**n).
JITTERS = ("full", "decorrelated", "none")

#: Parameter name -> RetryPolicy keyword, for destination parameters and server.ini options.
PARAMETERS = {
    "retry_max_attempts": "attempts",
    "retry_initial_backoff": "initial_backoff",
    "retry_max_backoff": "max_backoff",
    "retry_budget": "budget",
    "retry_jitter": "jitter",
}

_default: Optional["RetryPolicy"] = None


class RetryPolicy:
    """Retry transient failures with jittered exponential backoff inside a total time budget.

    ``attempts``: most tries in all (>= 1); ``initial_backoff`` / ``max_backoff``: first and
    largest pause (seconds); ``budget``: seconds from the first try after which no further
    try starts (0: no time limit, only ``attempts``); ``jitter``: one of :data:`JITTERS`.
    ``delay`` and ``max_delay`` are the older names of the two backoffs.  ``sleep``,
    ``clock`` and ``rng`` are the OS edge (tests pass fakes).

    Permanent errors (4xx other than 408/429, TLS failures, local I/O errors) are raised at
    once.  Every retry is logged at WARNING with the masked URL, the reason, ``attempt n/N``,
    the next pause and the budget left.  Giving up raises :class:`ServerUnavailable` when no
    answer ever came, else the last :class:`TransportError`; both name the limit reached.
    """

    def __init__(self, attempts: int = DEFAULT_ATTEMPTS, initial_backoff: Optional[float] = None,
                 max_backoff: Optional[float] = None, budget: float = DEFAULT_BUDGET,
                 jitter: str = DEFAULT_JITTER, delay: Optional[float] = None, max_delay: Optional[float] = None,
                 factor: float = 2.0, sleep=time.sleep, clock=time.monotonic, rng=None):
        if initial_backoff is None:
            initial_backoff = DEFAULT_INITIAL_BACKOFF if delay is None else delay
        if max_backoff is None:
            max_backoff = DEFAULT_MAX_BACKOFF if max_delay is None else max_delay
        if jitter not in JITTERS:
            raise ValueError("retry_jitter %r: expected one of %s" % (jitter, ", ".join(JITTERS)))
        self.attempts = max(1, int(attempts))
        self.initial_backoff = max(0.0, float(initial_backoff))
        self.max_backoff = max(self.initial_backoff, float(max_backoff))
        self.budget = max(0.0, float(budget))
        self.jitter = jitter
        self.factor = factor
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    # Older names, still read by callers that built a policy with them.
    @property
    def delay(self) -> float:
        return self.initial_backoff

    @property
    def max_delay(self) -> float:
        return self.max_backoff

    def __repr__(self):
        return ("RetryPolicy(attempts=%d, initial_backoff=%g, max_backoff=%g, budget=%g, jitter=%r)"
                % (self.attempts, self.initial_backoff, self.max_backoff, self.budget, self.jitter))

    def replace(self, **changes) -> "RetryPolicy":
        """A copy with some settings changed (the OS edge is kept)."""
        settings = {"attempts": self.attempts, "initial_backoff": self.initial_backoff,
                    "max_backoff": self.max_backoff, "budget": self.budget, "jitter": self.jitter,
                    "factor": self.factor, "sleep": self.sleep, "clock": self.clock, "rng": self.rng}
        settings.update(changes)
        return RetryPolicy(**settings)

    # -- construction from configuration -------------------------------------------------------
    @classmethod
    def from_environ(cls, environ=os.environ) -> "RetryPolicy":
        """The process default (:func:`set_default_retry`) if set, else the built-in defaults with
        ``LWR_CLIENT_RETRIES`` (attempts), ``LWR_CLIENT_RETRY_DELAY`` (initial backoff) and
        ``LWR_CLIENT_RETRY_BUDGET`` (seconds) from the environment."""
        if _default is not None:
            return _default
        changes = {}
        for variable, name, kind in (("LWR_CLIENT_RETRIES", "attempts", int),
                                     ("LWR_CLIENT_RETRY_DELAY", "initial_backoff", float),
                                     ("LWR_CLIENT_RETRY_BUDGET", "budget", float)):
            if environ.get(variable):
                changes[name] = kind(environ[variable])
        return cls(**changes)

    def with_params(self, params: Optional[Mapping]) -> "RetryPolicy":
        """This policy changed by the ``retry_*`` entries of ``params`` (destination parameters or
        ``[app:main]`` options); ``self`` when there are none.  A bad value raises ``ValueError``
        naming the parameter."""
        changes = parse_params(params)
        return self.replace(**changes) if changes else self

    # -- retrying --------------------------------------------------------------------------------
    def _backoff(self, retry: int, previous: float) -> float:
        exponential = min(self.max_backoff, self.initial_backoff * (self.factor ** retry))
        if self.jitter == "none":
            return exponential
        if self.jitter == "full":
            return self.rng.uniform(0, exponential)
        return min(self.max_backoff, self.rng.uniform(self.initial_backoff, max(self.initial_backoff, previous * 3)))

    def call(self, func, method: str, url: str):
        """``func()``'s result, retrying its transient :class:`TransportError` as configured."""
        start = self.clock()
        last = None
        previous = self.initial_backoff
        attempt = 0
        spent = False
        while True:
            attempt += 1
            try:
                return func()
            except TransportError as exc:
                # An answer that follows a failed attempt may describe that attempt's effect
                # (a 409 to a repeated submit whose first try reached the server).
                exc.retried = attempt > 1
                if not exc.transient:
                    raise
                last = exc
            elapsed = self.clock() - start
            left = self.budget - elapsed if self.budget else None
            if attempt >= self.attempts:
                break
            if left is not None and left <= 0:
                spent = True
                break
            pause = self._backoff(attempt - 1, previous)
            previous = max(pause, self.initial_backoff)
            if left is not None:
                pause = min(pause, left)
            log.warning("%s %s failed (attempt %d/%d): %s; retrying in %.1f s%s", method, mask_url(url), attempt,
                        self.attempts, getattr(last, "reason", None) or last, pause,
                        "" if left is None else ", %.1f s of the %g s retry budget left" % (left, self.budget))
            self.sleep(pause)
        elapsed = self.clock() - start
        if spent:
            limit = "the %g s retry budget (retry_budget) is spent" % self.budget
        else:
            limit = "retry_max_attempts is %d" % self.attempts
        if last.status is None:
            raise ServerUnavailable(
                "server not reachable at %s after %d attempts in %.1f s (%s): %s"
                % (mask_url(url), attempt, elapsed, limit, getattr(last, "reason", last)), url=last.url,
                method=method, transient=True)
        raise TransportError("%s (gave up after %d attempts in %.1f s: %s)" % (last, attempt, elapsed, limit),
                             status=last.status, url=last.url, method=method, server_message=last.server_message,
                             transient=True)


def _number(name, text, kind=float, minimum=0.0):
    expected = "whole number" if kind is int else "number of seconds"
    try:
        value = kind(str(text).strip())
    except ValueError:
        raise ValueError("%s = %r: expected a %s" % (name, text, expected)) from None
    if value < minimum:
        raise ValueError("%s = %r: expected at least %g" % (name, text, minimum))
    return value


def parse_params(params: Optional[Mapping]) -> dict:
    """RetryPolicy keywords from the ``retry_*`` entries of ``params`` (others are ignored)."""
    changes = {}
    for name, keyword in PARAMETERS.items():
        text = (params or {}).get(name)
        if text is None or str(text).strip() == "":
            continue
        if keyword == "jitter":
            value = str(text).strip().lower()
            if value not in JITTERS:
                raise ValueError("%s = %r: expected one of %s" % (name, text, ", ".join(JITTERS)))
            changes[keyword] = value
        elif keyword == "attempts":
            changes[keyword] = _number(name, text, int, 1)
        else:
            changes[keyword] = _number(name, text)
    if "initial_backoff" in changes and "max_backoff" in changes \
            and changes["max_backoff"] < changes["initial_backoff"]:
        raise ValueError("retry_max_backoff = %g is below retry_initial_backoff = %g"
                         % (changes["max_backoff"], changes["initial_backoff"]))
    return changes


_HELP = {
    "retry_max_attempts": "most attempts per request, the first included (default %d)" % DEFAULT_ATTEMPTS,
    "retry_initial_backoff": "seconds of the first wait before a retry (default %g)" % DEFAULT_INITIAL_BACKOFF,
    "retry_max_backoff": "longest wait in seconds between two attempts (default %g)" % DEFAULT_MAX_BACKOFF,
    "retry_budget": "seconds after a request's first attempt when no further attempt starts; 0: no time "
                    "limit (default %g)" % DEFAULT_BUDGET,
    "retry_jitter": "spreading of the waits: %s (default %s)" % (", ".join(JITTERS), DEFAULT_JITTER),
}


def add_arguments(parser, what: str = "HTTP requests") -> None:
    """``--retry_max_attempts`` ... ``--retry_jitter`` on an ``argparse`` parser (the command-line
    form of :data:`PARAMETERS`); :func:`arguments_params` reads them back."""
    group = parser.add_argument_group("retry budget", "how %s that fail without an answer, time out or get "
                                                      "HTTP 408/429/5xx are retried" % what)
    for name in PARAMETERS:
        group.add_argument("--%s" % name, default=None, metavar="N" if name != "retry_jitter" else "KIND",
                           choices=JITTERS if name == "retry_jitter" else None, help=_HELP[name])


def arguments_params(args) -> dict:
    """The ``retry_*`` parameters given on the command line (checked), as strings."""
    values = vars(args) if not isinstance(args, Mapping) else args
    given = {name: str(values[name]) for name in PARAMETERS if values.get(name) is not None}
    parse_params(given)
    return given


def set_default_retry(policy: Optional[RetryPolicy]) -> None:
    """Make ``policy`` what every transport built without an explicit one uses in this process
    (the server sets it from ``[app:main]`` so its ``remote_transfer`` actions follow it);
    None restores the built-in/environment defaults."""
    global _default
    _default = policy


def default_retry() -> Optional[RetryPolicy]:
    return _default
