"""``python -m lwr.scripts.check_config server.ini``: the start-up checks, without starting.

Runs what ``paster serve`` runs before the application is built - ``[server:main]`` of
``egg:lwr#server`` (options, certificate, and a trial bind of the address), ``[app:main]``,
``job_managers.ini``, the object store file and the ``private_key`` rule - and prints the
first refusal as one line on standard error (exit status 1), or nothing (exit status 0).
``run.sh --daemon`` runs it first, so a mistake is reported in the terminal rather than
only in the daemon's log.
"""
import argparse
import logging
import os
import sys

from paste.deploy import loadwsgi

from lwr.options import ConfigurationError
from lwr.web import httpserver
from lwr.web.wsgi import app_factory, check_app_conf

__all__ = ["check", "main"]


def check(path: str, app_name: str = "main", server_name: str = "main") -> None:
    """Raise :class:`ConfigurationError` (or ``SystemExit`` with its line) for the first mistake."""
    uri = "config:" + os.path.abspath(path)
    server = loadwsgi.loadcontext(loadwsgi.SERVER, uri, name=server_name)
    if server.object in (httpserver.server_factory, httpserver.server_runner):
        run = httpserver.server_factory(server.global_conf, **server.local_conf)
        run.listener.close()  # a trial: the server binds it again when it starts
    app = loadwsgi.loadcontext(loadwsgi.APP, uri, name=app_name)
    if app.object is app_factory:  # another application (a test's egg:Paste#test) has its own options
        check_app_conf(app.global_conf, app.local_conf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lwr.scripts.check_config",
                                     description="Check a server.ini (and the files it names) the way the "
                                                 "server does at start, without starting it.")
    parser.add_argument("config", help="the Paste ini file, e.g. server.ini")
    parser.add_argument("--app", default="main", help="app section [app:APP] (default main)")
    parser.add_argument("--server", default="main", help="server section [server:SERVER] (default main)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the server's own warnings come when it starts
    if not os.path.isfile(args.config):
        print("%s: no such file" % args.config, file=sys.stderr)
        return 1
    try:
        check(args.config, args.app, args.server)
    except ConfigurationError as exc:
        print(exc.located(os.path.abspath(args.config)), file=sys.stderr)
        return 1
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(exc.code, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
