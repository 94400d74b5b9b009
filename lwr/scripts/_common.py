"""Shared bits of the ``lwr.scripts.*`` command-line tools run through scripts/*.bash."""
import argparse
import configparser
import os
import sys
from typing import Optional

__all__ = ["ScriptError", "argument_parser", "read_app_option", "DEFAULT_INI", "DEFAULT_STAGING"]

DEFAULT_INI = "server.ini"
DEFAULT_STAGING = "lwr_staging"


class ScriptError(Exception):
    """A problem the user must fix; printed without a traceback, exit status 1."""


def argument_parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description)


def read_app_option(ini_path: str, option: str, default: Optional[str] = None, app: str = "main") -> Optional[str]:
    """``[app:<app>] <option>`` of a Paste ini file (``%(here)s`` = the file's directory)."""
    if not os.path.exists(ini_path):
        raise ScriptError("%s not found (run from the LWR root or pass --ini_path)" % ini_path)
    parser = configparser.ConfigParser(defaults={"here": os.path.dirname(os.path.abspath(ini_path))})
    parser.read(ini_path)
    section = "app:%s" % app
    if not parser.has_section(section):
        raise ScriptError("%s has no [%s] section" % (ini_path, section))
    return parser.get(section, option, fallback=default)


def run_main(main) -> int:
    """Run ``main()`` turning ScriptError into a one-line message and exit status 1."""
    try:
        return main() or 0
    except ScriptError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
