"""The Sphinx docs build cleanly and document every option of server.ini.sample."""
import configparser
import os
import re
import subprocess
import sys

import pytest

from test.support.server import REPO_ROOT

DOCS = os.path.join(REPO_ROOT, "docs")
SAMPLE = os.path.join(REPO_ROOT, "server.ini.sample")

#: Spec §10.1: options the sample must show (and so the docs must explain).
SPEC_OPTIONS = [
    ("server:main", "use"), ("server:main", "host"), ("server:main", "port"),
    ("server:main", "ssl_pem"), ("app:main", "paste.app_factory"),
    ("app:main", "staging_directory"), ("app:main", "private_key"),
    ("app:main", "persistence_directory"), ("app:main", "job_managers_config"),
    ("app:main", "assign_ids"), ("app:main", "debug"), ("app:main", "tool_dependency_dir"),
    ("app:main", "dependency_resolvers_config_file"), ("app:main", "tool_config_files"),
    ("app:main", "job_metrics_config_file"), ("app:main", "file_cache_dir"),
    ("app:main", "object_store_config_file"), ("app:main", "message_queue_url"),
    ("app:main", "message_queue_consume"), ("app:main", "message_queue_publish"),
    ("app:main", "amqp_consumer_timeout"), ("app:main", "amqp_publish_retry"),
    ("app:main", "amqp_connect_ssl_ca_certs"), ("app:main", "amqp_connect_ssl_keyfile"),
    ("app:main", "amqp_connect_ssl_certfile"), ("app:main", "amqp_connect_ssl_cert_reqs"),
]

# `#name = value` is a commented-out option; prose comments start with "# " or "##".
_OPTION_LINE = re.compile(r"^#?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def sample_options(sections=("server:main", "app:main")):
    """``[(section, option)]`` for every set or commented-out option in the sample."""
    found, section = [], None
    with open(SAMPLE) as handle:
        for line in handle:
            header = re.match(r"^\[([^\]]+)\]", line)
            if header:
                section = header.group(1)
                continue
            match = _OPTION_LINE.match(line)
            if match and section in sections and (section, match.group(1)) not in found:
                found.append((section, match.group(1)))
    return found


def configure_docs_text():
    texts = []
    for name in sorted(os.listdir(DOCS)):
        if name.startswith("configure") and name.endswith(".rst"):
            with open(os.path.join(DOCS, name)) as handle:
                texts.append(handle.read())
    assert texts, "docs/configure*.rst is missing"
    return "\n".join(texts)


def test_docs_build_with_warnings_as_errors(tmp_path):
    out = tmp_path / "html"
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                             "-d", str(tmp_path / "doctrees"), DOCS, str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("index", "installing", "running", "configure", "security", "job_managers", "object_store",
                 "testing", "development"):
        assert (out / ("%s.html" % page)).is_file(), page


def test_sample_parses_as_ini():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read(SAMPLE)
    assert parser.get("server:main", "use") == "egg:lwr#server"
    assert parser.get("server:main", "port") == "8913"
    assert parser.get("app:main", "paste.app_factory") == "lwr.web.wsgi:app_factory"


def test_sample_shows_every_spec_option():
    missing = [item for item in SPEC_OPTIONS if item not in sample_options()]
    assert not missing, "server.ini.sample lacks %s" % missing


@pytest.mark.parametrize("section,option", sample_options())
def test_every_sample_option_is_documented(section, option):
    assert "``%s``" % option in configure_docs_text(), \
        "[%s] %s is in server.ini.sample but not documented in docs/configure*.rst" % (section, option)
