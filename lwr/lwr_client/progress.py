"""Progress of file transfers: a callback per file, and a display with rate and ETA.

Both transports report each file they upload or download (bodies from files, downloads to
files; not small JSON answers) to a *progress factory*: ``factory(path, direction)``, called
once per transfer with the local file's path and ``"upload"`` or ``"download"``, returns the
callback for that file - ``callback(bytes_done, bytes_total)`` - or None to skip it. The
callback is called as blocks move and a last time with ``bytes_done == bytes_total`` when the
file is complete (``bytes_total`` is None until then when the server sent no length). A retried
attempt starts again from 0; a resumed one (``docs/transfers.rst``) from the offset the server
holds. A callback that raises aborts the transfer.

The factory is the transport's (``get_transport(progress=...)``,
``build_client_manager(progress=...)``), else the process-wide one set with
:func:`set_default_progress` (which also covers transfers the server side makes for
``remote_transfer`` actions in the same process). Without either nothing is called: a
transport looks the factory up once per file.

:class:`ProgressDisplay` is a factory that draws the transfers on a terminal - one line,
redrawn - or, on a stream that is not a terminal, prints a line now and then and one per
finished file. :func:`display_for` builds one when it should be shown (a terminal, or forced).
"""
import os
import shutil
import sys
import threading
import time
from collections import deque
from typing import Callable, Optional

__all__ = [
    "set_default_progress",
    "default_progress",
    "callback_for",
    "ProgressDisplay",
    "display_for",
    "format_bytes",
    "format_rate",
    "format_eta",
    "format_progress",
    "parse_size",
    "RateMeter",
]

ProgressCallback = Callable[[int, Optional[int]], None]
ProgressFactory = Callable[[str, str], Optional[ProgressCallback]]

_default: Optional[ProgressFactory] = None

#: A transfer not heard of for this long leaves the display.
STALE_SECONDS = 30.0


def set_default_progress(factory: Optional[ProgressFactory]) -> None:
    """Report every transfer of this process without a factory of its own to ``factory`` (None: stop)."""
    global _default
    _default = factory


def default_progress() -> Optional[ProgressFactory]:
    return _default


def callback_for(factory: Optional[ProgressFactory], path: str, direction: str) -> Optional[ProgressCallback]:
    """The callback for one file: from ``factory``, else the process default; None when neither wants it."""
    factory = factory or _default
    if factory is None:
        return None
    return factory(path, direction)


# -- formatting ----------------------------------------------------------------------------------
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(value, option: str = "size") -> int:
    """A byte count: a whole number, optionally followed by K, M, G or T (powers of 1024).

    >>> parse_size("1048576"), parse_size("512M"), parse_size("2GiB")
    (1048576, 536870912, 2147483648)
    """
    text = str(value).strip().lower()
    if text.endswith("ib"):
        text = text[:-2]
    elif text.endswith("b") and text[:-1].isdigit():
        text = text[:-1]
    unit = text[-1:] if text[-1:] and text[-1:] in _UNITS else ""
    number = text[:-1] if unit else text
    if not number.isdigit():
        raise ValueError("%s must be a number of bytes (optionally with K, M, G or T), not %r" % (option, value))
    return int(number) * _UNITS[unit]


def format_bytes(count) -> str:
    """``1536`` -> ``1.5 KiB``; below 1 KiB, bytes.

    >>> format_bytes(0), format_bytes(1023), format_bytes(1536), format_bytes(5 * 1024 ** 3)
    ('0 B', '1023 B', '1.5 KiB', '5.0 GiB')
    """
    size = float(count)
    if size < 1024:
        return "%d B" % count
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            return "%.1f %s" % (size, unit)


def format_rate(bytes_per_second) -> str:
    """Bytes per second; None (not known yet) as ``--``.

    >>> format_rate(None), format_rate(3 * 1024 ** 2)
    ('-- B/s', '3.0 MiB/s')
    """
    if bytes_per_second is None:
        return "-- B/s"
    return "%s/s" % format_bytes(int(bytes_per_second))


def format_eta(seconds) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` up to 99 hours.

    >>> format_eta(None), format_eta(0), format_eta(65.4), format_eta(3725), format_eta(10 ** 6)
    ('--:--', '0:00', '1:06', '1:02:05', '>99h')
    """
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.999)
    if seconds >= 100 * 3600:
        return ">99h"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%d:%02d:%02d" % (hours, minutes, secs)
    return "%d:%02d" % (minutes, secs)


def format_progress(label: str, done: int, total: Optional[int], rate: Optional[float]) -> str:
    """One transfer in flight.

    >>> format_progress("upload a.dat", 512 * 1024 ** 2, 1024 ** 3, 128 * 1024 ** 2)
    'upload a.dat  512.0 MiB / 1.0 GiB  50%  128.0 MiB/s  ETA 0:04'
    >>> format_progress("download b", 3 * 1024 ** 2, None, None)
    'download b  3.0 MiB  -- B/s'
    """
    if total is None:
        return "%s  %s  %s" % (label, format_bytes(done), format_rate(rate))
    percent = int(100 * done / total) if total else 100
    eta = (total - done) / rate if rate else None
    return "%s  %s / %s  %d%%  %s  ETA %s" % (label, format_bytes(done), format_bytes(total), percent,
                                              format_rate(rate), format_eta(eta))


def format_done(label: str, total: int, seconds: float) -> str:
    """A finished transfer.

    >>> format_done("upload a.dat", 1024 ** 3, 8.0)
    'upload a.dat  1.0 GiB in 8.0s (128.0 MiB/s)'
    """
    rate = total / seconds if seconds > 0 else None
    return "%s  %s in %.1fs (%s)" % (label, format_bytes(total), seconds, format_rate(rate))


class RateMeter:
    """Bytes per second over the last ``window`` seconds (since the start before that)."""

    def __init__(self, now: float, window: float = 5.0):
        self.window = window
        self.samples = deque([(now, 0)])

    def add(self, now: float, done: int) -> None:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def rate(self) -> Optional[float]:
        (first_time, first_done), (last_time, last_done) = self.samples[0], self.samples[-1]
        if last_time - first_time < 0.2:
            return None
        return (last_done - first_done) / (last_time - first_time)


# -- the display ---------------------------------------------------------------------------------
class _Transfer:
    def __init__(self, display, label, now):
        self.display = display
        self.label = label
        self.started = now
        self.meter = RateMeter(now)
        self.done = 0
        self.total = None
        self.updated = now

    def __call__(self, bytes_done: int, bytes_total: Optional[int]) -> None:
        self.display._update(self, bytes_done, bytes_total)


class ProgressDisplay:
    """A progress factory drawing on ``stream``.

    On a terminal one status line is redrawn at most every ``interval`` seconds for the
    transfers running for ``show_after`` seconds or more (several at once are summed up on
    it); a transfer that took at least ``min_seconds``
    leaves a line saying its size, time and rate. Elsewhere (a log, a pipe) a line per
    transfer in flight every ``interval`` seconds, and one per finished transfer.
    """

    def __init__(self, stream=None, tty: Optional[bool] = None, interval: Optional[float] = None,
                 min_seconds: float = 1.0, show_after: float = 0.5, clock=time.monotonic,
                 width: Optional[int] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.interval = interval if interval is not None else (0.25 if self.tty else 5.0)
        self.min_seconds = min_seconds
        self.show_after = show_after
        self.clock = clock
        self.width = width
        self._lock = threading.Lock()
        self._active = []
        self._last_draw = None
        self._line_shown = False

    def __call__(self, path: str, direction: str) -> ProgressCallback:
        return _Transfer(self, "%s %s" % (direction, os.path.basename(path) or path), self.clock())

    def _update(self, transfer, done, total):
        with self._lock:
            now = self.clock()
            if transfer not in self._active:
                self._active.append(transfer)
            if done < transfer.done:  # a retried attempt starts over
                transfer.started, transfer.meter = now, RateMeter(now)
            transfer.done, transfer.total, transfer.updated = done, total, now
            transfer.meter.add(now, done)
            if total is not None and done >= total:
                self._finish(transfer, now)
            elif self._last_draw is None or now - self._last_draw >= self.interval:
                self._draw(now)

    def _finish(self, transfer, now):
        self._active.remove(transfer)
        seconds = now - transfer.started
        if not self.tty:
            self._write(format_done(transfer.label, transfer.total, seconds) + "\n")
            return
        self._clear()
        if seconds >= self.min_seconds:
            self._write(self._fit(format_done(transfer.label, transfer.total, seconds)) + "\n")
        if self._active:
            self._draw(now)

    def _draw(self, now):
        self._last_draw = now
        # A transfer that failed for good says nothing more: off the line after a while
        # (it comes back with its next block if it was only stalled).
        self._active = [t for t in self._active if now - t.updated < STALE_SECONDS]
        if not self._active:
            return
        if not self.tty:
            for transfer in self._active:
                self._write(format_progress(transfer.label, transfer.done, transfer.total,
                                            transfer.meter.rate()) + "\n")
            return
        shown = [t for t in self._active if now - t.started >= self.show_after]  # no flicker of small files
        if not shown:
            self._clear()
            return
        if len(shown) == 1:
            transfer = shown[0]
            line = format_progress(transfer.label, transfer.done, transfer.total, transfer.meter.rate())
        else:
            totals = [t.total for t in shown]
            rates = [t.meter.rate() for t in shown]
            line = format_progress("%d transfers" % len(shown), sum(t.done for t in shown),
                                   None if None in totals else sum(totals),
                                   None if None in rates else sum(rates))
        self._write("\r\x1b[K" + self._fit(line))
        self._line_shown = True

    def _fit(self, line):
        width = self.width or shutil.get_terminal_size((100, 24)).columns
        return line if len(line) < width else line[:max(width - 2, 10)] + "…"

    def _clear(self):
        if self._line_shown:
            self._write("\r\x1b[K")
            self._line_shown = False

    def clear(self) -> None:
        """Take the status line away (before printing something else on the terminal)."""
        with self._lock:
            if self.tty:
                self._clear()
                self._last_draw = None

    close = clear

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is not worth failing for
            pass


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def display_for(stream=None, force: bool = False) -> Optional[ProgressDisplay]:
    """A display when ``stream`` (default standard error) is a terminal or ``force`` is set; else None."""
    stream = stream if stream is not None else sys.stderr
    if not force and not _isatty(stream):
        return None
    return ProgressDisplay(stream)
