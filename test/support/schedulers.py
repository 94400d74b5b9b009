"""Is a real scheduler service (started by scripts/services/start-*.sh) usable from this process?

Each check is cheap and cached; use with ``test.support.services.require(check(), reason)``.
"""
import functools
import os
import shutil
import subprocess

from test.support.services import port_open

__all__ = ["slurm_available", "torque_wrappers_available", "sge_available", "sge_drmaa_available",
           "drmaa_problem", "ssh_available", "ssh_config_path", "torque_wrapper_dir", "scheduler_env",
           "SSH_HOST"]

SSH_HOST = "lwr-test-ssh"
DEFAULT_SSHD_DIR = "/var/lib/lwr-test-sshd"
DEFAULT_TORQUE_DIR = "/opt/lwr-slurm-torque/usr/bin"
SCHEDULER_ENV = {
    "SGE_ROOT": "/var/lib/gridengine",
    "SGE_CELL": "default",
    "DRMAA_LIBRARY_PATH": "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0",
    "GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=2048",
}


def scheduler_env(base=None) -> dict:
    """An environment for child processes that talk to the services (what env.sh exports)."""
    env = dict(os.environ if base is None else base)
    for key, value in SCHEDULER_ENV.items():
        env.setdefault(key, value)
    env.setdefault("LWR_TORQUE_WRAPPER_DIR", DEFAULT_TORQUE_DIR)
    env.setdefault("LWR_TEST_SSH_CONFIG", ssh_config_path())
    return env


def _ok(argv, env=None, timeout=10) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, env=env).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=None)
def slurm_available() -> bool:
    if not shutil.which("sinfo"):
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(s.strip().rstrip("*") in ("idle", "mixed", "allocated", "completing") for s in out.split())


def torque_wrapper_dir() -> str:
    return os.environ.get("LWR_TORQUE_WRAPPER_DIR", DEFAULT_TORQUE_DIR)


@functools.lru_cache(maxsize=None)
def torque_wrappers_available() -> bool:
    qstat = os.path.join(torque_wrapper_dir(), "qstat")
    # plain `qstat` exits 153 when no job is queued; `qstat -Q` (queue list) always answers
    return slurm_available() and os.access(qstat, os.X_OK) and _ok([qstat, "-Q"])


@functools.lru_cache(maxsize=None)
def sge_available() -> bool:
    return bool(shutil.which("qconf")) and _ok(["qconf", "-sql"], env=scheduler_env())


@functools.lru_cache(maxsize=None)
def drmaa_problem():
    """None if this process can open a DRMAA session on Grid Engine, else why not."""
    if not sge_available():
        return "Grid Engine is not running (scripts/services/start-sge.sh)"
    from lwr.managers.util.drmaa import DrmaaUnavailable, load_drmaa
    try:
        load_drmaa()
    except DrmaaUnavailable as exc:
        return "%s (run pytest with `. scripts/services/env.sh` sourced)" % exc
    return None


def sge_drmaa_available() -> bool:
    return drmaa_problem() is None


def ssh_config_path() -> str:
    default = os.path.join(os.environ.get("LWR_TEST_SSHD_DIR", DEFAULT_SSHD_DIR), "ssh_config")
    return os.environ.get("LWR_TEST_SSH_CONFIG", default)


@functools.lru_cache(maxsize=None)
def ssh_available() -> bool:
    config = ssh_config_path()
    return (os.path.exists(config) and port_open("127.0.0.1", int(os.environ.get("LWR_TEST_SSH_PORT", "2222")))
            and _ok(["ssh", "-F", config, SSH_HOST, "true"]))
