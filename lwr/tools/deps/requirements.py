"""The ``dependencies_description`` a client sends with ``launch`` (spec §3.2)."""
import logging
from typing import List, Optional

__all__ = ["InvalidDependencies", "ToolRequirement", "InstalledToolDependency", "DependenciesDescription",
           "is_safe_component"]

log = logging.getLogger(__name__)


class InvalidDependencies(ValueError):
    """A ``dependencies_description`` whose structure is not the documented JSON shape."""


def is_safe_component(value: Optional[str]) -> bool:
    """True if ``value`` can be one directory name under the dependency directory.

    Names and versions come from the network: anything that could climb out
    of ``tool_dependency_dir`` (``/``, ``\\``, ``..``) or confuse a shell or the
    file system (NUL, control characters) is refused.
    """
    if not isinstance(value, str) or value in ("", ".", ".."):
        return False
    if "/" in value or "\\" in value:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


def _text(entry: dict, key: str, required: bool = True) -> Optional[str]:
    value = entry.get(key)
    if value is None:
        if required:
            raise InvalidDependencies("dependency entry %r has no %r" % (entry, key))
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidDependencies("dependency field %r must be a string, got %r" % (key, value))
    return str(value)


def _entries(description: dict, key: str) -> List[dict]:
    entries = description.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidDependencies("%r must be a list of JSON objects" % key)
    return entries


class ToolRequirement:
    """``<requirement type="package" version="1.1">name</requirement>`` of a Galaxy tool."""

    def __init__(self, name: str, type: str = "package", version: Optional[str] = None):
        self.name = name
        self.type = type
        self.version = version

    @classmethod
    def from_dict(cls, entry: dict) -> "ToolRequirement":
        return cls(_text(entry, "name"), _text(entry, "type", False) or "package", _text(entry, "version", False))

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "version": self.version}

    def __repr__(self):
        return "ToolRequirement(%r, %r, %r)" % (self.name, self.type, self.version)


class InstalledToolDependency:
    """A tool-shed-installed dependency Galaxy knows about for the tool."""

    FIELDS = ("dependency_name", "dependency_version", "dependency_type", "repository_name",
              "repository_owner", "repository_installed_changeset")

    def __init__(self, dependency_name: str, dependency_version: Optional[str], dependency_type: str,
                 repository_name: str, repository_owner: str, repository_installed_changeset: str):
        self.name = dependency_name
        self.version = dependency_version
        self.type = dependency_type
        self.repository_name = repository_name
        self.repository_owner = repository_owner
        self.installed_changeset_revision = repository_installed_changeset

    @classmethod
    def from_dict(cls, entry: dict) -> "InstalledToolDependency":
        return cls(**{field: _text(entry, field, field == "dependency_name") for field in cls.FIELDS})

    def to_dict(self) -> dict:
        return {
            "dependency_name": self.name,
            "dependency_version": self.version,
            "dependency_type": self.type,
            "repository_name": self.repository_name,
            "repository_owner": self.repository_owner,
            "repository_installed_changeset": self.installed_changeset_revision,
        }


class DependenciesDescription:
    """Requirements of a tool plus the tool-shed dependencies installed for it."""

    def __init__(self, requirements=(), installed_tool_dependencies=()):
        self.requirements: List[ToolRequirement] = list(requirements)
        self.installed_tool_dependencies: List[InstalledToolDependency] = list(installed_tool_dependencies)

    @classmethod
    def from_dict(cls, description) -> "DependenciesDescription":
        """Parse the JSON form; ``InvalidDependencies`` (a ``ValueError``) for a wrong shape."""
        if isinstance(description, DependenciesDescription):
            return description
        if description is None:
            return cls()
        if not isinstance(description, dict):
            raise InvalidDependencies("dependencies_description must be a JSON object")
        return cls(
            [ToolRequirement.from_dict(e) for e in _entries(description, "requirements")],
            [InstalledToolDependency.from_dict(e) for e in _entries(description, "installed_tool_dependencies")],
        )

    def to_dict(self) -> dict:
        return {
            "requirements": [r.to_dict() for r in self.requirements],
            "installed_tool_dependencies": [d.to_dict() for d in self.installed_tool_dependencies],
        }
