"""Dependency resolvers: where a requirement's package lives and the shell snippet to use it.

Layouts (``<base>`` = ``tool_dependency_dir`` unless a resolver sets ``base_path``):

* galaxy_packages: ``<base>/<name>/<version>`` (``<base>/<name>/default`` when the
  requirement has no version or the resolver is ``versionless``); the package
  provides ``env.sh`` or a ``bin/`` directory.
* tool_shed_packages: ``<base>/<name>/<version>/<owner>/<repo>/<changeset>`` for
  packages and ``<base>/environment_settings/<name>/<owner>/<repo>/<changeset>/env.sh``
  for ``set_environment``, found through ``installed_tool_dependencies``.
* modules: Environment Modules, ``eval `modulecmd sh load <name>/<version>```.

Every path component that comes from a client is checked with
:func:`is_safe_component`; every path put into a snippet is shell-quoted.
"""
import logging
import os
import re
import shlex
from typing import List, Optional

from lwr.tools.deps.requirements import InstalledToolDependency, ToolRequirement, is_safe_component

__all__ = ["Dependency", "NullDependency", "NULL_DEPENDENCY", "GalaxyPackageDependency", "ModuleDependency",
           "GalaxyPackageDependencyResolver", "ToolShedPackageDependencyResolver", "ModuleDependencyResolver"]

log = logging.getLogger(__name__)

_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+", re.ASCII)


def _unsafe(*parts) -> bool:
    return not all(is_safe_component(part) for part in parts)


class Dependency:
    """A resolved requirement."""

    resolved = True

    def shell_commands(self, requirement: ToolRequirement) -> Optional[str]:
        raise NotImplementedError


class NullDependency(Dependency):
    resolved = False

    def shell_commands(self, requirement: ToolRequirement) -> Optional[str]:
        return None


NULL_DEPENDENCY = NullDependency()


class GalaxyPackageDependency(Dependency):
    """A package directory with an ``env.sh`` script or a ``bin/`` directory."""

    def __init__(self, script: Optional[str], path: str, version: Optional[str]):
        self.script = script
        self.path = path
        self.version = version

    def shell_commands(self, requirement: ToolRequirement) -> str:
        base = "PACKAGE_BASE=%s; export PACKAGE_BASE; " % shlex.quote(self.path)
        if self.script:
            return base + ". %s" % shlex.quote(self.script)
        bin_directory = os.path.join(self.path, "bin")
        if _SHELL_SAFE.fullmatch(bin_directory):
            return base + 'PATH="%s:$PATH"; export PATH' % bin_directory
        return base + 'PATH=%s:"$PATH"; export PATH' % shlex.quote(bin_directory)


class ModuleDependency(Dependency):
    def __init__(self, modulecmd: str, module: str):
        self.modulecmd = modulecmd
        self.module = module

    def shell_commands(self, requirement: ToolRequirement) -> str:
        return "eval `%s sh load %s`" % (shlex.quote(self.modulecmd), shlex.quote(self.module))


def _package_dependency(path: str, version: Optional[str]) -> Dependency:
    script = os.path.join(path, "env.sh")
    if os.path.isfile(script):
        return GalaxyPackageDependency(script, path, version)
    if os.path.isdir(os.path.join(path, "bin")):
        return GalaxyPackageDependency(None, path, version)
    return NULL_DEPENDENCY


class GalaxyPackageDependencyResolver:
    """``<base>/<name>/<version>`` or, versionless, the ``<base>/<name>/default`` symlink."""

    resolver_type = "galaxy_packages"

    def __init__(self, base_path: str, versionless: bool = False):
        self.base_path = os.path.abspath(base_path)
        self.versionless = versionless

    def resolve(self, requirement: ToolRequirement, installed: List[InstalledToolDependency]) -> Dependency:
        if requirement.type != "package":
            return NULL_DEPENDENCY
        if self.versionless or requirement.version is None:
            return self._default(requirement.name)
        if _unsafe(requirement.name, requirement.version):
            return NULL_DEPENDENCY
        path = os.path.join(self.base_path, requirement.name, requirement.version)
        return _package_dependency(path, requirement.version) if os.path.isdir(path) else NULL_DEPENDENCY

    def _default(self, name: str) -> Dependency:
        if _unsafe(name):
            return NULL_DEPENDENCY
        link = os.path.join(self.base_path, name, "default")
        if not os.path.islink(link):
            return NULL_DEPENDENCY
        real_path = os.path.realpath(link)
        return _package_dependency(real_path, os.path.basename(real_path))


class ToolShedPackageDependencyResolver:
    """Packages and environment settings installed from a tool shed."""

    resolver_type = "tool_shed_packages"

    def __init__(self, base_path: str):
        self.base_path = os.path.abspath(base_path)

    def resolve(self, requirement: ToolRequirement, installed: List[InstalledToolDependency]) -> Dependency:
        for dependency in installed:
            if dependency.name != requirement.name or dependency.type != requirement.type:
                continue
            if requirement.type == "package":
                if requirement.version is not None and dependency.version != requirement.version:
                    continue
                resolved = self._package(dependency)
            elif requirement.type == "set_environment":
                resolved = self._environment(dependency)
            else:
                continue
            if resolved.resolved:
                return resolved
        return NULL_DEPENDENCY

    def _repository(self, dependency: InstalledToolDependency):
        return (dependency.repository_owner, dependency.repository_name, dependency.installed_changeset_revision)

    def _package(self, dependency: InstalledToolDependency) -> Dependency:
        parts = (dependency.name, dependency.version) + self._repository(dependency)
        if _unsafe(*parts):
            log.warning("ignoring installed tool dependency with an unsafe name: %r", parts)
            return NULL_DEPENDENCY
        path = os.path.join(self.base_path, *parts)
        return _package_dependency(path, dependency.version) if os.path.isdir(path) else NULL_DEPENDENCY

    def _environment(self, dependency: InstalledToolDependency) -> Dependency:
        parts = (dependency.name,) + self._repository(dependency)
        if _unsafe(*parts):
            log.warning("ignoring installed environment setting with an unsafe name: %r", parts)
            return NULL_DEPENDENCY
        path = os.path.join(self.base_path, "environment_settings", *parts)
        script = os.path.join(path, "env.sh")
        return GalaxyPackageDependency(script, path, None) if os.path.isfile(script) else NULL_DEPENDENCY


class ModuleDependencyResolver:
    """Environment Modules found as ``<modulepath>/<name>[/<version>]`` directories or files."""

    resolver_type = "modules"

    def __init__(self, modulecmd: str = "modulecmd", modulepath: Optional[str] = None,
                 versionless: bool = False, find_by: str = "directory"):
        self.modulecmd = modulecmd
        modulepath = modulepath if modulepath is not None else os.environ.get("MODULEPATH", "")
        self.modulepaths = [p for p in modulepath.split(os.pathsep) if p]
        self.versionless = versionless
        if find_by != "directory":
            log.warning("modules resolver: find_by=%r is not supported, looking in MODULEPATH directories",
                        find_by)

    def resolve(self, requirement: ToolRequirement, installed: List[InstalledToolDependency]) -> Dependency:
        if requirement.type != "package" or _unsafe(requirement.name):
            return NULL_DEPENDENCY
        version = None if self.versionless else requirement.version
        if version is not None and _unsafe(version):
            return NULL_DEPENDENCY
        for modulepath in self.modulepaths:
            module_root = os.path.join(modulepath, requirement.name)
            if version is None and os.path.exists(module_root):
                return ModuleDependency(self.modulecmd, requirement.name)
            if version is not None and os.path.exists(os.path.join(module_root, version)):
                return ModuleDependency(self.modulecmd, "%s/%s" % (requirement.name, version))
        return NULL_DEPENDENCY
