"""A submit whose parameters are far longer than a request line travels as a form body."""
import pytest

from lwr.lwr_client import build_client_manager
from test.support.wait import wait_for_value

pytestmark = pytest.mark.server


@pytest.mark.parametrize("transport", ["urllib", "curl"])
def test_very_long_command_line(lwr_server, transport):
    client = build_client_manager(transport=transport).get_client({"url": lwr_server.url}, "long" + transport)
    client.setup("t", "1")
    words = " ".join("w%05d" % i for i in range(20000))  # ~140 KB, past every request-line limit
    client.launch("echo %s | wc -w" % words)
    status = wait_for_value(client.full_status, lambda status: status["complete"] == "true", 20, "the job's end")
    assert (status["status"], status["stdout"].strip()) == ("complete", "20000")
