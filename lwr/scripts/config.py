"""Config builders shared by ``lwr.daemon`` and ``lwr.scripts.submit`` (spec §10.3).

``LwrConfigBuilder`` reads ``[app:<app>]`` of a Paste ini file (``%(here)s``
and ``[DEFAULT]`` honoured) and can set up logging from its ``[loggers]``
sections; ``load_lwr_app`` builds an :class:`~lwr.core.LwrApp` from it
without any web server.
"""
import argparse
import configparser
import logging
import logging.config
import os
from typing import Optional

from lwr.app_options import validate_app_conf
from lwr.core import LwrApp
from lwr.manager_factory import check_managers_config
from lwr.options import ConfigurationError

__all__ = ["LwrConfigBuilder", "LwrManagerConfigBuilder", "load_lwr_app", "DEFAULT_INI_PATH",
           "DEFAULT_APP", "ConfigError", "default_root"]

DEFAULT_INI_PATH = "server.ini"
DEFAULT_APP = "main"
DEFAULT_MANAGER = "_default_"


class ConfigError(ConfigurationError):
    """The ini file or app section cannot be used (a :class:`~lwr.options.ConfigurationError`)."""


def default_root(ini_path: str) -> str:
    """Where the process runs without ``--root``: the directory of an absolute ``--ini_path``,
    else the current directory (never the installed package's directory)."""
    return os.path.dirname(ini_path) if os.path.isabs(ini_path) else os.getcwd()


class LwrConfigBuilder:
    """Where the app's configuration comes from: ``--root``, ``--ini_path`` (relative to root), ``--app``."""

    def __init__(self, args=None, ini_path: Optional[str] = None, app: Optional[str] = None,
                 root: Optional[str] = None, **kwds):
        ini_path = ini_path or getattr(args, "ini_path", None) or DEFAULT_INI_PATH
        root = root or getattr(args, "root", None) or default_root(ini_path)
        self.root = os.path.abspath(root)
        self.ini_path = ini_path if os.path.isabs(ini_path) else os.path.join(self.root, ini_path)
        self.app_name = app or getattr(args, "app", None) or DEFAULT_APP

    @classmethod
    def populate_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--root", default=None,
                            help="LWR root directory; the process runs there (default: the directory of an "
                                 "absolute --ini_path, else the current directory)")
        parser.add_argument("--ini_path", default=None,
                            help="Paste ini file, relative to --root (default %s)" % DEFAULT_INI_PATH)
        parser.add_argument("--app", default=None, help="app section [app:APP] to load (default %s)" % DEFAULT_APP)

    def _parser(self) -> configparser.ConfigParser:
        if not os.path.exists(self.ini_path):
            raise ConfigError("%s not found (pass --ini_path, or --root for the LWR directory)" % self.ini_path)
        parser = configparser.ConfigParser(defaults={"here": os.path.dirname(os.path.abspath(self.ini_path))})
        parser.optionxform = str
        parser.read(self.ini_path)
        return parser

    def load(self) -> dict:
        """The ``[app:<app>]`` options as strings (``use`` / ``paste.*`` dropped)."""
        parser = self._parser()
        section = "app:%s" % self.app_name
        if not parser.has_section(section):
            raise ConfigError("%s has no [%s] section" % (self.ini_path, section))
        defaults = parser.defaults()
        return {key: value for key, value in parser.items(section)
                if key not in defaults and key != "use" and not key.startswith("paste.")}

    def check(self, conf: Optional[dict] = None) -> dict:
        """Validate the app options (and the job managers file they name) without building anything:
        the typed options, or a one-line :class:`ConfigError` naming the file, section and option."""
        conf = self.load() if conf is None else conf
        try:
            options = validate_app_conf(conf, self.ini_path, "app:%s" % self.app_name)
            check_managers_config(conf)
        except ConfigurationError as exc:
            exc.located(self.ini_path, "app:%s" % self.app_name)
            raise ConfigError(exc.message, exc.file, exc.section, exc.option) from None
        return options

    def setup_logging(self, default_level=logging.INFO) -> None:
        """``[loggers]`` etc. of the ini file when present, else INFO to stderr."""
        parser = self._parser() if os.path.exists(self.ini_path) else None
        if parser is not None and parser.has_section("loggers"):
            logging.config.fileConfig(self.ini_path, defaults={"here": os.path.dirname(self.ini_path)},
                                      disable_existing_loggers=False)
        else:
            logging.basicConfig(level=default_level,
                                format="%(asctime)s %(levelname)s [%(name)s] %(message)s")

    def to_dict(self) -> dict:
        return {"root": self.root, "ini_path": self.ini_path, "app": self.app_name}


class LwrManagerConfigBuilder(LwrConfigBuilder):
    """Adds ``--manager`` (default ``_default_``)."""

    def __init__(self, args=None, manager: Optional[str] = None, **kwds):
        super().__init__(args, **kwds)
        self.manager = manager or getattr(args, "manager", None) or DEFAULT_MANAGER

    @classmethod
    def populate_options(cls, parser: argparse.ArgumentParser) -> None:
        super().populate_options(parser)
        parser.add_argument("--manager", default=None, help="job manager name (default %s)" % DEFAULT_MANAGER)

    def to_dict(self) -> dict:
        values = super().to_dict()
        values["manager"] = self.manager
        return values


def load_lwr_app(config_builder: LwrConfigBuilder, config_env: bool = False, **overrides):
    """A started :class:`~lwr.core.LwrApp` from the builder's ini section, with ``overrides`` applied.

    With ``config_env`` true, ``LWR_CONFIG_<OPTION>`` environment variables
    override ini options too (before ``overrides``).
    """
    conf = config_builder.load()
    if config_env:
        for key, value in os.environ.items():
            if key.startswith("LWR_CONFIG_"):
                conf[key[len("LWR_CONFIG_"):].lower()] = value
    conf.update(overrides)
    config_builder.check(conf)
    try:
        app = LwrApp(global_conf={"__file__": config_builder.ini_path, "here": config_builder.root}, **conf)
        return app.start()
    except ConfigError:
        raise
    except ConfigurationError as exc:  # found while building (a manager's plugin, ...): same one line
        exc.located(config_builder.ini_path, "app:%s" % config_builder.app_name)
        raise ConfigError(exc.message, exc.file, exc.section, exc.option) from None
