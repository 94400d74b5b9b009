"""Handlers of the status page routes (docs/status_page.rst): ``/status`` (the page, or its
login form), ``/status.json`` (the same data for scripts), ``/status.js`` (the script that
refreshes the page from ``/status.json``) and ``/status/logout``.

The page is rendered here from :func:`lwr.status_report.build_report`; every value passes
through :func:`html.escape`.  The style sheet is inline, allowed by its hash in the
``Content-Security-Policy``; the only script is ``/status.js`` from this server.
"""
import base64
import hashlib
import html
import json
import os
import time

from webob import Request, Response

from lwr.lwr_client.progress import format_bytes
from lwr.status_report import build_report, format_age
from lwr.web import status_auth

__all__ = ["status_page", "status_login", "status_logout", "status_json", "status_script", "login_form_response",
           "REFRESH_SECONDS"]

#: How often the page's script fetches ``/status.json``.
REFRESH_SECONDS = 5
#: The page, relative to its own directory: forms and redirects stay under any prefix
#: (a proxy's, or ``/managers/<name>``).
PAGE = "status"

_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def _read_static(name: str) -> str:
    with open(os.path.join(_STATIC, name), encoding="utf-8") as handle:
        return handle.read()


_CSS = _read_static("status.css")
_SCRIPT = _read_static("status.js").encode("utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-%s'; "
                           "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" % _CSS_HASH)
_HEADERS = [("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")]


def _response(body, status=200, content_type="text/html"):
    response = Response(body=body.encode("utf-8") if isinstance(body, str) else body, status=status,
                        content_type=content_type, charset="utf-8" if content_type.startswith("text/") else None)
    response.headerlist.extend(_HEADERS)
    return response


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\"><title>%s</title><style>%s</style></head><body>%s</body></html>\n" % (_e(title), _CSS, body))


# -- login ---------------------------------------------------------------------------------------
def _wants_html(request) -> bool:
    return "text/html" in (request.headers.get("Accept") or "")


def login_form_response(request, message):
    """The framework's answer to a browser refused on a status route: the login form, with
    none of the page's data (200 on a first visit, 401 after a wrong token or an expired session)."""
    if not _wants_html(request):
        return None
    had_cookie = status_auth.COOKIE_NAME in request.cookies
    note = ""
    if request.method == "POST":
        note = "<p class=\"error\">That token is wrong.</p>"
    elif had_cookie:
        note = "<p class=\"error\">Your session has expired; enter the token again.</p>"
    # The action is relative: the form posts to the /status this page was asked for, under any
    # prefix; the token travels in the body, never in a URL.
    body = ("<form class=\"login\" method=\"post\" action=\"%s\"><h1>LWR status: sign in</h1>%s"
            "<label for=\"private_key\">Token (<code>private_key</code>)</label>"
            "<input id=\"private_key\" name=\"private_key\" type=\"password\" autocomplete=\"current-password\" "
            "required autofocus><button type=\"submit\">Sign in</button></form>"
            % (PAGE, note))
    # A first visit (GET, no session) is a normal sign-in page; a wrong token is a refusal.
    refused = request.method == "POST" or had_cookie
    response = _response(_page("LWR status: sign in", body), status=401 if refused else 200)
    if had_cookie:
        status_auth.clear_cookie(response, request)
    return response


def status_login(app, environ):
    """The form's POST: the framework checked the token; set the session cookie and send the
    browser to the page (303, so a reload does not post the form again)."""
    request = Request(environ)
    response = _response("", status=303)
    response.location = status_auth.page_url(request, PAGE)
    if app.private_key:
        status_auth.set_cookie(response, request, app.private_key)
    return response


def status_logout(environ):
    request = Request(environ)
    response = _response("", status=303)
    response.location = status_auth.page_url(request, PAGE)
    status_auth.clear_cookie(response, request)
    return response


# -- the page ------------------------------------------------------------------------------------
def status_json(app):
    return _response(json.dumps(build_report(app)), content_type="application/json")


def status_script():
    return _response(_SCRIPT, content_type="text/javascript")


def _badge(state) -> str:
    known = {"ok", "down", "complete", "running", "failed", "lost", "queued", "preprocessing", "postprocessing",
             "accepted", "cancelled"}
    css = state if state in known else "other"
    return "<span class=\"badge %s\">%s</span>" % (css, _e(state))


def _table(table_id, headers, rows, empty) -> str:
    head = "".join("<th%s>%s</th>" % (" class=\"hide-narrow\"" if name.startswith("~") else "", _e(name.lstrip("~")))
                   for name in headers)
    body = "".join(rows) if rows else "<tr><td class=\"empty\" colspan=\"%d\">%s</td></tr>" % (len(headers), empty)
    return ("<div class=\"scroll\"><table id=\"%s\"><thead><tr>%s</tr></thead><tbody>%s</tbody></table></div>"
            % (table_id, head, body))


def _row(cells) -> str:
    out = []
    for cell in cells:
        css, raw = (cell[0], cell[1]) if isinstance(cell, tuple) else ("", _e(cell))
        out.append("<td%s>%s</td>" % (" class=\"%s\"" % css if css else "", raw))
    return "<tr>" + "".join(out) + "</tr>"


def _render(report) -> str:
    managers = [_row([m["name"], m.get("type"), ("", _badge(m.get("status", "ok"))), m["queue_depth"], m["running"]])
                for m in report["managers"]]
    active = [_row([j["job_id"], ("hide-narrow", _e(j["manager"])), j["tool_id"] or "-", ("", _badge(j["state"])),
                    format_age(j["age_seconds"])]) for j in report["jobs"]["active"]]
    recent = [_row([j["job_id"], ("hide-narrow", _e(j["manager"])), j["tool_id"] or "-", ("", _badge(j["state"])),
                    format_age(j["age_seconds"]), "-" if j["exit_code"] is None else j["exit_code"],
                    ("reason", _e(j["failure_reason"] or ""))]) for j in report["jobs"]["recent"]]
    errors = [_row([time.strftime("%H:%M:%S", time.localtime(e["time"])), e["level"], ("hide-narrow", _e(e["logger"])),
                    ("message", _e(e["message"]))]) for e in report["errors"]]
    reasons = "".join("<li>%s</li>" % _e(reason) for reason in report["reasons"])
    return "".join([
        "<header><h1>LWR status</h1><span id=\"overall\">%s</span>" % _badge(report["status"]),
        "<span class=\"meta\">version <span id=\"version\">%s</span> &middot; up <span id=\"uptime\">%s</span>"
        " &middot; updated <span id=\"updated\">%s</span></span>"
        % (_e(report["version"]), _e(format_age(report["uptime_seconds"])),
           _e(time.strftime("%H:%M:%S", time.localtime(report["now"])))),
        "<form class=\"logout\" method=\"post\" action=\"status/logout\"><button type=\"submit\">Sign out</button>"
        "</form></header>",
        "<ul id=\"reasons\" class=\"reasons\">%s</ul>" % reasons,
        "<section><h2>Managers</h2>%s</section>" % _table(
            "managers", ["Manager", "Type", "Health", "Queued", "Running"], managers, "no managers"),
        "<section><h2>Active jobs (<span id=\"active-count\">%d</span>)</h2>%s</section>" % (
            report["jobs"]["active_count"],
            _table("active", ["Job", "~Manager", "Tool", "State", "Age"], active, "no active jobs")),
        "<section><h2>Recently finished</h2>%s</section>" % _table(
            "recent", ["Job", "~Manager", "Tool", "State", "Ago", "Exit", "Failure reason"], recent,
            "no finished jobs yet" if report["history"]["enabled"] else "job history is off"),
        "<section class=\"grid\">",
        "<div class=\"card\"><h2>Staging disk</h2><div id=\"disk\">%s</div></div>" % _disk(report["disk"]),
        "<div class=\"card\"><h2>Transfers</h2><div id=\"transfers\">%s</div></div>" % _transfers(report["transfers"]),
        "<div class=\"card\"><h2>Broker</h2><div id=\"broker\">%s</div></div>" % _broker(report["broker"]),
        "</section>",
        "<section><h2>Last warnings and errors</h2>%s</section>" % _table(
            "errors", ["Time", "Level", "~Logger", "Message"], errors, "none since start"),
    ])


def _disk(disk) -> str:
    if not disk:
        return "<span class=\"empty\">unknown</span>"
    if "free_bytes" not in disk:
        return "%s %s" % (_badge(disk.get("status")), _e("; ".join(disk.get("problems", []))))
    return "%s %s free (minimum %s)" % (_badge(disk.get("status")), _e(format_bytes(disk["free_bytes"])),
                                        _e(format_bytes(disk["min_free_bytes"])))


def _transfers(transfers) -> str:
    if not transfers:
        return "<span class=\"empty\">job history is off</span>"
    lines = []
    for window in transfers:
        lines.append("<div>last %s: in %s/s, out %s/s (%d jobs, %d failed)</div>" % (
            _e(format_age(window["window_seconds"])), _e(format_bytes(int(window["bytes_in_per_second"]))),
            _e(format_bytes(int(window["bytes_out_per_second"]))), window["jobs"], window["failed"]))
    return "".join(lines)


def _broker(broker) -> str:
    if not broker:
        return "<span class=\"empty\">no message queue configured</span>"
    connected = {True: "connected", False: "not connected", None: "unknown"}[broker.get("connected")]
    text = "%s %s to %s; %d statuses waiting" % (_badge(broker.get("status")), connected, _e(broker.get("url") or "-"),
                                                 broker.get("unpublished_statuses", 0))
    return text if not broker.get("error") else text + " (%s)" % _e(broker["error"])


def status_page(app):
    report = build_report(app)
    body = _render(report) + ("<script src=\"status.js\" data-refresh=\"%d\" defer></script>" % REFRESH_SECONDS)
    return _response(_page("LWR status", body))
