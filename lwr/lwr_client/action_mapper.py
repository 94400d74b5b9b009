"""Which staging action each file gets: ``default_file_action`` plus ``file_action_config`` mappers.

>>> mapper = FileActionMapper(config={"default_action": "none", "paths": [
...     {"path": "/data/files", "action": "transfer"},
...     {"path": "/data/*.idx", "match_type": "glob", "action": "copy"},
...     {"path": r".*/dataset_\\d+\\.dat", "match_type": "regex", "action": "remote_copy",
...      "path_types": "input"},
...     {"path": "/work", "action": "transfer", "path_types": "*any*"}]})
>>> mapper.action("/data/files/a.dat", "input").action_type
'transfer'
>>> mapper.action("/data/x.idx", "input").action_type
'copy'
>>> mapper.action("/tmp/dataset_1.dat", "input").action_type
'remote_copy'
>>> mapper.action("/tmp/dataset_1.dat", "output").action_type
'none'
>>> mapper.action("/tmp/w/x", "workdir").action_type  # none is forced to copy for working files
'copy'
>>> mapper.action("/other/x", "unstructured").action_type
'none'
>>> mapper.action("/work/x", "unstructured").action_type
'transfer'
"""
import configparser
import fnmatch
import json
import os
import re

from lwr.lwr_client import path_type
from lwr.lwr_client.actions import (
    ACTION_CLASSES,
    BaseAction,
    CopyAction,
    MessageAction,
    NoneAction,
    RemoteCopyAction,
    RemoteTransferAction,
    RewriteAction,
    TransferAction,
    from_dict,
)
from lwr.lwr_client.exceptions import FileActionConfigError

__all__ = [
    "FileActionMapper", "from_dict", "load_action_config", "path_type",
    "BaseAction", "NoneAction", "RewriteAction", "TransferAction", "CopyAction",
    "RemoteCopyAction", "RemoteTransferAction", "MessageAction",
    "DEFAULT_ACTION", "MATCH_TYPES", "REMOTE_ACTIONS", "has_remote_actions",
]

DEFAULT_ACTION = "transfer"
#: Actions a ``file_action_config`` entry / ``default_file_action`` may name.
CONFIGURABLE_ACTIONS = ("none", "rewrite", "transfer", "copy", "remote_copy", "remote_transfer")
#: Actions the server carries out itself (it fetches inputs and pushes outputs).
REMOTE_ACTIONS = ("remote_copy", "remote_transfer")
MAPPER_KEYS = ("path", "action", "path_types", "match_type", "depth")
# A referenced file ends at whitespace, a comma or a quote.
_REFERENCE_CHARS = "[^\\s,\"']"


class FileActionMapper:
    """Picks an action for ``(path, type)``: first matching mapper, else the default for the type.

    Built from a client (``default_file_action``, ``action_config_path``,
    ``files_endpoint`` attributes) or from the ``config`` its :meth:`to_dict` made.
    """

    def __init__(self, client=None, config=None):
        if config is None:
            config = _config_from_client(client)
        if not isinstance(config, dict):
            raise FileActionConfigError("action mapper config must be an object, not %r" % (config,))
        self.default_action = config.get("default_action") or DEFAULT_ACTION
        if self.default_action not in CONFIGURABLE_ACTIONS:
            raise FileActionConfigError("unknown default_file_action %r; expected one of %s"
                                        % (self.default_action, ", ".join(CONFIGURABLE_ACTIONS)))
        self.files_endpoint = config.get("files_endpoint")
        self.source = config.get("source") or "action mapper config"
        self.mappers = mappers_from_dicts(config.get("paths") or [], self.source)

    def action(self, path, type, mapper=None) -> BaseAction:
        """The action staging the local file ``path`` as a file of ``type``."""
        if type not in path_type.ALL_PATH_TYPES:
            raise ValueError("unknown path type %r; expected one of %s"
                             % (type, ", ".join(path_type.ALL_PATH_TYPES)))
        if mapper is None:
            mapper = self._find_mapper(path, type)
        if mapper is not None:
            action_type, kwds = mapper.action_type, mapper.action_kwds
        else:
            action_type = self.default_action if type in path_type.DEFAULT_PATH_TYPES else "none"
            kwds = {}
        if action_type == "none" and type in (path_type.WORKDIR, path_type.OUTPUT_WORKDIR):
            # The job runs in the server's own working directory, so its files must move.
            action_type, kwds = "copy", {}
        if action_type == "rewrite" and not kwds:
            raise FileActionConfigError("default_file_action rewrite needs a mapper with "
                                        "source_directory and destination_directory")
        return ACTION_CLASSES[action_type](path, file_type=type, mapper=mapper,
                                           files_endpoint=self.files_endpoint, **kwds)

    def unstructured_mappers(self) -> list:
        """Mappers that look for unstructured file references in command lines and configs."""
        return [mapper for mapper in self.mappers if path_type.UNSTRUCTURED in mapper.path_types]

    def to_dict(self) -> dict:
        return {"default_action": self.default_action, "files_endpoint": self.files_endpoint,
                "paths": [mapper.to_dict() for mapper in self.mappers]}

    def _find_mapper(self, path, type):
        normalized = os.path.abspath(path)
        for mapper in self.mappers:
            if mapper.matches(normalized, type):
                return mapper
        return None


def has_remote_actions(config) -> bool:
    """Whether an action mapper ``config`` (as :meth:`FileActionMapper.to_dict` makes it) may
    give some file a remote action, by default or through one of its path mappers.

    >>> has_remote_actions({"default_action": "transfer", "paths": [{"path": "/d", "action": "remote_copy"}]})
    True
    >>> has_remote_actions({"default_action": "copy", "files_endpoint": "http://g/remote_files", "paths": []})
    False
    """
    if not isinstance(config, dict):
        return False
    actions = [config.get("default_action")]
    actions.extend(mapper.get("action") for mapper in config.get("paths") or () if isinstance(mapper, dict))
    return any(action in REMOTE_ACTIONS for action in actions)


def _config_from_client(client) -> dict:
    config = {"default_action": getattr(client, "default_file_action", None) or DEFAULT_ACTION,
              "files_endpoint": getattr(client, "files_endpoint", None), "paths": []}
    config_path = getattr(client, "action_config_path", None)
    if config_path:
        loaded = load_action_config(config_path)
        config["paths"] = loaded.get("paths") or []
        config["source"] = "file_action_config %s" % config_path
    return config


def load_action_config(path: str) -> dict:
    """Read a ``file_action_config``: ``.json``, ``.ini``, else YAML; always ``{"paths": [...]}``."""
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".ini":
            return _load_ini(path)
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, configparser.Error) as exc:
        raise FileActionConfigError("cannot read file_action_config %s: %s" % (path, exc))
    try:
        if extension == ".json":
            loaded = json.loads(text)
        else:
            import yaml  # here: the client package (vendored by Galaxy) needs PyYAML only for YAML configs
            loaded = yaml.safe_load(text)
    except ImportError:
        raise FileActionConfigError("file_action_config %s is YAML, which needs PyYAML" % path)
    except Exception as exc:  # json.JSONDecodeError or yaml.YAMLError
        raise FileActionConfigError("file_action_config %s is not valid: %s" % (path, exc))
    if loaded is None:
        loaded = {}
    if isinstance(loaded, list):
        loaded = {"paths": loaded}
    if not isinstance(loaded, dict) or not isinstance(loaded.get("paths", []), list):
        raise FileActionConfigError("file_action_config %s must hold a 'paths' list" % path)
    return loaded


def _load_ini(path):
    """Each section is one mapper; ``path`` defaults to the section name.

    [/galaxy/data]
    action = none
    """
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise FileActionConfigError("cannot read file_action_config %s" % path)
    paths = []
    for section in parser.sections():
        entry = dict(parser.items(section))
        entry.setdefault("path", section)
        paths.append(entry)
    return {"paths": paths}


# -- mappers -----------------------------------------------------------------------------------
class BasePathMapper:
    match_type = None

    def __init__(self, config: dict, where: str):
        self.path = config["path"]
        self.action_type = config.get("action") or DEFAULT_ACTION
        if self.action_type not in CONFIGURABLE_ACTIONS:
            raise FileActionConfigError("%s: unknown action %r; expected one of %s"
                                        % (where, self.action_type, ", ".join(CONFIGURABLE_ACTIONS)))
        self.path_types_text = config.get("path_types") or "*defaults*"
        self.path_types = _parse_path_types(self.path_types_text, where)
        try:
            self.depth = int(config.get("depth") or 0)
        except (TypeError, ValueError):
            raise FileActionConfigError("%s: depth must be an integer, not %r" % (where, config.get("depth")))
        self.action_kwds = {key: value for key, value in config.items() if key not in MAPPER_KEYS}
        accepted = ACTION_CLASSES[self.action_type].config_keys
        for key in self.action_kwds:
            if key not in accepted:
                raise FileActionConfigError("%s: key %r is not valid for action %r"
                                            % (where, key, self.action_type))
        for key, required in accepted.items():
            if required and not self.action_kwds.get(key):
                raise FileActionConfigError("%s: action %r needs %r" % (where, self.action_type, key))

    def matches(self, path: str, type: str) -> bool:
        return type in self.path_types and self._path_matches(path)

    def to_dict(self) -> dict:
        config = {"path": self.path, "action": self.action_type, "path_types": self.path_types_text,
                  "match_type": self.match_type, "depth": self.depth}
        config.update(self.action_kwds)
        return config

    def _path_matches(self, path):
        raise NotImplementedError

    def to_pattern(self):
        """A regex finding references to files this mapper covers in free text."""
        raise NotImplementedError


class PrefixPathMapper(BasePathMapper):
    match_type = "prefix"

    def __init__(self, config, where):
        super().__init__(config, where)
        self.prefix_path = os.path.abspath(self.path)

    def _path_matches(self, path):
        return path == self.prefix_path or path.startswith(self.prefix_path.rstrip(os.sep) + os.sep)

    def to_pattern(self):
        return re.compile("(%s%s%s+)" % (re.escape(self.prefix_path), re.escape(os.sep), _REFERENCE_CHARS))


class GlobPathMapper(BasePathMapper):
    match_type = "glob"

    def _path_matches(self, path):
        return fnmatch.fnmatch(path, self.path)

    def to_pattern(self):
        parts = []
        for char in self.path:
            if char == "*":
                parts.append(_REFERENCE_CHARS + "*")
            elif char == "?":
                parts.append(_REFERENCE_CHARS)
            else:
                parts.append(re.escape(char))
        return re.compile("(%s)" % "".join(parts))


class RegexPathMapper(BasePathMapper):
    match_type = "regex"

    def __init__(self, config, where):
        super().__init__(config, where)
        try:
            self.pattern = re.compile(self.path)
        except re.error as exc:
            raise FileActionConfigError("%s: invalid regex %r: %s" % (where, self.path, exc))

    def _path_matches(self, path):
        return self.pattern.match(path) is not None

    def to_pattern(self):
        return self.pattern


MAPPER_CLASSES = {cls.match_type: cls for cls in (PrefixPathMapper, GlobPathMapper, RegexPathMapper)}
MATCH_TYPES = tuple(MAPPER_CLASSES)


def mappers_from_dicts(configs, source="file_action_config") -> list:
    mappers = []
    for index, config in enumerate(configs):
        where = "%s entry %d" % (source, index + 1)
        if not isinstance(config, dict):
            raise FileActionConfigError("%s must be an object, not %r" % (where, config))
        if not isinstance(config.get("path"), str) or not config["path"]:
            raise FileActionConfigError("%s has no 'path'" % where)
        where = "%s (path %r)" % (where, config["path"])
        match_type = config.get("match_type") or "prefix"
        mapper_class = MAPPER_CLASSES.get(match_type)
        if mapper_class is None:
            raise FileActionConfigError("%s: unknown match_type %r; expected one of %s"
                                        % (where, match_type, ", ".join(MATCH_TYPES)))
        mappers.append(mapper_class(config, where))
    return mappers


def _parse_path_types(text, where):
    if isinstance(text, (list, tuple)):
        names = [str(name).strip() for name in text]
    else:
        names = [name.strip() for name in str(text).split(",") if name.strip()]
    types = []
    for name in names:
        if name == "*defaults*":
            types.extend(path_type.DEFAULT_PATH_TYPES)
        elif name == "*any*":
            types.extend(path_type.ALL_PATH_TYPES)
        elif name in path_type.ALL_PATH_TYPES:
            types.append(name)
        else:
            raise FileActionConfigError("%s: unknown path type %r in path_types" % (where, name))
    return tuple(dict.fromkeys(types))
