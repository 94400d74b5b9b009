"""The status page's session cookie: the token typed once into the login form, then this.

The cookie holds ``<expiry>.<HMAC-SHA256(private_key, expiry)>``, never the token itself: it
proves its bearer knew the token, expires after :data:`SESSION_SECONDS`, and stops working
when ``private_key`` changes.  It is ``HttpOnly`` (no script reads it), ``SameSite=Strict``
(no other site's page sends it) and ``Secure`` when the page was served over TLS (directly, or
by a proxy that says so in ``X-Forwarded-Proto``).  The framework accepts it only on routes
declared with ``auth="cookie"`` (:mod:`lwr.lwr_client.route_table`): the status page, its
JSON twin, its script and the logout.
"""
import hashlib
import hmac
import time
from typing import Optional
from urllib.parse import quote

__all__ = ["COOKIE_NAME", "SESSION_SECONDS", "cookie_value", "cookie_valid", "set_cookie", "clear_cookie",
           "cookie_path", "is_tls", "page_url"]

COOKIE_NAME = "lwr_status_session"
SESSION_SECONDS = 12 * 3600
_PURPOSE = b"lwr status page session\x00"


def _signature(private_key: str, expiry: int) -> str:
    return hmac.new(private_key.encode("utf-8"), _PURPOSE + str(expiry).encode("ascii"), hashlib.sha256).hexdigest()


def cookie_value(private_key: str, now: Optional[float] = None) -> str:
    expiry = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return "%d.%s" % (expiry, _signature(private_key, expiry))


def _valid_value(value: str, private_key: str, now: Optional[float] = None) -> bool:
    expiry_text, _, signature = value.partition(".")
    if not expiry_text.isdigit() or len(expiry_text) > 12 or not signature:
        return False
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature.encode("ascii", "replace"), _signature(private_key, expiry).encode("ascii"))


def cookie_valid(request, private_key: str) -> bool:
    """Whether ``request`` (WebOb) carries a current session cookie for ``private_key``."""
    try:
        value = request.cookies.get(COOKIE_NAME)
    except Exception:  # an unparsable Cookie header is no session
        return False
    return bool(value) and _valid_value(value, private_key)


def is_tls(request) -> bool:
    forwarded = request.environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
    return request.environ.get("wsgi.url_scheme") == "https" or forwarded == "https"


def cookie_path(request) -> str:
    """The directory holding ``/status`` as the browser sees it (behind a prefix, or under
    ``/managers/<name>``): the login and the logout set and clear the same cookie."""
    path = request.environ.get("SCRIPT_NAME", "") + (request.environ.get("PATH_INFO") or "/")
    index = path.rfind("/status")
    # Percent-encoded: a header is Latin-1, and a ';' would end the attribute.
    return quote(path[:index + 1], safe="/") if index >= 0 else "/"


def page_url(request, page: str) -> str:
    """The absolute URL of ``page`` beside ``/status`` for a redirect: built here, encoded, with
    the scheme a TLS-terminating proxy reports (WebOb would build it from the raw path)."""
    scheme = "https" if is_tls(request) else request.scheme
    host = request.environ.get("HTTP_HOST") or "%s:%s" % (request.environ.get("SERVER_NAME", "localhost"),
                                                           request.environ.get("SERVER_PORT", "80"))
    return "%s://%s%s%s" % (scheme, host, cookie_path(request), page)


def _header(request, value: str, max_age: int) -> str:
    parts = ["%s=%s" % (COOKIE_NAME, value), "Path=%s" % cookie_path(request), "Max-Age=%d" % max_age,
             "HttpOnly", "SameSite=Strict"]
    if is_tls(request):
        parts.append("Secure")
    return "; ".join(parts)


def set_cookie(response, request, private_key: str) -> None:
    response.headerlist.append(("Set-Cookie", _header(request, cookie_value(private_key), SESSION_SECONDS)))


def clear_cookie(response, request) -> None:
    response.headerlist.append(("Set-Cookie", _header(request, "", 0)))
