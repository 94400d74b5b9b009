"""HTCondor for the ``queued_condor`` manager: submit description, submit output, user-log status.

Everything here is pure text handling; the manager runs ``condor_submit`` / ``condor_rm``.
"""
import re
from typing import Dict, Mapping, Optional

from .user_log import EVENT_STATES, parse_user_log, user_log_status

__all__ = ["DEFAULT_SUBMIT_PARAMS", "SUBMIT_PARAM_PREFIX", "build_submit_description",
           "submit_params_from_options", "parse_external_id", "condor_submit_command",
           "condor_rm_command", "parse_user_log", "user_log_status", "EVENT_STATES"]

SUBMIT_PARAM_PREFIX = "submit_"
DEFAULT_SUBMIT_PARAMS = {"universe": "vanilla", "getenv": "true", "notification": "NEVER"}
_RESERVED = ("executable", "output", "error", "log", "queue")
_KEY_RE = re.compile(r"^[A-Za-z+][A-Za-z0-9_.+]*$")
_SUBMITTED_RE = re.compile(r"submitted to cluster (\d+)\.")


def submit_params_from_options(options: Mapping[str, object]) -> Dict[str, str]:
    """Manager options ``submit_<key>`` -> {key (lower case): value}."""
    return {key[len(SUBMIT_PARAM_PREFIX):].lower(): str(value) for key, value in options.items()
            if key.startswith(SUBMIT_PARAM_PREFIX) and len(key) > len(SUBMIT_PARAM_PREFIX)}


def _line(key: str, value: object) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError("condor submit parameter %s must not contain a line break" % key)
    return "%s = %s" % (key, text)


def build_submit_description(executable: str, output: str, error: str, log: str,
                             submit_params: Optional[Mapping[str, object]] = None) -> str:
    """The text of ``job.condor.submit``: defaults, then ``submit_params``, then the job's files."""
    params: Dict[str, object] = dict(DEFAULT_SUBMIT_PARAMS)
    for key, value in (submit_params or {}).items():
        key = str(key).lower()
        if not _KEY_RE.match(key):
            raise ValueError("bad condor submit parameter name %r" % key)
        if key in _RESERVED:
            raise ValueError("condor submit parameter %s is set by LWR" % key)
        params[key] = value
    lines = [_line(k, v) for k, v in params.items()]
    lines += [_line("executable", executable), _line("output", output), _line("error", error),
              _line("log", log), "queue"]
    return "\n".join(lines) + "\n"


def parse_external_id(output: str) -> str:
    """The cluster id in ``condor_submit``'s output (``1 job(s) submitted to cluster 42.``)."""
    match = _SUBMITTED_RE.search(output)
    if not match:
        raise ValueError("no 'submitted to cluster N.' in condor_submit output: %r" % output.strip()[-300:])
    return match.group(1)


def condor_submit_command(submit_file: str) -> list:
    return ["condor_submit", submit_file]


def condor_rm_command(external_id: str) -> list:
    return ["condor_rm", str(external_id)]
