"""DependencyManager: requirements -> shell snippets (spec §3.2)."""
import os
import subprocess

import pytest

from lwr.tools.deps import DependenciesDescription, DependencyManager, InvalidDependencies, build_resolvers
from lwr.tools.deps.resolvers import (GalaxyPackageDependencyResolver, ModuleDependencyResolver,
                                      ToolShedPackageDependencyResolver)


def touch(path, contents=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(contents)


def package(name, version, type="package"):
    return {"name": name, "type": type, "version": version}


def description(*requirements, installed=()):
    return {"requirements": list(requirements), "installed_tool_dependencies": list(installed)}


@pytest.fixture
def base(tmp_path):
    base = tmp_path / "deps"
    touch(str(base / "dep1" / "1.1" / "env.sh"), "MOO=moo_override; export MOO\n")
    os.makedirs(str(base / "bindep" / "2.0" / "bin"))
    os.makedirs(str(base / "empty" / "1.0"))
    touch(str(base / "dep1" / "1.0" / "env.sh"))
    os.symlink(str(base / "dep1" / "1.0"), str(base / "dep1" / "default"))
    return str(base)


def test_galaxy_package_with_env_sh(base):
    commands = DependencyManager(base).shell_commands(description(package("dep1", "1.1")))
    path = os.path.join(base, "dep1", "1.1")
    assert commands == ["PACKAGE_BASE=%s; export PACKAGE_BASE; . %s/env.sh" % (path, path)]


def test_galaxy_package_with_bin_directory(base):
    commands = DependencyManager(base).shell_commands(description(package("bindep", "2.0")))
    path = os.path.join(base, "bindep", "2.0")
    assert commands == ['PACKAGE_BASE=%s; export PACKAGE_BASE; PATH="%s/bin:$PATH"; export PATH' % (path, path)]


@pytest.mark.parametrize("version", [None, "9.9"])
def test_default_symlink_when_versionless_or_unversioned(base, version):
    commands = DependencyManager(base).shell_commands(description(package("dep1", version)))
    real = os.path.join(base, "dep1", "1.0")
    assert commands == ["PACKAGE_BASE=%s; export PACKAGE_BASE; . %s/env.sh" % (real, real)]


def test_unresolved_and_ignored_types_give_nothing(base):
    manager = DependencyManager(base)
    assert manager.shell_commands(description(package("empty", "1.0"), package("missing", "1.0"),
                                              package("dep1", "1.1", type="binary"))) == []
    assert manager.shell_commands(None) == []
    assert manager.shell_commands({}) == []


def test_order_of_requirements_is_kept(base):
    commands = DependencyManager(base).shell_commands(description(package("bindep", "2.0"), package("dep1", "1.1")))
    assert [c.split(";")[0] for c in commands] == [
        "PACKAGE_BASE=%s" % os.path.join(base, "bindep", "2.0"),
        "PACKAGE_BASE=%s" % os.path.join(base, "dep1", "1.1")]


def installed(name, version, type="package", owner="devteam", repo="bwa_repo", changeset="abc123"):
    return {"dependency_name": name, "dependency_version": version, "dependency_type": type,
            "repository_name": repo, "repository_owner": owner, "repository_installed_changeset": changeset}


def test_tool_shed_package_and_set_environment(base):
    shed = os.path.join(base, "bwa", "0.5.9", "devteam", "bwa_repo", "abc123")
    touch(os.path.join(shed, "env.sh"))
    settings = os.path.join(base, "environment_settings", "BWA_HOME", "devteam", "bwa_repo", "abc123")
    touch(os.path.join(settings, "env.sh"))
    commands = DependencyManager(base).shell_commands(description(
        package("bwa", "0.5.9"), package("BWA_HOME", None, type="set_environment"),
        installed=[installed("bwa", "0.5.9"), installed("BWA_HOME", None, type="set_environment")]))
    assert commands == [
        "PACKAGE_BASE=%s; export PACKAGE_BASE; . %s/env.sh" % (shed, shed),
        "PACKAGE_BASE=%s; export PACKAGE_BASE; . %s/env.sh" % (settings, settings),
    ]


def test_tool_shed_version_must_match(base):
    touch(os.path.join(base, "bwa", "0.5.9", "devteam", "bwa_repo", "abc123", "env.sh"))
    commands = DependencyManager(base).shell_commands(description(
        package("bwa", "0.7"), installed=[installed("bwa", "0.5.9")]))
    assert commands == []


def hostile_names(base):
    """(name, version) pairs that would reach a real package outside <base>/<name>/<version> if trusted."""
    evil = os.path.join(os.path.dirname(base), "evil")
    touch(os.path.join(evil, "1.1", "env.sh"), "echo pwned\n")
    os.makedirs(os.path.join(base, "x"))
    os.symlink(os.path.join(base, "dep1", "1.1"), os.path.join(base, "1.1"))
    return [
        ("../evil", "1.1"),
        (evil, "1.1"),
        ("x/../../evil", "1.1"),
        (".", "1.1"),
        ("dep1", "../../evil/1.1"),
        ("dep1", "1.1/."),
        ("..", "evil/1.1"),
    ]


def test_hostile_names_would_resolve_if_trusted(base):
    for name, version in hostile_names(base):
        assert os.path.isfile(os.path.join(base, name, version, "env.sh")), (name, version)


@pytest.mark.parametrize("index", range(7))
def test_hostile_requirement_names_and_versions_are_unresolved(base, index, caplog):
    name, version = hostile_names(base)[index]
    with caplog.at_level("WARNING", logger="lwr.tools.deps"):
        assert DependencyManager(base).shell_commands(description(package(name, version))) == []
    assert "unsafe" in caplog.text


@pytest.mark.parametrize("hostile", ["", "a\x00b", "a\nb", "dep1\\..\\x", "..", "a/b"])
def test_unsafe_characters_are_unresolved(base, hostile):
    manager = DependencyManager(base)
    assert manager.shell_commands(description(package(hostile, "1.1"))) == []
    assert manager.shell_commands(description(package("dep1", hostile))) == []


@pytest.mark.parametrize("overrides", [
    {"repository_installed_changeset": "../../../../dep1/1.1"},
    {"repository_name": "../../../dep1", "repository_installed_changeset": "1.1"},
    {"repository_owner": "../../dep1", "repository_name": "1.1", "repository_installed_changeset": "."},
])
def test_hostile_installed_tool_dependency_is_ignored(base, overrides, caplog):
    os.makedirs(os.path.join(base, "bwa", "0.5.9", "devteam", "bwa_repo"))
    entry = dict(installed("bwa", "0.5.9"), **overrides)
    trusted = os.path.join(base, "bwa", "0.5.9", entry["repository_owner"], entry["repository_name"],
                           entry["repository_installed_changeset"], "env.sh")
    assert os.path.isfile(trusted)  # what a naive join would source
    with caplog.at_level("WARNING", logger="lwr.tools.deps"):
        commands = DependencyManager(base).shell_commands(description(package("bwa", "0.5.9"), installed=[entry]))
    assert commands == []
    assert "unsafe" in caplog.text


def test_paths_with_shell_metacharacters_are_quoted(tmp_path):
    base = str(tmp_path / "it's $(deps)")
    touch(os.path.join(base, "dep1", "1.1", "env.sh"), "MOO=moo_override; export MOO\n")
    os.makedirs(os.path.join(base, "bindep", "2.0", "bin"))
    commands = DependencyManager(base).shell_commands(description(package("dep1", "1.1"), package("bindep", "2.0")))
    script = "; ".join(commands + ['printf "%s|%s" "$MOO" "${PATH%%:*}"'])
    output = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert output == "moo_override|%s" % os.path.join(base, "bindep", "2.0", "bin")


def test_snippet_runs_in_a_shell(base):
    commands = DependencyManager(base).shell_commands(description(package("dep1", "1.1")))
    output = subprocess.run(["/bin/sh", "-c", "; ".join(commands + ['echo "$MOO $PACKAGE_BASE"'])],
                            capture_output=True, text=True, check=True).stdout
    assert output.strip() == "moo_override %s" % os.path.join(base, "dep1", "1.1")


@pytest.mark.parametrize("bad", [
    [], "x", {"requirements": "dep1"}, {"requirements": ["dep1"]}, {"requirements": [{"type": "package"}]},
    {"requirements": [{"name": {"a": 1}}]}, {"installed_tool_dependencies": [{"dependency_type": "package"}]},
])
def test_malformed_description_raises_invalid_dependencies(base, bad):
    with pytest.raises(InvalidDependencies):
        DependencyManager(base).shell_commands(bad)


def test_description_round_trip():
    data = description(package("dep1", "1.1"), installed=[installed("bwa", "0.5.9")])
    assert DependenciesDescription.from_dict(data).to_dict() == data


def test_default_resolvers_without_conf_file(tmp_path):
    for conf in (None, str(tmp_path / "absent.xml")):
        resolvers = build_resolvers(str(tmp_path), conf)
        assert [type(r) for r in resolvers] == [ToolShedPackageDependencyResolver, GalaxyPackageDependencyResolver,
                                                GalaxyPackageDependencyResolver]
        assert [getattr(r, "versionless", None) for r in resolvers] == [None, False, True]


def test_modules_resolver_only_when_configured(base, tmp_path):
    modules = tmp_path / "modules"
    touch(str(modules / "bwa" / "0.7"))
    conf = tmp_path / "dependency_resolvers_conf.xml"
    conf.write_text('<dependency_resolvers><galaxy_packages/><modules modulecmd="/opt/modulecmd" '
                    'modulepath="%s"/></dependency_resolvers>' % modules)
    manager = DependencyManager(base, str(conf))
    assert [type(r) for r in manager.resolvers] == [GalaxyPackageDependencyResolver, ModuleDependencyResolver]
    assert manager.shell_commands(description(package("bwa", "0.7"))) == ["eval `/opt/modulecmd sh load bwa/0.7`"]
    assert manager.shell_commands(description(package("bwa", "0.8"))) == []
    assert manager.shell_commands(description(package("bwa", None))) == ["eval `/opt/modulecmd sh load bwa`"]
    assert manager.shell_commands(description(package("bwa", "../bwa/0.7"))) == []
    # the galaxy_packages resolver is still first
    assert manager.shell_commands(description(package("dep1", "1.1")))[0].startswith("PACKAGE_BASE=")
    assert DependencyManager(base).shell_commands(description(package("bwa", "0.7"))) == []


def test_resolver_base_path_and_unknown_resolver(base, tmp_path):
    other = tmp_path / "other"
    touch(str(other / "odd" / "1" / "env.sh"))
    conf = tmp_path / "conf.xml"
    conf.write_text('<dependency_resolvers><galaxy_packages base_path="%s"/></dependency_resolvers>' % other)
    assert len(DependencyManager(base, str(conf)).shell_commands(description(package("odd", "1")))) == 1
    conf.write_text("<dependency_resolvers><conda/></dependency_resolvers>")
    with pytest.raises(ValueError):
        DependencyManager(base, str(conf))
