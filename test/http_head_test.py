"""Request heads: limits, framing and parsing (pure functions, table-driven)."""
import pytest

from lwr.web.http_head import HeadError, Limits, head_end, parse_head

LIMITS = Limits(max_request_line=1024, max_header_size=2048, max_headers=10, max_query_parameters=5)


@pytest.mark.parametrize("data,end", [
    (b"GET / HTTP/1.1\r\n\r\n", 18),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 27),
    (b"\r\nGET / HTTP/1.1\n\n", 18),  # a leading empty line and bare LFs
    (b"GET / HTTP/1.1\r\nHost: x\r\n", -1),
    (b"GET / HTT", -1),
])
def test_head_end(data, end):
    assert head_end(data, LIMITS) == end


@pytest.mark.parametrize("data,status,words", [
    (b"GET /" + b"a" * 1100, 414, "max_request_line"),
    (b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 2100, 431, "max_header_size"),
])
def test_a_head_outgrowing_a_limit_is_refused_before_it_ends(data, status, words):
    with pytest.raises(HeadError) as caught:
        head_end(data, LIMITS)
    assert caught.value.status == status and words in caught.value.message


@pytest.mark.parametrize("head,status,words", [
    (b"GET /?a&b&c&d&e&f HTTP/1.1\r\n\r\n", 414, "max_query_parameters"),
    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 11 + b"\r\n", 431, "max_headers"),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "conflicting"),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "together"),
    (b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, "invalid Content-Length"),
    (b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "invalid Content-Length"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501, "not supported"),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header"),
    (b"GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 400, "folded"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/1"),
    (b"GET /a b HTTP/1.1\r\n\r\n", 400, "request line"),
    (b"GET x HTTP/1.1\r\n\r\n", 400, "target"),
    (b"GET /\x01 HTTP/1.1\r\n\r\n", 400, "control character"),
])
def test_bad_heads_are_refused_naming_the_problem(head, status, words):
    with pytest.raises(HeadError) as caught:
        parse_head(head, LIMITS)
    assert caught.value.status == status and words in caught.value.message
    assert b'"error"' in caught.value.response() and caught.value.response().startswith(b"HTTP/1.1 %d" % status)


def test_a_good_head():
    head = parse_head(b"POST /jobs?a=1;b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n"
                      b"Expect: 100-continue\r\nX-A: 1\r\nX-A: 2\r\n\r\n", LIMITS)
    assert (head.method, head.target, head.content_length, head.chunked) == ("POST", "/jobs?a=1;b=2", 5, False)
    assert head.expect_continue and head.keep_alive and head.header("x-a") == "1,2"
    assert not parse_head(b"GET / HTTP/1.0\r\n\r\n", LIMITS).keep_alive
    assert not parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", LIMITS).keep_alive
    assert parse_head(b"PUT / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", LIMITS).chunked
