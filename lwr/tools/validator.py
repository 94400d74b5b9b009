"""Regular-expression validators for command lines and config files (spec §9).

An ``<command_validator>`` / ``<configfile_validator>`` element describes the
only strings a tool may run: its children (``literal``, ``parameter``,
``input``, ...) are turned into one anchored regular expression for a given
job directory.  Paths captured by ``<input>`` / ``<output>`` can only be made
of plain path components below the job's ``inputs`` / ``outputs`` directory
(no ``.``/``..`` components, no shell metacharacters), and are checked again
after matching.  Nothing in the XML is ever evaluated.
"""
import itertools
import os
import re
from typing import Callable, Dict, List, Optional, Tuple, Union
from xml.etree import ElementTree

__all__ = ["ExpressionValidator", "InvalidValidatorConfig", "MAX_VALIDATED_LENGTH"]

#: Longer strings are refused without matching (bounds regex backtracking time).
MAX_VALIDATED_LENGTH = 256 * 1024

SEPARATORS = {"*spaces*": " +", "*whitespace*": r"\s+"}
FLOAT = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
INTEGER = r"\d+"
_PATH_CHAR = r"[\w.,:+@%=\-]"
#: One path component that is neither ``.`` nor ``..``.
_COMPONENT = r"(?!\.\.?(?!%s))%s+" % (_PATH_CHAR, _PATH_CHAR)
_UNBOUNDED = ("unbounded", "*")


class InvalidValidatorConfig(ValueError):
    """A validator element the tool's XML declares incorrectly."""


class _Context:
    """Per-validation state: the job directory and the named path captures made so far."""

    def __init__(self, job_directory_path: str):
        self.path = os.path.abspath(job_directory_path)
        self.captures: List[Tuple[str, str]] = []
        self._names = itertools.count()

    def capture(self, directory: str) -> str:
        name = "lwr_path_%d" % next(self._names)
        self.captures.append((name, directory))
        return name

    def sub(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)


def _path_regex(directory: str) -> str:
    sep = re.escape(os.sep)
    return "%s%s%s(?:%s%s)*" % (re.escape(directory), sep, _COMPONENT, sep, _COMPONENT)


def _simple_name(element, attribute: str) -> str:
    value = element.get(attribute)
    if not value:
        raise InvalidValidatorConfig("<%s> needs a %s attribute" % (element.tag, attribute))
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in value:
        raise InvalidValidatorConfig("<%s %s=%r> must be a relative path inside the job"
                                     % (element.tag, attribute, value))
    return value


def _separator(element, default: str) -> str:
    value = element.get("separate_by")
    if value is None:
        return default
    return SEPARATORS.get(value, re.escape(value))


def _count(element, attribute: str, default: int) -> Optional[int]:
    value = element.get(attribute)
    if value is None:
        return default
    if attribute == "max" and value in _UNBOUNDED:
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidValidatorConfig("<%s %s=%r> is not an integer" % (element.tag, attribute, value))
    if number < 0:
        raise InvalidValidatorConfig("<%s %s=%r> is negative" % (element.tag, attribute, value))
    return number


def _true(element, attribute: str) -> bool:
    return (element.get(attribute) or "").strip().lower() in ("true", "yes", "1")


class _Node:
    """One child element: builds a fresh regex fragment (with fresh capture names) per call."""

    def __init__(self, element, build: Callable[[_Context], str]):
        self.tag = element.tag
        self.build_core = build
        self.min = _count(element, "min", 1)
        self.max = _count(element, "max", 1)
        if self.max is not None and (self.max < 1 or self.max < self.min):
            raise InvalidValidatorConfig("<%s> needs 1 <= max and min <= max" % element.tag)
        self.quote = "'" if _true(element, "single_quote") else '"' if _true(element, "double_quote") else ""

    @property
    def optional(self) -> bool:
        return self.min == 0

    def _once(self, context: _Context) -> str:
        return "%s(?:%s)%s" % (self.quote, self.build_core(context), self.quote)

    def fragment(self, context: _Context, separator: str) -> str:
        """Regex for one or more occurrences (absence is handled by :func:`_join`)."""
        first = self._once(context)
        if self.max == 1:
            return first
        low = max(self.min - 1, 0)
        high = "" if self.max is None else str(self.max - 1)
        return "(?:%s(?:%s%s){%d,%s})" % (first, separator, self._once(context), low, high)


def _join(nodes: List[_Node], separator: str, context: _Context) -> str:
    """Join fragments by ``separator`` so that an absent optional element leaves no separator."""
    if not nodes:
        return ""
    first, rest = nodes[0], nodes[1:]
    head = first.fragment(context, separator)
    for node in rest:
        piece = "(?:%s%s)" % (separator, node.fragment(context, separator))
        head += piece + ("?" if node.optional else "")
    if not first.optional:
        return head
    return "(?:%s|%s)" % (head, _join(rest, separator, context))


class ExpressionValidator:
    """Validates strings against the regex described by ``xml_el`` (an Element or XML text)."""

    def __init__(self, xml_el: Union[ElementTree.Element, str, bytes]):
        if isinstance(xml_el, (str, bytes)):
            try:
                xml_el = ElementTree.fromstring(xml_el)
            except ElementTree.ParseError as exc:
                raise InvalidValidatorConfig("validator XML does not parse: %s" % exc)
        if xml_el is None:
            raise InvalidValidatorConfig("no validator element given")
        self.xml_el = xml_el
        self.separator = _separator(xml_el, SEPARATORS["*spaces*"])
        self.nodes = self._children(xml_el)

    # -- parsing ------------------------------------------------------------------------------
    def _children(self, element) -> List[_Node]:
        return [self._node(child) for child in element if isinstance(child.tag, str)]

    def _node(self, element) -> _Node:
        handler = _HANDLERS.get(element.tag)
        if handler is None:
            raise InvalidValidatorConfig("unknown validator element <%s>" % element.tag)
        return _Node(element, handler(self, element))

    def _literal(self, element):
        value = element.get("value")
        if value is None:
            value = (element.text or "").strip()
        pattern = re.escape(value)
        return lambda context: pattern

    def _regex(self, element):
        pattern = element.get("value")
        if pattern is None:
            pattern = (element.text or "").strip()
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidValidatorConfig("<regex> %r does not compile: %s" % (pattern, exc))
        return lambda context: pattern

    def _parameter(self, element):
        name = element.get("name")
        if not name:
            raise InvalidValidatorConfig("<parameter> needs a name attribute")
        children = self._children(element)
        separator = _separator(element, SEPARATORS["*spaces*"])
        prefix = re.escape(name)
        if not children:
            return lambda context: prefix
        return lambda context: r"%s(?:=|\s+)%s" % (prefix, _join(children, separator, context))

    def _group(self, element):
        children = self._children(element)
        separator = _separator(element, "")
        return lambda context: _join(children, separator, context)

    # -- matching -----------------------------------------------------------------------------
    def regex(self, job_directory) -> Tuple[str, List[Tuple[str, str]]]:
        """The anchored pattern for ``job_directory`` and its (capture name, directory) pairs."""
        context = _Context(_job_path(job_directory))
        pattern = "^%s$" % _join(self.nodes, self.separator, context)
        return pattern, context.captures

    def validate(self, job_directory, string) -> bool:
        """True iff the whole ``string`` (surrounding whitespace ignored) matches."""
        if isinstance(string, bytes):
            string = string.decode("utf-8", "surrogateescape")
        string = string.strip()
        if len(string) > MAX_VALIDATED_LENGTH:
            return False
        pattern, captures = self.regex(job_directory)
        match = re.fullmatch(pattern, string)
        if match is None:
            return False
        return all(_contained(match.group(name), directory) for name, directory in captures)


def _contained(value: Optional[str], directory: str) -> bool:
    if value is None:  # that alternative did not take part in the match
        return True
    if ".." in value.replace("\\", "/").split("/"):
        return False
    path = os.path.normpath(value)
    try:
        return os.path.commonpath([path, directory]) == directory and path != directory
    except ValueError:
        return False


def _job_path(job_directory) -> str:
    path = getattr(job_directory, "path", job_directory)
    if not isinstance(path, str):
        raise TypeError("job_directory must have a .path or be a path")
    return path


def _fixed(pattern: str):
    """Handler for elements that always stand for the same pattern."""
    return lambda self, element: (lambda context: pattern)


def _job_file(subdirectory: str):
    """Handler for an exact file of the job (``tool_files/<name>``, ``configs/<name>``)."""
    def handler(self, element):
        name = _simple_name(element, "name")
        return lambda context: re.escape(context.sub(subdirectory, *name.split("/")))
    return handler


def _captured(subdirectory: str):
    """Handler for ``<input>``/``<output>``: a captured path below the job's sub directory."""
    def handler(self, element):
        if element.tag == "output" and element.get("from_work_dir") is not None:
            name = _simple_name(element, "from_work_dir")
            return lambda context: re.escape(context.sub("working", *name.split("/")))

        def build(context):
            directory = context.sub(subdirectory)
            return "(?P<%s>%s)" % (context.capture(directory), _path_regex(directory))
        return build
    return handler


_HANDLERS: Dict[str, Callable] = {
    "literal": ExpressionValidator._literal,
    "regex": ExpressionValidator._regex,
    "parameter": ExpressionValidator._parameter,
    "group": ExpressionValidator._group,
    "integer": _fixed(INTEGER),
    "float": _fixed(FLOAT),
    "tool_wrapper": _job_file("tool_files"),
    "configfile": _job_file("configs"),
    "input": _captured("inputs"),
    "output": _captured("outputs"),
}
