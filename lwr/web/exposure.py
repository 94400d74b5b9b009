"""Secure by default: a server without ``private_key`` only listens on loopback.

:func:`listening_hosts` gives the addresses this process already listens on (servers that
bind before they load the application: ``egg:lwr#server``, gunicorn, uWSGI) together with
those named by the ini file the app was loaded from: every ``[server:*]`` section's
``host`` / ``listen`` / ``bind``, every circusd ``[socket:*]`` section's ``host``, or under
uWSGI the ``[uwsgi]`` sockets.  :func:`check_authentication` refuses an app without a key
when any of them reaches beyond loopback (or when none can be told), unless
``allow_unauthenticated = true``, which is logged as a warning at every start; on loopback
only, the missing key is a warning.
"""
import configparser
import getpass
import ipaddress
import logging
import os
import socket
import sys
from typing import List, Optional

from lwr.options import ConfigurationError

__all__ = ["listening_hosts", "bound_hosts", "note_bound", "is_loopback", "check_authentication"]

log = logging.getLogger(__name__)

_UWSGI_SOCKETS = ("socket", "uwsgi-socket", "http", "http-socket", "https", "https-socket", "fastcgi-socket")


def _host_of(address: str) -> str:
    """``host`` of ``host:port`` / ``[v6]:port`` / ``unix:/path`` (a Unix socket is local)."""
    address = address.strip().split(",")[0].strip()
    if address.startswith("unix:") or address.startswith("/") or address.startswith("@"):
        return "localhost"
    if address.startswith("["):
        return address[1:address.index("]")] if "]" in address else address
    return address.rsplit(":", 1)[0] if ":" in address else address


def bound_hosts() -> List[str]:
    """Addresses this process already listens on (TCP). A server that binds before it loads the
    application (egg:lwr#server, gunicorn, uWSGI) shows where it really listens, whatever the ini says."""
    try:
        import psutil  # here: an optional dependency of this check
        process = psutil.Process()
        connections = (process.net_connections if hasattr(process, "net_connections") else process.connections)
        listening = {c.laddr.ip for c in connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.laddr}
    except Exception:  # no psutil, or not allowed to look: the ini file (and what we bound) is all there is
        listening = set()
    return sorted(listening | set(_BOUND))


#: Hosts bound by egg:lwr#server in this process; it listens only once the application is built,
#: so the kernel does not show them as listening yet when the application checks.
_BOUND = []


def note_bound(host: str) -> None:
    _BOUND.append(host)


def listening_hosts(config_file: Optional[str]) -> Optional[List[str]]:
    """Hosts this process listens on or the ini file names for listening; None when neither tells."""
    named = _named_hosts(config_file)
    bound = bound_hosts()
    if named is None and not bound:
        return None
    return (named or []) + [host for host in bound if host not in (named or [])]


def _named_hosts(config_file: Optional[str]) -> Optional[List[str]]:
    if not config_file or not os.path.isfile(config_file):
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(config_file)
    except configparser.Error:
        return None
    hosts = []
    if "uwsgi" in sys.modules and parser.has_section("uwsgi"):
        for key in _UWSGI_SOCKETS:
            if parser.has_option("uwsgi", key):
                hosts.append(_host_of(parser.get("uwsgi", key)))
        return hosts or None
    for section in parser.sections():
        if section.startswith("socket:") and parser.has_option(section, "host"):  # circusd's sockets
            hosts.append(parser.get(section, "host").strip())
        if not section.startswith("server:"):
            continue
        values = dict(parser.items(section))
        if values.get("listen"):  # waitress: "host:port host:port"
            hosts.extend(_host_of(item) for item in values["listen"].split())
        elif values.get("bind"):  # gunicorn
            hosts.extend(_host_of(item) for item in values["bind"].split())
        elif values.get("host") is not None:
            hosts.append(values["host"].strip())
        elif values.get("use", "").startswith("egg:waitress"):
            hosts.append("0.0.0.0")  # waitress's own runner listens on every interface by default
        else:
            hosts.append("localhost")  # egg:lwr#server and egg:Paste#http
    return hosts or None


def is_loopback(host: str) -> bool:
    """True when every address ``host`` stands for is a loopback address."""
    host = (host or "").strip().strip("[]")
    if host in ("", "*", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_authentication(private_key: Optional[str], allow_unauthenticated: bool, config_file: Optional[str],
                         section: str = "app:main") -> None:
    """Refuse (:class:`ConfigurationError`) or warn about a server without ``private_key``."""
    if private_key and private_key.strip():
        return
    hosts = listening_hosts(config_file)
    exposed = [h for h in hosts if not is_loopback(h)] if hosts is not None else None
    user = _user()
    if exposed == []:
        log.warning("no private_key: any local user can run commands as %s through the server on %s",
                    user, ", ".join(hosts))
        return
    where = ("host = %s" % ", ".join(exposed)) if exposed else "an address not known to be loopback"
    if allow_unauthenticated:
        log.warning("allow_unauthenticated = true: serving WITHOUT authentication on %s; anyone who can reach "
                    "it can run any command as %s", where, user)
        return
    state = "not set" if private_key is None else "empty"
    raise ConfigurationError("private_key is %s while the server listens beyond loopback (%s): set private_key, "
                             "or allow_unauthenticated = true to serve without authentication"
                             % (state, where), config_file, section, "private_key")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "the server's user"
