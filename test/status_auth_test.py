"""The status page's session cookie (lwr.web.status_auth): its value, its attributes, its path."""
import pytest
from webob import Request, Response

from lwr.web import status_auth
from lwr.web.status_auth import COOKIE_NAME, SESSION_SECONDS, cookie_value

KEY = "k3y"


def _request(path="/status", cookie=None, **environ):
    request = Request.blank(path, environ=environ)
    if cookie is not None:
        request.headers["Cookie"] = "%s=%s" % (COOKIE_NAME, cookie)
    return request


def test_a_fresh_cookie_is_valid_and_never_holds_the_key():
    value = cookie_value(KEY)
    assert KEY not in value
    assert status_auth.cookie_valid(_request(cookie=value), KEY)


@pytest.mark.parametrize("value", [
    "", "x", "123", "123.", ".abc", "abc.def", "-5.00", "1" * 13 + ".00",
    cookie_value("other-key"),
    cookie_value(KEY, now=0),  # expired long ago
    cookie_value(KEY)[:-1] + "0" if not cookie_value(KEY).endswith("0") else cookie_value(KEY)[:-1] + "1",
    cookie_value(KEY).replace(".", ".\u00e9"),
])
def test_forged_truncated_foreign_or_expired_cookies_are_refused(value):
    assert not status_auth.cookie_valid(_request(cookie=value), KEY)


def test_a_cookie_expires_after_the_session():
    issued = cookie_value(KEY, now=1000)
    assert issued.startswith("%d." % (1000 + SESSION_SECONDS))


@pytest.mark.parametrize("script_name,path,expected", [
    ("", "/status", "/"),
    ("", "/status/logout", "/"),
    ("", "/managers/m1/status", "/managers/m1/"),
    ("/lwr", "/status", "/lwr/"),
    ("/lwr", "/managers/m1/status/logout", "/lwr/managers/m1/"),
    ("", "/managers/\ufffd;x/status", "/managers/%EF%BF%BD%3Bx/"),  # a header is Latin-1; ';' ends it
])
def test_login_and_logout_use_the_same_cookie_path(script_name, path, expected):
    request = _request("/")
    request.environ.update(SCRIPT_NAME=script_name, PATH_INFO=path, HTTP_HOST="h:8913")
    assert status_auth.cookie_path(request) == expected
    assert status_auth.page_url(request, "status") == "http://h:8913%sstatus" % expected
    request.environ["HTTP_X_FORWARDED_PROTO"] = "https"
    assert status_auth.page_url(request, "status") == "https://h:8913%sstatus" % expected


@pytest.mark.parametrize("environ,secure", [
    ({}, False),
    ({"wsgi.url_scheme": "https"}, True),
    ({"HTTP_X_FORWARDED_PROTO": "https"}, True),
    ({"HTTP_X_FORWARDED_PROTO": "http"}, False),
])
def test_set_and_clear_attributes(environ, secure):
    request = _request(**environ)
    response = Response()
    status_auth.set_cookie(response, request, KEY)
    status_auth.clear_cookie(response, request)
    issued, cleared = [value for name, value in response.headerlist if name == "Set-Cookie"]
    for header in (issued, cleared):
        attributes = [part.strip() for part in header.split(";")]
        assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes
        assert ("Secure" in attributes) == secure
    assert "Max-Age=%d" % SESSION_SECONDS in issued and "Max-Age=0" in cleared
    assert cleared.startswith(COOKIE_NAME + "=;")
