"""Build the named managers from ``job_managers.ini`` (spec §3.1)."""
import configparser
import importlib
import logging

from lwr.managers.options import MANAGER_OPTIONS
from lwr.managers.stateful import StatefulManagerProxy
from lwr.options import ConfigurationError  # re-exported: managers and tests import it from here

__all__ = ["build_managers", "MANAGER_TYPES", "ConfigurationError", "DEFAULT_MANAGER_NAME",
           "read_manager_sections", "validate_manager_sections"]

log = logging.getLogger(__name__)

DEFAULT_MANAGER_NAME = "_default_"

#: manager ``type`` -> "module:Class"; imported only when a manager of that type is configured.
MANAGER_TYPES = {
    "queued_python": "lwr.managers.queued:QueueManager",
    "unqueued": "lwr.managers.unqueued:Manager",
    "queued_drmaa": "lwr.managers.queued_drmaa:DrmaaQueueManager",
    "queued_external_drmaa": "lwr.managers.queued_external_drmaa:ExternalDrmaaQueueManager",
    "queued_condor": "lwr.managers.queued_condor:CondorQueueManager",
    "queued_cli": "lwr.managers.queued_cli:CliQueueManager",
    "queued_pbs": "lwr.managers.queued_pbs:PbsQueueManager",
}

#: Options read by the proxy, not the manager.
_PROXY_OPTIONS = ("min_polling_interval",)


def manager_class(manager_type):
    if manager_type not in MANAGER_TYPES:
        raise ConfigurationError("unknown manager type %r; choose one of %s"
                                 % (manager_type, ", ".join(sorted(MANAGER_TYPES))))
    module_name, class_name = MANAGER_TYPES[manager_type].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError("manager type %r is not available: %s" % (manager_type, exc))
    return getattr(module, class_name)


def read_manager_sections(path):
    """``{name: {option: value}}`` from ``[manager:<name>]`` sections; option case is preserved."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep env_NAME's case (0.2.0 lower-cased it)
    if not parser.read(path):
        raise ConfigurationError("job_managers_config %r cannot be read" % path)
    sections = {}
    for section in parser.sections():
        if not section.startswith("manager:"):
            continue
        items = {}
        for key, value in parser.items(section):
            items[key if key.lower().startswith("env_") else key.lower()] = value
        sections[section[len("manager:"):]] = items
    if not sections:
        raise ConfigurationError("job_managers_config %r has no [manager:NAME] section" % path)
    return sections


def validate_manager_sections(sections, path=None):
    """Refuse (one-line :class:`ConfigurationError`) a section without a known ``type``, or
    with an option its type does not declare (:mod:`lwr.managers.options`) or a bad value."""
    for name, options in sections.items():
        section = "manager:%s" % name
        manager_type = options.get("type")
        if not manager_type:
            raise ConfigurationError("has no 'type'; choose one of %s" % ", ".join(sorted(MANAGER_TYPES)),
                                     path, section, "type")
        if manager_type not in MANAGER_TYPES:
            raise ConfigurationError("type = %r: expected one of %s" % (manager_type, ", ".join(sorted(MANAGER_TYPES))),
                                     path, section, "type")
        declared = MANAGER_OPTIONS.get(manager_type)
        if declared is None:  # a type registered at run time (tests, site plugins) declares nothing here
            log.warning("[%s] type %s has no declared options: its options are not checked", section, manager_type)
            continue
        declared.validate(options, path, section)


def check_managers_config(conf):
    """Read and validate ``job_managers_config`` of the app options ``conf`` without building anything."""
    config_file = conf.get("job_managers_config")
    if config_file:
        validate_manager_sections(read_manager_sections(config_file), config_file)


def build_managers(app, conf):
    """Every configured manager wrapped in a :class:`StatefulManagerProxy`."""
    config_file = conf.get("job_managers_config")
    if config_file:
        sections = read_manager_sections(config_file)
        validate_manager_sections(sections, config_file)  # all of them, before any manager starts a thread
    else:
        sections = {DEFAULT_MANAGER_NAME: {"type": "queued_python"}}
    defaults = {"debug": conf.get("debug", "false")}
    if conf.get("assign_ids"):
        defaults["assign_ids"] = conf["assign_ids"]
    for key in ("galaxy_home", "galaxy_virtual_env", "galaxy_config_file", "galaxy_dataset_files_path",
                "galaxy_datatypes_config_file"):
        if conf.get(key):
            defaults[key] = conf[key]
    managers = {}
    try:
        for name, options in sections.items():
            options = dict(defaults, **options)
            manager_type = options.pop("type", None)
            proxy_options = {k: options.pop(k) for k in _PROXY_OPTIONS if k in options}
            try:
                manager = manager_class(manager_type)(name, app, **options)
            except ConfigurationError as exc:
                raise exc.located(config_file, "manager:%s" % name)
            managers[name] = StatefulManagerProxy(manager, persistence_directory=app.persistence_directory,
                                                  **proxy_options)
    except Exception:
        for built in managers.values():  # their threads would keep the refusing process alive
            try:
                built.shutdown()
            except Exception:
                log.exception("stopping manager %s after a failed start", built.name)
        raise
    return managers
