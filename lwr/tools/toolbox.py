"""The tools an LWR may run, read from Galaxy-style toolbox XML files (spec §9).

A toolbox file looks like Galaxy's ``shed_tool_conf.xml``::

    <toolbox tool_path="tools">
      <tool file="tool1/tool1.xml" />
      <section id="s" name="S"><tool file="x.xml" guid="host/repos/owner/repo/x/1.0" /></section>
    </toolbox>

``tool_path`` is resolved against the toolbox file's directory (or, when the
tool file is not found there, the current directory as 0.2.0 did).  These are
files written by the LWR administrator, parsed with ``xml.etree`` only.
"""
import logging
import os
from typing import Dict, Iterable, List, Optional, Union
from xml.etree import ElementTree

from lwr.tools.validator import ExpressionValidator

__all__ = ["ToolBox", "ToolConfig", "SimpleToolConfig", "ToolShedToolConfig", "InputsValidator",
           "DEFAULT_TOOL_VERSION", "parse_tool_config_files"]

log = logging.getLogger(__name__)

DEFAULT_TOOL_VERSION = "1.0.0"


class InputsValidator:
    """A tool's command validator (or None) and its config-file validators keyed by name."""

    def __init__(self, command_validator: Optional[ExpressionValidator],
                 config_validators: Dict[str, ExpressionValidator]):
        self.command_validator = command_validator
        self.config_validators = config_validators

    def validate_command(self, job_directory, command: str) -> bool:
        """False when the tool has no command validator: a restricted LWR runs only what is described."""
        if self.command_validator is None:
            return False
        return self.command_validator.validate(job_directory, command)

    def validate_config(self, job_directory, name: str, contents: str) -> bool:
        """Config files without a ``<configfile_validator name=...>`` are allowed."""
        validator = self.config_validators.get(name)
        if validator is None:
            return True
        return validator.validate(job_directory, contents)


class ToolConfig:
    """A Galaxy tool: its id, version, XML file and validators."""

    def __init__(self, path: str, tool_id: Optional[str] = None):
        self.path = os.path.abspath(path)
        root = _parse(self.path).getroot()
        if root.tag != "tool":
            raise ValueError("%s: root element is <%s>, expected <tool>" % (self.path, root.tag))
        self.id = tool_id or root.get("id")
        if not self.id:
            raise ValueError("%s: <tool> has no id attribute" % self.path)
        self.version = root.get("version") or DEFAULT_TOOL_VERSION
        self.inputs_validator = _inputs_validator(root)
        #: ``<environment_variables><environment_variable name=...>``: the variables Galaxy may
        #: set for this tool from a staged ``tool_env_*`` file.
        self.environment_variables = frozenset(
            el.get("name") for el in root.findall("./environment_variables/environment_variable") if el.get("name"))
        #: ``(type, name, version)`` of each ``<requirements><requirement>``.
        self.requirements = frozenset(
            (el.get("type") or "package", (el.text or "").strip(), el.get("version"))
            for el in root.findall("./requirements/requirement"))

    def get_tool_dir(self) -> str:
        return os.path.dirname(self.path)

    @property
    def tool_dir(self) -> str:
        return self.get_tool_dir()

    def __repr__(self):
        return "<%s %s %s>" % (type(self).__name__, self.id, self.version)


class SimpleToolConfig(ToolConfig):
    """A tool referenced by ``<tool file=...>`` without a ``guid``."""

    def __init__(self, tool_el, tool_path: str, base_directory: str = "."):
        super().__init__(_tool_file(tool_el, tool_path, base_directory))


class ToolShedToolConfig(ToolConfig):
    """A tool installed from a tool shed: its id is the ``guid`` attribute."""

    def __init__(self, tool_el, tool_path: str, base_directory: str = "."):
        super().__init__(_tool_file(tool_el, tool_path, base_directory), tool_id=tool_el.get("guid"))
        self.tool_shed = tool_el.findtext("tool_shed")
        self.repository_name = tool_el.findtext("repository_name")
        self.repository_owner = tool_el.findtext("repository_owner")
        self.installed_changeset_revision = tool_el.findtext("installed_changeset_revision")


class ToolBox:
    """Tools from one or more toolbox files (a list, or a comma-separated string of paths)."""

    def __init__(self, tool_config_files: Union[str, Iterable[str]]):
        self.tool_config_files = parse_tool_config_files(tool_config_files)
        if not self.tool_config_files:
            raise ValueError("no toolbox file given")
        self.tools: List[ToolConfig] = []
        for path in self.tool_config_files:
            self._load(path)

    def _load(self, path: str) -> None:
        root = _parse(path).getroot()
        base_directory = os.path.dirname(os.path.abspath(path))
        tool_path = root.get("tool_path") or "."
        for tool_el in root.iter("tool"):
            cls = ToolShedToolConfig if tool_el.get("guid") else SimpleToolConfig
            self.tools.append(cls(tool_el, tool_path, base_directory))

    def get_tool(self, id: str) -> ToolConfig:
        """The first tool with this id; ``KeyError`` if there is none."""
        for tool in self.tools:
            if tool.id == id:
                return tool
        raise KeyError("no tool with id %r in the toolbox" % (id,))


def parse_tool_config_files(value: Union[str, Iterable[str], None]) -> List[str]:
    """``"a.xml, b.xml"`` or ``["a.xml", "b.xml"]`` -> ``["a.xml", "b.xml"]``."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [item.strip() for item in value if item and item.strip()]


def _parse(path: str):
    try:
        return ElementTree.parse(path)
    except (OSError, ElementTree.ParseError) as exc:
        raise ValueError("cannot read tool XML %s: %s" % (path, exc))


def _tool_file(tool_el, tool_path: str, base_directory: str) -> str:
    relative = tool_el.get("file")
    if not relative:
        raise ValueError("<tool> element without a file attribute")
    candidates = [os.path.join(base_directory, tool_path, relative), os.path.join(tool_path, relative)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise ValueError("tool file %r not found under tool_path %r" % (relative, tool_path))


def _inputs_validator(root) -> InputsValidator:
    command_el = root.find("./validators/command_validator")
    command_validator = ExpressionValidator(command_el) if command_el is not None else None
    config_validators = {}
    for config_el in root.findall("./validators/configfile_validator"):
        name = config_el.get("name")
        if not name:
            raise ValueError("<configfile_validator> needs a name attribute")
        config_validators[name] = ExpressionValidator(config_el)
    return InputsValidator(command_validator, config_validators)
