"""Destination parameters: runner URLs (with tokens) and submit_* parameters."""
import pytest

from lwr.lwr_client import url_to_destination_params
from lwr.lwr_client.destination import submit_params


@pytest.mark.parametrize("url, expected_url, token", [
    ("http://localhost:8913/", "http://localhost:8913/", None),
    ("http://localhost:8913", "http://localhost:8913/", None),
    ("lwr://http://localhost:8913/", "http://localhost:8913/", None),
    ("lwr://http://localhost:8913", "http://localhost:8913/", None),
    ("https://ABC123@lwr.example.org:8913/", "https://lwr.example.org:8913/", "ABC123"),
    ("lwr://https://ABC123@lwr.example.org/managers/fast/", "https://lwr.example.org/managers/fast/", "ABC123"),
    ("http://tok@127.0.0.1:1/", "http://127.0.0.1:1/", "tok"),
])
def test_url_to_destination_params(url, expected_url, token):
    assert url_to_destination_params(url) == {"url": expected_url, "private_token": token}


def test_submit_params_strip_prefix():
    params = {"url": "x", "submit_native_specification": "-P q", "submit_user": "u1", "submitter": "no"}
    assert submit_params(params) == {"native_specification": "-P q", "user": "u1"}
    assert submit_params({}) == {}
