"""``lwr-config``: write a starter LWR configuration into a directory.

Writes ``server.ini`` (from the packaged ``server.ini.sample``, with the chosen host, port,
private key, manager file and message queue), ``job_managers.ini`` (one ``_default_``
manager of the chosen type), ``local_env.sh`` (from the sample, with ``DRMAA_LIBRARY_PATH``
when given), a systemd unit ``lwr.service`` and a supervisor program ``lwr.supervisor.conf``
that run ``lwr-server run`` on the result.  Existing files are kept unless ``--force``.
"""
import argparse
import getpass
import grp
import os
import pwd
import re
import secrets
import shlex
import sys
from typing import Dict, List, Optional

from lwr import resources

__all__ = ["main", "build_parser", "set_option", "MANAGER_TYPES", "ConfigWriteError"]

#: Manager types lwr-config can write, and the extra lines each gets in job_managers.ini.
MANAGER_TYPES = {
    "queued_python": [],
    "queued_drmaa": ["#native_specification = -p debug"],
    "queued_external_drmaa": ["#native_specification = -p debug"],
    "queued_condor": [],
    "queued_cli": ["job_plugin = Slurm", "shell_plugin = LocalShell", "#job_partition = debug",
                   "#job_time = 24:00:00"],
    "queued_pbs": ["#job_destination = batch"],
}
FILES = ("server.ini", "job_managers.ini", "local_env.sh", "lwr.service", "lwr.supervisor.conf")


class ConfigWriteError(Exception):
    """A problem the user must fix; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwr-config",
        description="Write a starter LWR configuration (server.ini, job_managers.ini, local_env.sh) and a "
                    "systemd unit and supervisor program for it into a directory. Start the result with "
                    "`lwr-server --directory DIR start` (or the unit).")
    parser.add_argument("--directory", "-d", default=".",
                        help="directory to write into, created if missing (default: the current directory)")
    parser.add_argument("--host", default="localhost",
                        help="interface to listen on: localhost (default), a host name, or 0.0.0.0 for all")
    parser.add_argument("--port", type=int, default=8913, help="port to listen on (default 8913)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--private_key", "--private-key", default=None,
                     help="the shared secret clients must send (default: a newly generated random one)")
    key.add_argument("--no_private_key", "--no-private-key", action="store_true",
                     help="write no private_key (anyone reaching the port may run commands; loopback only)")
    parser.add_argument("--manager", "--manager_type", dest="manager", default="queued_python",
                        choices=sorted(MANAGER_TYPES),
                        help="type of the _default_ job manager (default queued_python; queued_cli is "
                             "written for Slurm: sbatch/squeue on this host)")
    parser.add_argument("--num_concurrent_jobs", default="1",
                        help="jobs run at once by a queued_python manager: a number or * for one per core "
                             "(default 1)")
    parser.add_argument("--drmaa_library_path", "--drmaa-library-path", default=None,
                        help="DRMAA library, exported as DRMAA_LIBRARY_PATH in local_env.sh")
    parser.add_argument("--message_queue_url", "--amqp_url", "--amqp-url", dest="message_queue_url", default=None,
                        help="AMQP broker URL (amqp://user:password@host:5672//): take jobs from it")
    parser.add_argument("--user", default=None,
                        help="user the service runs as in lwr.service / lwr.supervisor.conf (default: you)")
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")
    return parser


def set_option(text: str, section: str, option: str, value: Optional[str]) -> str:
    """``text`` (an ini file) with ``option = value`` in ``[section]``: replaces the first line
    setting it or showing it commented out (``#option = ...``), else adds it under the header.
    ``value`` None comments an active line out."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "[%s]" % section), None)
    if start is None:
        raise ConfigWriteError("the sample has no [%s] section" % section)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    active = re.compile(r"^%s\s*=" % re.escape(option))
    commented = re.compile(r"^#\s?%s\s*=" % re.escape(option))
    new = "%s = %s\n" % (option, value) if value is not None else None
    for pattern in (active, commented):
        for i in range(start + 1, end):
            if pattern.match(lines[i]):
                if new is not None:
                    lines[i] = new
                elif pattern is active:
                    lines[i] = "#" + lines[i]
                return "".join(lines)
    if new is not None:
        lines.insert(start + 1, new)
    return "".join(lines)


def server_ini(args, directory: str, private_key: Optional[str]) -> str:
    with open(resources.sample_path("server.ini.sample")) as handle:
        text = handle.read()
    settings = [
        ("server:main", "host", args.host),
        ("server:main", "port", str(args.port)),
        ("app:main", "staging_directory", os.path.join(directory, "lwr_staging")),
        ("app:main", "persistence_directory", os.path.join(directory, "persisted_data")),
        ("app:main", "private_key", private_key),
        ("app:main", "job_managers_config", os.path.join(directory, "job_managers.ini")),
    ]
    if args.message_queue_url:
        settings.append(("app:main", "message_queue_url", args.message_queue_url))
    header = ("## Written by lwr-config; every option is explained below and in the docs.\n"
              "## Start: lwr-server --directory %s start   (or the lwr.service unit next to this file)\n\n"
              % directory)
    for section, option, value in settings:
        text = set_option(text, section, option, value)
    return header + text


def _manager_lines(args) -> List[str]:
    manager = args.manager
    lines = ["type = %s" % manager]
    if manager == "queued_python":
        lines.append("num_concurrent_jobs = %s" % args.num_concurrent_jobs)
    return lines + MANAGER_TYPES[manager]


def job_managers_ini(args) -> str:
    return "\n".join([
        "## Job managers, written by lwr-config. job_managers.ini.sample (in the LWR package,",
        "## `python -c 'import lwr.resources as r; print(r.sample_path(\"job_managers.ini.sample\"))'`)",
        "## and docs/job_managers.rst describe every type and option.",
        "[manager:_default_]",
    ] + _manager_lines(args)) + "\n"


def local_env_sh(args) -> str:
    with open(resources.sample_path("local_env.sh.sample")) as handle:
        text = handle.read()
    if args.drmaa_library_path:
        line = "export DRMAA_LIBRARY_PATH=%s\n" % shlex.quote(args.drmaa_library_path)
        pattern = re.compile(r"^#export DRMAA_LIBRARY_PATH=.*\n", re.M)
        text = pattern.sub(line, text, count=1) if pattern.search(text) else text + line
    return text


def _service_user(args) -> (str, str):
    user = args.user or getpass.getuser()
    try:
        group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        group = user
    return user, group


def _lwr_server_command(directory: str) -> str:
    bindir = os.path.dirname(sys.executable)
    command = os.path.join(bindir, "lwr-server")
    if not os.path.exists(command):
        command = "%s -m lwr.scripts.lwr_server" % sys.executable
    return "%s --directory %s run" % (command, directory)


def systemd_unit(args, directory: str) -> str:
    user, group = _service_user(args)
    return "\n".join([
        "# systemd unit for the LWR in %s, written by lwr-config." % directory,
        "# Install:  sudo cp %s/lwr.service /etc/systemd/system/lwr.service" % directory,
        "#           sudo systemctl daemon-reload && sudo systemctl enable --now lwr",
        "# Logs:     journalctl -u lwr",
        "[Unit]",
        "Description=LWR job server for Galaxy",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % user,
        "Group=%s" % group,
        "WorkingDirectory=%s" % directory,
        "# lwr-server run sources local_env.sh, then runs `paster serve server.ini` in the foreground.",
        "ExecStart=%s" % _lwr_server_command(directory),
        "Restart=on-failure",
        "RestartSec=5",
        "# Running jobs survive a stop: the LWR finds them again when it starts.",
        "KillMode=process",
        "TimeoutStopSec=60",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def supervisor_program(args, directory: str) -> str:
    user, _ = _service_user(args)
    return "\n".join([
        "; supervisor program for the LWR in %s, written by lwr-config." % directory,
        "; Install: copy into /etc/supervisor/conf.d/ then `supervisorctl reread && supervisorctl update`.",
        "[program:lwr]",
        "command=%s" % _lwr_server_command(directory),
        "directory=%s" % directory,
        "user=%s" % user,
        "autostart=true",
        "autorestart=true",
        "startsecs=5",
        "stopsignal=TERM",
        "stopwaitsecs=60",
        "; only the server process: running jobs survive a stop",
        "stopasgroup=false",
        "killasgroup=false",
        "redirect_stderr=true",
        "stdout_logfile=%s" % os.path.join(directory, "lwr.log"),
        "",
    ])


def write_files(files: Dict[str, str], directory: str, force: bool) -> None:
    existing = [name for name in files if os.path.exists(os.path.join(directory, name))]
    if existing and not force:
        raise ConfigWriteError("%s already exist%s in %s (pass --force to overwrite)"
                               % (", ".join(existing), "s" if len(existing) == 1 else "", directory))
    for name, text in files.items():
        path = os.path.join(directory, name)
        mode = 0o600 if name == "server.ini" else 0o644  # server.ini holds the private key
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path + ".tmp", mode)
        os.replace(path + ".tmp", path)


def run(args) -> int:
    directory = os.path.abspath(args.directory)
    if not 0 < args.port < 65536:
        raise ConfigWriteError("--port %d: expected 1-65535" % args.port)
    if args.num_concurrent_jobs != "*" and not args.num_concurrent_jobs.isdigit():
        raise ConfigWriteError("--num_concurrent_jobs %r: expected a whole number or *" % args.num_concurrent_jobs)
    if args.no_private_key:
        private_key = None
    else:
        private_key = args.private_key or secrets.token_urlsafe(32)
        if not private_key.strip() or any(c in private_key for c in "\n\r%"):
            raise ConfigWriteError("--private_key: must be non-empty, on one line, without %")
    os.makedirs(directory, exist_ok=True)
    files = {
        "server.ini": server_ini(args, directory, private_key),
        "job_managers.ini": job_managers_ini(args),
        "local_env.sh": local_env_sh(args),
        "lwr.service": systemd_unit(args, directory),
        "lwr.supervisor.conf": supervisor_program(args, directory),
    }
    write_files(files, directory, args.force)
    print("lwr-config: wrote %s in %s" % (", ".join(files), directory))
    if private_key:
        print("lwr-config: private key (Galaxy destination parameter private_token): %s" % private_key)
    print("lwr-config: start the server with: lwr-server --directory %s start" % directory)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ConfigWriteError, OSError) as exc:
        print("lwr-config: error: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
