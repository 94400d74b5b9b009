"""Read Galaxy's object store configuration (XML or YAML) into one plain structure.

Both formats become ``{"type", "id", "files_dir", "extra_dirs": {type: path},
"weight", "order", "max_percent_full", "backends": [...]}``, the shape of Galaxy's
YAML form, so the stores need not know which file they came from.
"""
import os
import xml.etree.ElementTree as ElementTree

__all__ = ["load_config", "ObjectStoreConfigError"]

STORE_TYPES = ("disk", "hierarchical", "distributed")


class ObjectStoreConfigError(ValueError):
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
        for child in backends:
            if child.tag in ("backend", "object_store"):
                config["backends"].append(_from_xml(child, path))
    return config


def _from_yaml(raw, path):
    if not isinstance(raw, dict):
        raise ObjectStoreConfigError("object_store_config_file %s: expected a mapping at the top" % path)
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
