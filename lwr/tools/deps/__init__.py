"""Turn a job's tool requirements into shell commands that set up its dependencies (spec §3.2).

``dependency_resolvers_conf.xml`` lists resolvers in the order they are tried::

    <dependency_resolvers>
      <tool_shed_packages />
      <galaxy_packages />
      <galaxy_packages versionless="true" />
      <modules modulecmd="/usr/bin/modulecmd" modulepath="/opt/modules" />
    </dependency_resolvers>

Without that file the first three are used.  Each element may set ``base_path``
(default: the manager's ``tool_dependency_dir``).
"""
import logging
import os
from typing import List, Optional
from xml.etree import ElementTree

from lwr.tools.deps.requirements import (DependenciesDescription, InstalledToolDependency, InvalidDependencies,
                                         ToolRequirement, is_safe_component)
from lwr.tools.deps.resolvers import (GalaxyPackageDependencyResolver, ModuleDependencyResolver,
                                      ToolShedPackageDependencyResolver)

__all__ = ["DependencyManager", "DependenciesDescription", "ToolRequirement", "InstalledToolDependency",
           "InvalidDependencies", "build_resolvers", "RESOLVED_TYPES"]

log = logging.getLogger(__name__)

#: Requirement types that name something to set up in the shell; others are ignored.
RESOLVED_TYPES = ("package", "set_environment")


def _true(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "1")


def _build_resolver(element, default_base_path: str):
    base_path = element.get("base_path") or default_base_path
    if element.tag == "tool_shed_packages":
        return ToolShedPackageDependencyResolver(base_path)
    if element.tag == "galaxy_packages":
        return GalaxyPackageDependencyResolver(base_path, versionless=_true(element.get("versionless")))
    if element.tag == "modules":
        return ModuleDependencyResolver(
            modulecmd=element.get("modulecmd") or "modulecmd",
            modulepath=element.get("modulepath"),
            versionless=_true(element.get("versionless")),
            find_by=element.get("find_by") or "directory",
        )
    raise ValueError("unknown dependency resolver <%s>" % element.tag)


def default_resolvers(default_base_path: str) -> list:
    return [
        ToolShedPackageDependencyResolver(default_base_path),
        GalaxyPackageDependencyResolver(default_base_path),
        GalaxyPackageDependencyResolver(default_base_path, versionless=True),
    ]


def build_resolvers(default_base_path: str, conf_file: Optional[str] = None) -> list:
    """Resolvers from ``conf_file``, or the defaults when it is not given or does not exist."""
    if not conf_file or not os.path.exists(conf_file):
        return default_resolvers(default_base_path)
    try:
        root = ElementTree.parse(conf_file).getroot()
    except ElementTree.ParseError as exc:
        raise ValueError("cannot parse %s: %s" % (conf_file, exc))
    return [_build_resolver(element, default_base_path) for element in root if isinstance(element.tag, str)]


class DependencyManager:
    """Resolves requirements below ``default_base_path`` (the ``tool_dependency_dir``)."""

    def __init__(self, default_base_path: str, conf_file: Optional[str] = None):
        self.default_base_path = os.path.abspath(default_base_path)
        self.conf_file = conf_file
        self.resolvers = build_resolvers(self.default_base_path, conf_file)

    def shell_commands(self, dependencies_description) -> List[str]:
        """Shell snippets for the resolved ``package``/``set_environment`` requirements, in order.

        ``dependencies_description`` is the JSON dict (or a :class:`DependenciesDescription`);
        a wrong shape raises :class:`InvalidDependencies`.  Unresolvable or unsafe
        requirements are logged and skipped.
        """
        description = DependenciesDescription.from_dict(dependencies_description)
        return self.dependency_shell_commands(description.requirements, description.installed_tool_dependencies)

    def dependency_shell_commands(self, requirements: List[ToolRequirement],
                                  installed_tool_dependencies: List[InstalledToolDependency] = ()) -> List[str]:
        commands = []
        installed = list(installed_tool_dependencies or [])
        for requirement in requirements:
            if requirement.type not in RESOLVED_TYPES:
                continue
            if not is_safe_component(requirement.name) or (
                    requirement.version is not None and not is_safe_component(requirement.version)):
                log.warning("requirement %r has an unsafe name or version; not resolved", requirement)
                continue
            command = self._resolve(requirement, installed)
            if command:
                commands.append(command)
            else:
                log.info("requirement %r not found by any dependency resolver", requirement)
        return commands

    def _resolve(self, requirement: ToolRequirement, installed: List[InstalledToolDependency]) -> Optional[str]:
        for resolver in self.resolvers:
            dependency = resolver.resolve(requirement, installed)
            if dependency.resolved:
                return dependency.shell_commands(requirement)
        return None
