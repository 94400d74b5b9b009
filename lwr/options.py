"""Declared configuration options: one table per component drives validation and the docs.

An :class:`OptionSet` lists every option a section of ``server.ini``, ``job_managers.ini``
(or the object-store file) may hold, each an :class:`Option` with a name, a kind (which
parses and checks the value), a default and a line of documentation.  Validating a section
refuses the first unknown option (naming the nearest known one) or bad value with a
:class:`ConfigurationError` whose text is one line naming the file, the section and the
option.  The tables are read by ``docs/_ext/lwr_options.py`` to write the docs' option
tables, so the docs cannot drift from what the server accepts.

Standard library only: imported by every entry point before anything is built.
"""
import difflib
import os
import re
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence

__all__ = ["ConfigurationError", "Kind", "Option", "OptionSet", "STRING", "PATH", "BOOL", "integer",
           "number", "choice", "PORT", "DURATION", "OCTAL", "CONCURRENCY", "PEM_FILE", "TRUE_WORDS",
           "FALSE_WORDS", "one_line", "OptionValueError"]

TRUE_WORDS = ("true", "yes", "on", "1", "y", "t")
FALSE_WORDS = ("false", "no", "off", "0", "n", "f", "none")


class ConfigurationError(ValueError):
    """A configuration the server cannot use; it refuses to start with this one-line message.
    A ``ValueError``: a configured value the server cannot take.

    ``file``, ``section`` and ``option`` say where; :meth:`located` fills in what the raiser
    did not know (a manager knows its section, the factory knows the file).
    """

    def __init__(self, message: str, file: Optional[str] = None, section: Optional[str] = None,
                 option: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.section = section
        self.option = option

    def located(self, file: Optional[str] = None, section: Optional[str] = None) -> "ConfigurationError":
        if self.file is None and file:
            self.file = file
        if self.section is None and section:
            self.section = section
        return self

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append("%s:" % self.file)
        if self.section and not self.message.startswith("[%s]" % self.section):
            where.append("[%s]" % self.section)
        return one_line(" ".join(where + [self.message]))


def one_line(text: str) -> str:
    """Newlines in a value or an OS message would break the one-line promise."""
    return " ".join(str(text).split())


class OptionValueError(ValueError):
    """Raised by a kind's parser with a reason worth showing after "expected ..."."""


class Kind:
    """How an option's text is read: ``parse`` returns the value or raises ``ValueError``;
    ``expected`` completes "expected ..." in the error message and names the kind in the docs."""

    def __init__(self, name: str, parse: Callable[[str], object], expected: str):
        self.name = name
        self.parse = parse
        self.expected = expected

    def __repr__(self) -> str:
        return "Kind(%s)" % self.name


def _string(text):
    return text


def _bool(text):
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(text)


def integer(minimum: Optional[int] = None, maximum: Optional[int] = None) -> Kind:
    def parse(text):
        value = int(text.strip())
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ValueError(text)
        return value
    bounds = _bounds(minimum, maximum)
    return Kind("integer", parse, "a whole number" + bounds)


def number(minimum: Optional[float] = None, positive: bool = False) -> Kind:
    def parse(text):
        value = float(text.strip())
        if value != value or (minimum is not None and value < minimum) or (positive and value <= 0):
            raise ValueError(text)
        return value
    bounds = " greater than 0" if positive else _bounds(minimum, None)
    return Kind("number", parse, "a number" + bounds)


def _bounds(minimum, maximum):
    if minimum is not None and maximum is not None:
        return " from %s to %s" % (minimum, maximum)
    if minimum is not None:
        return " of at least %s" % minimum
    return ""


def choice(*values: str, ignore_case: bool = False) -> Kind:
    def parse(text):
        word = text.strip().lower() if ignore_case else text.strip()
        if word not in values:
            raise ValueError(text)
        return word
    return Kind("choice", parse, "one of " + ", ".join(values))


def _duration(text):
    # Same grammar as lwr.managers.retention.parse_duration (kept free of its imports here).
    word = text.strip().lower()
    if word in ("", "off", "none", "false", "never"):
        return None
    if not re.match(r"^\d+(?:\.\d+)?\s*[smhd]?$", word):
        raise ValueError(text)
    return word


def _octal(text):
    return int(text.strip(), 8)


def _concurrency(text):
    if text.strip() == "*":
        return "*"
    value = int(text.strip())
    if value < 0:
        raise ValueError(text)
    return value


def _pem_file(text):
    path = text.strip()
    if path == "*":
        return path
    if os.path.isdir(path):
        raise OptionValueError("it is a directory")
    if not os.path.isfile(path):
        raise OptionValueError("no such file")
    if not os.access(path, os.R_OK):
        raise OptionValueError("not readable by this user")
    return path


STRING = Kind("text", _string, "text")
PATH = Kind("path", _string, "a path")
BOOL = Kind("boolean", _bool, "true or false")
PORT = integer(1, 65535)
PORT.name, PORT.expected = "port", "a port number from 1 to 65535"
DURATION = Kind("duration", _duration, "a number of days or a duration such as 7d, 12h, 30m, 45s")
OCTAL = Kind("octal", _octal, "an octal number such as 0022")
CONCURRENCY = Kind("integer or *", _concurrency, "a whole number of at least 0, or * for one per CPU core")
PEM_FILE = Kind("path or *", _pem_file, "the path of a readable PEM file (key and certificate), or *")


class Option:
    """One option. ``prefix=True`` declares a family (``env_`` matches ``env_PATH``);
    ``deprecated`` (a reason) marks an option accepted for old configurations but ignored."""

    def __init__(self, name: str, kind: Kind = STRING, default: object = None, doc: str = "",
                 prefix: bool = False, deprecated: Optional[str] = None):
        self.name = name
        self.kind = kind
        self.default = default
        self.doc = doc
        self.prefix = prefix
        self.deprecated = deprecated

    @property
    def display_name(self) -> str:
        return self.name + "<name>" if self.prefix else self.name

    def matches(self, key: str) -> bool:
        return key.startswith(self.name) and len(key) > len(self.name) if self.prefix else key == self.name

    def parse(self, value):
        """The typed value; ``None``/empty/whitespace gives the default."""
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return self.default
        if not isinstance(value, str):
            value = str(value)
        return self.kind.parse(value)

    def __repr__(self) -> str:
        return "Option(%r, %s)" % (self.display_name, self.kind.name)


class OptionSet:
    """The options of one section (or section type). ``ignored_keys`` are structural keys a
    loader handles itself (Paste's ``use``); ``where_documented`` ends the unknown-option line."""

    def __init__(self, name: str, options: Iterable[Option], ignored_keys: Sequence[str] = (),
                 where_documented: str = "", title: str = ""):
        self.name = name
        self.title = title or name
        self.options: List[Option] = list(options)
        self.ignored_keys = tuple(ignored_keys)
        self.where_documented = where_documented
        names = [o.name for o in self.options]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise AssertionError("options declared twice in %s: %s" % (name, sorted(duplicates)))

    def __iter__(self):
        return iter(self.options)

    def __contains__(self, key) -> bool:
        return self.find(key) is not None

    def names(self) -> List[str]:
        return [o.name for o in self.options]

    def find(self, key: str) -> Optional[Option]:
        exact = [o for o in self.options if not o.prefix and o.name == key]
        if exact:
            return exact[0]
        prefixed = [o for o in self.options if o.prefix and o.matches(key)]
        return max(prefixed, key=lambda o: len(o.name)) if prefixed else None

    def extended(self, name: str, options: Iterable[Option], title: str = "") -> "OptionSet":
        """A new set with this one's options plus ``options`` (which replace same-named ones)."""
        extra = list(options)
        replaced = {o.name for o in extra}
        return OptionSet(name, [o for o in self.options if o.name not in replaced] + extra,
                         self.ignored_keys, self.where_documented, title)

    def nearest(self, key: str) -> Optional[str]:
        candidates = [o.name for o in self.options if not o.deprecated]
        for option in self.options:
            if option.prefix:
                # env_pATH is no typo of env_; a family's own members are judged by their stem
                candidates.append(option.name + key[len(option.name):] if key.startswith(option.name)
                                  else option.name)
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(key.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
            close = [c for c in candidates if close and c.lower() == close[0]]
        return close[0] if close else None

    def unknown(self, key: str, file: Optional[str] = None, section: Optional[str] = None) -> ConfigurationError:
        nearest = self.nearest(key)
        if nearest:
            hint = " (did you mean %s?)" % nearest
        elif self.where_documented:
            hint = " (known options: %s)" % self.where_documented
        else:
            hint = ""
        return ConfigurationError("unknown option %s%s" % (key, hint), file, section, key)

    def bad_value(self, option: Option, key: str, value, file=None, section=None, reason=None) -> ConfigurationError:
        detail = " (%s)" % reason if reason else ""
        return ConfigurationError("%s = %s: expected %s%s" % (key, one_line(repr(value)), option.kind.expected,
                                                              detail), file, section, key)

    def validate(self, values: Mapping[str, object], file: Optional[str] = None,
                 section: Optional[str] = None) -> Dict[str, object]:
        """Typed values of ``values`` (key -> parsed value) or the first problem as a
        :class:`ConfigurationError`. Unknown keys are refused; deprecated ones are dropped."""
        parsed = {}
        for key, value in values.items():
            if key in self.ignored_keys:
                continue
            option = self.find(key)
            if option is None:
                raise self.unknown(key, file, section)
            if option.deprecated:
                continue
            try:
                parsed[key] = option.parse(value)
            except (TypeError, ValueError) as exc:
                reason = str(exc) if isinstance(exc, OptionValueError) else None
                raise self.bad_value(option, key, value, file, section, reason) from None
        return parsed

    def deprecated_in(self, values: Mapping[str, object]) -> List[Option]:
        return [o for o in (self.find(k) for k in values) if o is not None and o.deprecated]
