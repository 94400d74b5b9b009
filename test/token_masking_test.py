"""The token authenticates in every spelling the query decoder accepts, and never reaches a log."""
import urllib.parse

import pytest

from lwr.web.query import mask_query, mask_text, query_dict

pytestmark = pytest.mark.server

TOKEN = "Tok3n-value-4-masking"
WRONG = "Wr0ng-value-4-masking"
SPELLINGS = ["private_key=%s", "private_token=%s", "private%%5Fkey=%s", "private_%%6Bey=%s",
             "%%70rivate_token=%s", "x=1;private_key=%s", "x=1&private%%5ftoken=%s"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    from test.support.server import LwrServer

    server = LwrServer(tmp_path_factory.mktemp("mask"), app_conf={"private_key": TOKEN},
                       app_factory="test.support.failing_app:app_factory").start()
    yield server
    server.stop()


def _get(server, path, query):
    import urllib.request

    try:
        with urllib.request.urlopen("%s%s?%s" % (server.url, path, query), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_authenticates_and_never_reaches_the_log(secured, spelling):
    assert _get(secured, "healthz", spelling % TOKEN) == 200
    assert _get(secured, "healthz", spelling % WRONG) == 401
    assert _get(secured, "fail", spelling % TOKEN) == 500  # logs its environ, raises with the URL
    encoded = "".join("%%%02X" % ord(c) for c in TOKEN)  # the value percent-encoded throughout
    assert _get(secured, "healthz", spelling % encoded) == 200
    log = secured.log()
    assert "route failed for /fail" in log and "failing route called with" in log  # logged...
    assert "Traceback" in log
    for secret in (TOKEN, encoded, urllib.parse.quote(TOKEN)):
        assert secret not in log  # ...and masked


def test_the_decoder_and_the_masking_agree():
    for spelling in SPELLINGS:
        query = spelling % TOKEN
        assert TOKEN in query_dict(query).values()
        assert TOKEN not in mask_query(query) and TOKEN not in mask_text("GET /x?" + query)
    assert mask_text("{'QUERY_STRING': 'a=1;private%5Fkey=abc'}") == "{'QUERY_STRING': 'a=1;private%5Fkey=********'}"
    assert mask_query("private_keys=abc&private_key") == "private_keys=abc&private_key"
