"""A small routing WSGI framework: route table, parameter binding, JSON errors (spec §1.1–1.2)."""
import errno
import functools
import hmac
import inspect
import ipaddress
import json
import logging
import re

from webob import Request, Response

from lwr.lwr_client.route_table import MANAGER_PREFIX
from lwr.web import status_auth
from lwr.web.query import SECRET_NAMES, QueryError, query_dict

__all__ = ["RoutingApp", "bind_routes", "HttpError", "json_error", "redact_paths", "from_loopback", "ROUTE_KEY"]

log = logging.getLogger(__name__)

#: Argument names filled by the framework, never from the query string: ``environ`` is the
#: WSGI environ (a route taking it may read the request body itself), ``ip`` the client's address.
APP_ARGUMENTS = ("manager", "file_cache", "object_store", "ip", "environ", "app")

#: Where the name of the matched route is left for middleware (the metrics count requests by it).
ROUTE_KEY = "lwr.route"

#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever its address.
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


class HttpError(Exception):
    """Raised by a route to answer with ``status`` and a JSON ``{"error": message}`` body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Answer(Exception):
    """Carries a finished response out of the access check (a login form instead of a 401 body)."""

    def __init__(self, response):
        super().__init__("answered")
        self.response = response


def json_error(status: int, message: str) -> Response:
    body = json.dumps({"error": message}).encode("utf-8")
    return Response(body=body, status=status, content_type="application/json", charset=None)


def bind_routes(table, modules):
    """``[(route, handler)]``: each declared route with the function of its name defined in one
    of ``modules`` (``table``: :data:`lwr.lwr_client.route_table.ROUTES`).

    A declared route without a handler, or with two, is refused here, when the app is built.
    """
    bound = []
    for declared in table:
        handlers = [getattr(module, declared.name) for module in modules
                    if getattr(getattr(module, declared.name, None), "__module__", None) == module.__name__]
        if len(handlers) != 1:
            raise LookupError("route %r has %d handlers in %s" % (
                declared.name, len(handlers), ", ".join(module.__name__ for module in modules)))
        bound.append((declared, handlers[0]))
    return bound


def _path_regex(template: str):
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile("^" + pattern + "$")


@functools.lru_cache(maxsize=None)
def _parameters(func):
    """A route handler's parameters (handlers are module functions: a fixed, small set)."""
    return inspect.signature(func).parameters


class RoutingApp:
    """Dispatches to the first route whose method and anchored path match; binds arguments by name.

    ``exception_map`` turns known exception types into (status, message) so a bad
    request from the network is a 4xx with a message instead of a 500.
    """

    def __init__(self, app, bound_routes, exception_map=(), manager_prefix=True, unauthorized=None):
        """``bound_routes``: ``[(route, handler)]`` (see :func:`bind_routes`), in match order.
        ``unauthorized(request, message)``: the answer to a refused request on a route whose
        token may come from a cookie (a login form for a browser), or None for the JSON 401."""
        self.app = app
        self.exception_map = list(exception_map)
        self.unauthorized = unauthorized
        self.routes = []
        self._auth = {}  # handler -> how its token is given (Route.auth)
        for declared, func in bound_routes:
            self._auth[func] = getattr(declared, "auth", "token")
            self.routes.append((_path_regex(declared.path), declared.method, func, declared.response,
                                declared.name))
            if manager_prefix:
                self.routes.append((_path_regex(MANAGER_PREFIX + declared.path),
                                    declared.method, func, declared.response, declared.name))

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._handle(request)
        except HttpError as exc:
            response = json_error(exc.status, exc.message)
        except _Answer as answer:
            response = answer.response
        return response(environ, start_response)

    def _handle(self, request):
        # Not request.path_info: servers disagree on PATH_INFO's encoding (Paste decodes UTF-8).
        path = request.environ.get("PATH_INFO") or "/"
        path_matched = False
        for regex, method, func, response_type, name in self.routes:
            match = regex.match(path)
            if not match:
                continue
            path_matched = True
            if method is not None and method != request.method:
                continue
            request.environ[ROUTE_KEY] = name
            self._check_access(request, name, self._auth.get(func, "token"))
            return self._call(request, func, response_type, match.groupdict())
        if path_matched:
            raise HttpError(405, "method %s is not allowed on %s" % (request.method, path))
        raise HttpError(404, "no such route: %s" % path)

    def _check_access(self, request, route_name=None, auth="token"):
        private_key = getattr(self.app, "private_key", None)
        if not private_key:
            return
        if route_name in (getattr(self.app, "loopback_open_routes", None) or ()) and from_loopback(request.environ):
            return
        given = next(filter(None, (_query_value(request, name) for name in SECRET_NAMES)), "")
        if auth == "login" and not given:
            form = _form(request)
            given = (form.get("private_key") or "") if form is not None else ""
        if hmac.compare_digest(given.encode("utf-8"), private_key.encode("utf-8")):
            return
        # The session cookie counts only on the routes declared for it (the status page).
        if auth == "cookie" and status_auth.cookie_valid(request, private_key):
            return
        message = "the private_key token is missing or wrong"
        if auth != "token" and self.unauthorized is not None:
            answer = self.unauthorized(request, message)
            if answer is not None:
                raise _Answer(answer)
        raise HttpError(401, message)

    def _call(self, request, func, response_type, path_args):
        try:
            kwargs = self._bind(request, func, path_args)
            result = func(**kwargs)
        except (HttpError, ConnectionError):
            raise  # a client that went away or was too slow is not an error of the route
        except Exception as exc:
            raise self._translate(exc, request)
        if isinstance(result, Response):
            return result
        if response_type == "json":
            body = json.dumps(result).encode("utf-8")
            return Response(body=body, content_type="application/json", charset=None)
        if response_type in ("file", "text"):
            return result  # routes returning files or their own text format build their own Response
        return Response(body=b"OK", content_type="text/plain", charset=None)

    def _translate(self, exc, request):
        for exc_type, status in self.exception_map:
            if isinstance(exc, exc_type):
                return HttpError(status, str(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return HttpError(507, "the LWR server is out of disk space: %s" % exc.strerror)
        if isinstance(exc, RecursionError):  # a structure nested past what Python can walk
            log.warning("%s %s: input nested too deeply (%s)", request.method, request.environ.get("PATH_INFO"), exc)
            return HttpError(400, "the request is nested too deeply to process")
        log.exception("%s %s failed", request.method, request.environ.get("PATH_INFO"))
        return HttpError(500, "internal error in LWR (details in the server log): %s: %s"
                         % (type(exc).__name__, redact_paths(str(exc))))

    def _bind(self, request, func, path_args):
        kwargs = {}
        parameters = _parameters(func)
        # Long parameters (a Galaxy command line with many staged paths) may exceed the
        # request-line limit; a client may then send them as a form body instead (not to a
        # route that reads the body itself).
        form = None if "environ" in parameters else _form(request)
        for name, parameter in parameters.items():
            if name in APP_ARGUMENTS:
                kwargs[name] = self._app_argument(name, request, path_args)
            elif name in path_args:
                kwargs[name] = path_args[name]
            else:
                value = _query_value(request, name)
                if value is None and form is not None:
                    value = form.get(name)
                if value is not None:
                    kwargs[name] = value
                elif parameter.default is inspect.Parameter.empty:
                    raise HttpError(400, "missing required parameter %r" % name)
        if log.isEnabledFor(logging.DEBUG):
            _log_ignored_parameters(request, func, parameters)
        return kwargs

    def _app_argument(self, name, request, path_args):
        if name == "manager":
            manager_name = path_args.get("manager_name", "_default_")
            manager = self.app.managers.get(manager_name)
            if manager is None:
                raise HttpError(404, "unknown manager %r" % manager_name)
            return manager
        if name == "ip":
            forwarded = request.environ.get("HTTP_X_FORWARDED_FOR")
            if forwarded:
                return forwarded.split(",")[-1].strip()
            return request.environ.get("REMOTE_ADDR")
        if name == "environ":
            return request.environ
        if name == "app":
            return self.app
        return getattr(self.app, name, None)


MAX_FORM_BODY = 16 * 1024 * 1024


def from_loopback(environ) -> bool:
    """The request came from this host and through no proxy: a loopback address and none of the
    headers a reverse proxy adds (a proxy on this host makes every request look local)."""
    if any(environ.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((environ.get("REMOTE_ADDR") or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


_ABSOLUTE_PATH = re.compile(r"""(?:(?<=^)|(?<=[\s'"(\[=:,]))/[^\s'"(),\]]*""")


def redact_paths(text: str) -> str:
    """``text`` with every absolute path replaced by ``<path>``: the server's layout is not the
    client's business, and an internal error's text often names files."""
    return _ABSOLUTE_PATH.sub("<path>", text)


def _form(request):
    if request.content_type != "application/x-www-form-urlencoded" or request.method not in ("POST", "PUT"):
        return None
    if (request.content_length or 0) > MAX_FORM_BODY:
        raise HttpError(413, "form body larger than %d bytes" % MAX_FORM_BODY)
    try:
        return request.POST
    except UnicodeDecodeError:
        raise HttpError(400, "the form body is not valid UTF-8")


#: Query parameters the framework itself reads (access control).
_FRAMEWORK_PARAMETERS = ("private_key", "private_token")


def _log_ignored_parameters(request, func, parameters):
    """Clients send parameters a route does not take (Pulsar clients: ``use_metadata`` on every
    call of some versions, ...); they are ignored, as Pulsar ignores them, but never silently."""
    try:
        names = set(request.GET.keys())
    except UnicodeDecodeError:
        return
    ignored = sorted(names - set(parameters) - set(_FRAMEWORK_PARAMETERS))
    if ignored:
        log.debug("%s %s: ignoring parameters %s", request.method, func.__name__, ", ".join(ignored))


def _query_value(request, name):
    """One query parameter, decoded by :mod:`lwr.web.query` (the decoding the log masking uses)."""
    environ = request.environ
    source = environ.get("QUERY_STRING", "")
    cached = environ.get("lwr.query")
    if cached is None or cached[0] != source:
        try:
            cached = (source, query_dict(source))
        except QueryError as exc:
            raise HttpError(400, str(exc))
        environ["lwr.query"] = cached
    return cached[1].get(name)

