"""Where the files that ship beside the code are: sample configurations and ``scripts/*.bash``.

In a source checkout they live at the top of the tree (``server.ini.sample``,
``scripts/drmaa_launch.bash``, ...).  An installed package (``pip install lwr``) carries
copies under ``lwr/_data/`` (``setup.py`` puts them there when it builds), so code asks
this module instead of computing a path from ``lwr.__file__``.
"""
import os

__all__ = ["SAMPLES", "SCRIPTS", "lwr_root", "sample_path", "scripts_dir", "script_path", "installed"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGED = os.path.join(_PACKAGE_DIR, "_data")
_CHECKOUT = os.path.dirname(_PACKAGE_DIR)

#: Sample configuration files that ship with the package.
SAMPLES = ("server.ini.sample", "job_managers.ini.sample", "local_env.sh.sample",
           "object_store_conf.xml.sample")
#: Helper scripts run by managers (through sudo) and by the message-queue CLI launcher.
SCRIPTS = ("chown_working_directory.bash", "drmaa_kill.bash", "drmaa_launch.bash",
           "execute_script.bash", "submit.bash")


def installed() -> bool:
    """True when running from an installed package (the data was copied under ``lwr/_data``)."""
    return os.path.isdir(os.path.join(_PACKAGED, "scripts"))


def lwr_root() -> str:
    """The directory holding ``scripts/`` and the samples: ``lwr/_data`` of an installed
    package, else the source checkout's top directory."""
    return _PACKAGED if installed() else _CHECKOUT


def sample_path(name: str) -> str:
    """Absolute path of one of :data:`SAMPLES`."""
    if name not in SAMPLES:
        raise ValueError("unknown sample %r (one of %s)" % (name, ", ".join(SAMPLES)))
    return os.path.join(lwr_root(), name)


def scripts_dir() -> str:
    """Absolute path of the directory holding :data:`SCRIPTS`."""
    return os.path.join(lwr_root(), "scripts")


def script_path(name: str) -> str:
    """Absolute path of one of :data:`SCRIPTS`."""
    if name not in SCRIPTS:
        raise ValueError("unknown script %r (one of %s)" % (name, ", ".join(SCRIPTS)))
    return os.path.join(scripts_dir(), name)
