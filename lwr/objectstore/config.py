"""Read Galaxy's object store configuration (XML or YAML) into one plain structure.

Both formats become ``{"type", "id", "files_dir", "extra_dirs": {type: path},
"weight", "order", "max_percent_full", "backends": [...]}``, the shape of Galaxy's
YAML form, so the stores need not know which file they came from.
"""
import os
import xml.etree.ElementTree as ElementTree

from lwr.options import ConfigurationError, Option, OptionSet

__all__ = ["load_config", "ObjectStoreConfigError"]

STORE_TYPES = ("disk", "hierarchical", "distributed")

#: Galaxy settings that change nothing in how LWR stores and finds files: accepted and ignored.
_GALAXY_ONLY = "a Galaxy setting LWR does not use"
_IGNORED = [Option(name, deprecated=_GALAXY_ONLY) for name in ("name", "description", "private", "badges", "quota",
                                                               "allow_selection", "device")]

#: What a store may hold; anything else is refused naming the nearest known name (a typo such as
#: ``wieght`` would otherwise silently give the default).
XML_ATTRIBUTES = OptionSet("object store attributes", [
    Option("type"), Option("id"), Option("weight"), Option("order"), Option("maxpctfull"), Option("store_by"),
] + _IGNORED)
XML_ELEMENTS = OptionSet("object store elements", [
    Option("files_dir"), Option("extra_dir"), Option("backends"),
] + _IGNORED)
BACKENDS_ATTRIBUTES = OptionSet("backends attributes", [Option("maxpctfull")])
BACKENDS_ELEMENTS = OptionSet("backends elements", [Option("backend"), Option("object_store")])
YAML_KEYS = OptionSet("object store keys", [
    Option("type"), Option("id"), Option("weight"), Option("order"), Option("max_percent_full"), Option("maxpctfull"),
    Option("files_dir"), Option("extra_dirs"), Option("backends"), Option("store_by"),
] + _IGNORED)


class ObjectStoreConfigError(ConfigurationError):
    """The configuration file cannot be used; the message names the file and the problem."""


def load_config(path):
    if not os.path.isfile(path):
        raise ObjectStoreConfigError("object_store_config_file %s does not exist" % path)
    try:
        if path.endswith((".yml", ".yaml")):
            import yaml  # here: PyYAML is loaded only for a YAML configuration
            with open(path) as handle:
                raw = yaml.safe_load(handle)
            config = _from_yaml(raw, path)
        else:
            config = _from_xml(ElementTree.parse(path).getroot(), path)
    except (ElementTree.ParseError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, ObjectStoreConfigError):
            raise
        raise ObjectStoreConfigError("object_store_config_file %s: %s" % (path, exc))
    _absolutise(config)  # relative to the server's directory, like every other path option
    return config


def _check_names(names, known, what, where, path):
    for name in names:
        if known.find(name) is None:
            nearest = known.nearest(name)
            raise ObjectStoreConfigError("object_store_config_file %s: %s: unknown %s %r%s"
                                         % (path, where, what, name, " (did you mean %s?)" % nearest if nearest
                                            else "; known: " + ", ".join(o.name for o in known if not o.deprecated)))


def _check_store_by(value, where, path):
    if value not in (None, "", "id"):
        raise ObjectStoreConfigError("object_store_config_file %s: %s: store_by = %r is not supported (LWR stores "
                                     "datasets by id, as files_dir/<hash>/dataset_<id>.dat)" % (path, where, value))


def _store_type(value, path):
    if value not in STORE_TYPES:
        raise ObjectStoreConfigError("object_store_config_file %s: object store type %r is not one of %s"
                                     % (path, value, ", ".join(STORE_TYPES)))
    return value


def _number(value, name, path, kind=float):
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ObjectStoreConfigError("object_store_config_file %s: %s=%r is not a number" % (path, name, value))


def _from_xml(element, path):
    where = "<%s%s>" % (element.tag, " id=%r" % element.get("id") if element.get("id") else "")
    _check_names(element.attrib, XML_ATTRIBUTES, "attribute", where, path)
    _check_names([child.tag for child in element if isinstance(child.tag, str)], XML_ELEMENTS, "element", where,
                 path)
    _check_store_by(element.get("store_by"), where, path)
    config = {
        "type": _store_type(element.get("type", "disk"), path),
        "id": element.get("id"),
        "weight": _number(element.get("weight"), "weight", path),
        "order": _number(element.get("order"), "order", path, int),
        "max_percent_full": _number(element.get("maxpctfull"), "maxpctfull", path),
        "files_dir": None,
        "extra_dirs": {},
        "backends": [],
    }
    files_dir = element.find("files_dir")
    if files_dir is not None:
        config["files_dir"] = files_dir.get("path")
    for extra in element.findall("extra_dir"):
        config["extra_dirs"][extra.get("type")] = extra.get("path")
    backends = element.find("backends")
    if backends is not None:
        if config["max_percent_full"] is None:
            config["max_percent_full"] = _number(backends.get("maxpctfull"), "maxpctfull", path)
        _check_names(backends.attrib, BACKENDS_ATTRIBUTES, "attribute", "<backends>", path)
        _check_names([c.tag for c in backends if isinstance(c.tag, str)], BACKENDS_ELEMENTS, "element",
                     "<backends>", path)
        for child in backends:
            if child.tag in ("backend", "object_store"):
                config["backends"].append(_from_xml(child, path))
    return config


def _from_yaml(raw, path):
    if not isinstance(raw, dict):
        raise ObjectStoreConfigError("object_store_config_file %s: expected a mapping at the top" % path)
    where = "store %r" % raw["id"] if raw.get("id") else "store"
    _check_names(raw, YAML_KEYS, "key", where, path)
    _check_store_by(raw.get("store_by"), where, path)
    extra_dirs = {}
    for extra in raw.get("extra_dirs") or []:
        extra_dirs[extra.get("type")] = extra.get("path")
    return {
        "type": _store_type(raw.get("type", "disk"), path),
        "id": raw.get("id"),
        "weight": _number(raw.get("weight"), "weight", path),
        "order": _number(raw.get("order"), "order", path, int),
        "max_percent_full": _number(raw.get("max_percent_full", raw.get("maxpctfull")), "max_percent_full",
                                    path),
        "files_dir": raw.get("files_dir"),
        "extra_dirs": extra_dirs,
        "backends": [_from_yaml(backend, path) for backend in raw.get("backends") or []],
    }


def _absolutise(config):
    if config["files_dir"]:
        config["files_dir"] = os.path.abspath(config["files_dir"])
    for kind, directory in list(config["extra_dirs"].items()):
        if directory:
            config["extra_dirs"][kind] = os.path.abspath(directory)
    for backend in config["backends"]:
        _absolutise(backend)
