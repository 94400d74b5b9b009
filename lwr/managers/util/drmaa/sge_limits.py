"""Which limit Grid Engine enforced, from a ``qacct`` record.

For every limit kill Grid Engine writes the same ``failed 37 : qmaster enforced h_rt,
h_cpu, or h_vmem limit``. The record also holds the limits requested (``category -l
h_rt=3,h_vmem=150M``) and what the job used (``ru_wallclock``, ``cpu``, ``maxvmem``); a
used value at or over its limit names the one that was hit, in words Galaxy's
resubmission rules recognise ("walltime limit", "memory limit").
"""
import re
from typing import Dict, Optional

__all__ = ["explain_limit_kill", "requested_limits", "parse_memory", "parse_seconds"]

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3,
          "gb": 1024 ** 3, "t": 1024 ** 4, "tb": 1024 ** 4}
_DECIMAL = {"k": 1000, "m": 1000 ** 2, "g": 1000 ** 3, "t": 1000 ** 4}
_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*$")
_REQUEST = re.compile(r"(?:^|\s)-l\s+(\S+)")
#: Used values are rounded in qacct's output; allow a little slack.
_TOLERANCE = 0.98


def parse_memory(text) -> Optional[float]:
    """Bytes for ``150M`` / ``1.5G`` (requests: upper case 1024-based, lower case 1000-based, as
    Grid Engine reads them) or ``273.746MB`` / ``0.000B`` (qacct's usage figures)."""
    match = _MEMORY.match(str(text or ""))
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit in _DECIMAL:
        return number * _DECIMAL[unit]
    factor = _UNITS.get(unit.lower())
    return None if factor is None else number * factor


def parse_seconds(text) -> Optional[float]:
    """Seconds for ``3``, ``4s``, ``0.004s`` or ``h:m:s`` (``0:0:2``, ``1:30:00``)."""
    text = str(text or "").strip().rstrip("s")
    if not text:
        return None
    try:
        if ":" in text:
            total = 0.0
            for part in text.split(":"):
                total = total * 60 + float(part or 0)
            return total
        return float(text)
    except ValueError:
        return None


def requested_limits(category: str) -> Dict[str, str]:
    """``{"h_rt": "3", "h_vmem": "150M"}`` from qacct's ``category`` (``-l h_rt=3,h_vmem=150M``)."""
    limits = {}
    for group in _REQUEST.findall(category or ""):
        for item in group.split(","):
            name, _, value = item.partition("=")
            if value:
                limits[name.strip()] = value.strip()
    return limits


def explain_limit_kill(record: Dict[str, str]) -> Optional[str]:
    """A reason naming the limit Grid Engine enforced, or None when the record cannot tell."""
    limits = requested_limits(record.get("category", ""))
    memory_limit = parse_memory(limits.get("h_vmem"))
    used_memory = parse_memory(record.get("maxvmem"))
    if memory_limit and used_memory is not None and used_memory >= memory_limit * _TOLERANCE:
        return ("memory limit exceeded: Grid Engine killed the job at h_vmem=%s (maxvmem %s)"
                % (limits["h_vmem"], record.get("maxvmem", "").strip()))
    time_limit = parse_seconds(limits.get("h_rt"))
    used_time = parse_seconds(record.get("ru_wallclock"))
    if time_limit and used_time is not None and used_time >= time_limit - 1:
        return ("walltime limit exceeded: Grid Engine killed the job at h_rt=%s (ran %s)"
                % (limits["h_rt"], record.get("ru_wallclock", "").strip()))
    cpu_limit = parse_seconds(limits.get("h_cpu"))
    used_cpu = parse_seconds(record.get("cpu"))
    if cpu_limit and used_cpu is not None and used_cpu >= cpu_limit * _TOLERANCE:
        return ("CPU time limit exceeded: Grid Engine killed the job at h_cpu=%s (used %s)"
                % (limits["h_cpu"], record.get("cpu", "").strip()))
    return None
