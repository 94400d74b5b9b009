"""Declared options (lwr/options.py and its tables): parsing, refusals, and the samples and docs
listing exactly the declared options."""
import os
import re
import socket

import pytest

from lwr.app_options import APP_OPTIONS, validate_app_conf
from lwr.manager_factory import MANAGER_TYPES, ConfigurationError, validate_manager_sections
from lwr.managers.options import COMMON_OPTIONS, MANAGER_OPTIONS
from lwr.managers.util.cli import JOB_PLUGINS, SHELL_PLUGINS
from lwr.options import BOOL, CONCURRENCY, DURATION, OCTAL, PEM_FILE, PORT, Option, OptionSet, choice, integer, number
from lwr.web.exposure import check_authentication, is_loopback, listening_hosts
from lwr.web.server_options import SERVER_OPTIONS
from test.support.server import REPO_ROOT

SERVER_SAMPLE = os.path.join(REPO_ROOT, "server.ini.sample")
MANAGERS_SAMPLE = os.path.join(REPO_ROOT, "job_managers.ini.sample")
DOCS = os.path.join(REPO_ROOT, "docs")
_OPTION_LINE = re.compile(r"^#?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")


@pytest.mark.parametrize("kind,text,value", [
    (BOOL, "true", True), (BOOL, " No ", False), (BOOL, "1", True), (BOOL, "off", False),
    (PORT, "8913", 8913), (integer(1), "3", 3), (number(minimum=0), "0.5", 0.5),
    (number(positive=True), "2", 2.0), (choice("galaxy", "uuid"), "uuid", "uuid"),
    (choice("cert_none", ignore_case=True), "CERT_NONE", "cert_none"), (CONCURRENCY, "*", "*"),
    (CONCURRENCY, "0", 0), (DURATION, "12h", "12h"), (DURATION, "off", None), (OCTAL, "0022", 0o22),
    (PEM_FILE, "*", "*"),
])
def test_kinds_read_good_values(kind, text, value):
    assert kind.parse(text) == value


@pytest.mark.parametrize("kind,text", [
    (BOOL, "maybe"), (PORT, "abc"), (PORT, "0"), (PORT, "65536"), (integer(1), "0"), (integer(1), "1.5"),
    (number(minimum=0), "nan"), (number(minimum=0), "-1"), (number(positive=True), "0"),
    (choice("galaxy", "uuid"), "foo"), (choice("galaxy", "uuid"), "UUID"), (CONCURRENCY, "-1"),
    (CONCURRENCY, "two"), (DURATION, "7 weeks"), (OCTAL, "999"), (PEM_FILE, "/nonexistent.pem"),
])
def test_kinds_refuse_bad_values(kind, text):
    with pytest.raises(ValueError):
        kind.parse(text)


def test_an_empty_value_is_the_default():
    assert Option("n", integer(1), 10).parse("") == 10
    assert Option("n", integer(1), 10).parse("  ") == 10
    assert Option("n", integer(1), 10).parse(None) == 10


SAMPLE_SET = OptionSet("sample", [Option("num_concurrent_jobs", CONCURRENCY, 1), Option("env_", prefix=True),
                                  Option("old_option", deprecated="gone in 1.0"), Option("debug", BOOL, False)],
                       ignored_keys=("use",), where_documented="see the docs")


def test_unknown_option_names_file_section_option_and_the_nearest_known_name():
    with pytest.raises(ConfigurationError) as info:
        SAMPLE_SET.validate({"num_concurent_jobs": "4"}, "jobs.ini", "manager:x")
    assert str(info.value) == "jobs.ini: [manager:x] unknown option num_concurent_jobs (did you mean num_concurrent_jobs?)"
    assert (info.value.file, info.value.section, info.value.option) == ("jobs.ini", "manager:x", "num_concurent_jobs")


def test_unknown_option_without_a_near_name_points_at_the_docs():
    with pytest.raises(ConfigurationError, match=r"^f: \[s\] unknown option zzz \(known options: see the docs\)$"):
        SAMPLE_SET.validate({"zzz": "1"}, "f", "s")


def test_a_bad_value_names_option_value_and_what_is_expected():
    with pytest.raises(ConfigurationError) as info:
        SAMPLE_SET.validate({"debug": "maybe"}, "server.ini", "app:main")
    assert str(info.value) == "server.ini: [app:main] debug = 'maybe': expected true or false"


def test_prefix_families_deprecated_and_structural_keys_are_accepted():
    parsed = SAMPLE_SET.validate({"env_PATH": "/bin", "old_option": "x", "use": "egg:x", "debug": "yes"})
    assert parsed == {"env_PATH": "/bin", "debug": True}
    assert [o.name for o in SAMPLE_SET.deprecated_in({"old_option": "x"})] == ["old_option"]
    with pytest.raises(ConfigurationError, match="unknown option env_"):
        SAMPLE_SET.validate({"env_": "x"})  # a family needs a member name


def test_a_value_with_a_newline_stays_on_one_line():
    with pytest.raises(ConfigurationError) as info:
        SAMPLE_SET.validate({"debug": "maybe\nnot"}, "f", "s")
    assert "\n" not in str(info.value)


def test_an_app_option_set_in_server_ini_that_belongs_to_a_manager_says_where_it_goes():
    with pytest.raises(ConfigurationError, match=r"num_concurrent_jobs is a job manager option"):
        validate_app_conf({"num_concurrent_jobs": "4"}, "server.ini")


def test_amqp_exchange_names_are_checked_at_start():
    with pytest.raises(ConfigurationError, match=r"^server.ini: \[app:main\] amqp_exchange"):
        validate_app_conf({"message_queue_url": "amqp://x//", "amqp_exchange": "a b"}, "server.ini")


def test_every_manager_type_declares_its_options():
    assert set(MANAGER_OPTIONS) == set(MANAGER_TYPES)
    for options in MANAGER_OPTIONS.values():
        assert set(COMMON_OPTIONS.names()) <= set(options.names())


def test_manager_sections_are_checked_for_type_and_options():
    with pytest.raises(ConfigurationError, match=r"^j.ini: \[manager:a\] has no 'type'"):
        validate_manager_sections({"a": {}}, "j.ini")
    with pytest.raises(ConfigurationError, match=r"^j.ini: \[manager:a\] type = 'queued_pyton': expected one of"):
        validate_manager_sections({"a": {"type": "queued_pyton"}}, "j.ini")
    with pytest.raises(ConfigurationError, match=r"did you mean native_specification\?"):
        validate_manager_sections({"a": {"type": "queued_drmaa", "native_specifcation": "-q x"}}, "j.ini")
    with pytest.raises(ConfigurationError, match=r"unknown option submit_universe"):  # condor only
        validate_manager_sections({"a": {"type": "queued_drmaa", "submit_universe": "vanilla"}}, "j.ini")
    validate_manager_sections({"a": {"type": "queued_cli", "job_plugin": "Slurm", "job_partition": "debug",
                                     "shell_plugin": "SecureShell", "shell_hostname": "h", "env_X": "1"},
                               "b": {"type": "queued_python", "max_concurrent_jobs": "*"}}, "j.ini")


def test_cli_plugin_docs_name_the_registered_plugins():
    doc = " ".join(o.doc for o in MANAGER_OPTIONS["queued_cli"] if o.name in ("job_plugin", "shell_plugin"))
    for name in list(JOB_PLUGINS) + list(SHELL_PLUGINS):
        assert name in doc


@pytest.mark.parametrize("host,loopback", [("localhost", True), ("127.0.0.1", True), ("127.0.1.1", True),
                                           ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("", False),
                                           ("::", False), ("192.0.2.1", False), ("no-such-host.invalid", False)])
def test_loopback_is_told_from_the_host(host, loopback):
    assert is_loopback(host) is loopback


@pytest.fixture
def nothing_bound(monkeypatch):
    """This test process may hold other tests' listening sockets: judge the ini file alone."""
    monkeypatch.setattr("lwr.web.exposure.bound_hosts", lambda: [])


def test_the_hosts_this_process_listens_on_count(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert "127.0.0.1" in listening_hosts(None)


def test_listening_hosts_come_from_every_server_section(tmp_path, nothing_bound):
    ini = tmp_path / "server.ini"
    ini.write_text("[server:main]\nuse = egg:lwr#server\nhost = 127.0.0.1\n\n[server:other]\nuse = egg:waitress#main\n"
                   "\n[server:third]\nlisten = 0.0.0.0:8080 [::1]:8081\n\n[server:fourth]\nuse = egg:Paste#http\n")
    assert listening_hosts(str(ini)) == ["127.0.0.1", "0.0.0.0", "0.0.0.0", "::1", "localhost"]
    assert listening_hosts(str(tmp_path / "missing.ini")) is None


def test_authentication_check_fails_closed(tmp_path, caplog, nothing_bound):
    ini = tmp_path / "server.ini"
    ini.write_text("[server:main]\nhost = 0.0.0.0\n")
    check_authentication("key", False, str(ini))  # a key: nothing to say
    with pytest.raises(ConfigurationError, match=r"private_key is empty while the server listens beyond loopback"):
        check_authentication("", False, str(ini))
    with pytest.raises(ConfigurationError, match=r"private_key is not set .*\(an address not known to be loopback\)"):
        check_authentication(None, False, None)  # cannot tell where it listens: refuse
    with caplog.at_level("WARNING", logger="lwr.web.exposure"):
        check_authentication(None, True, str(ini))
    assert "serving WITHOUT authentication on host = 0.0.0.0" in caplog.text


# --- the samples and the docs list exactly the declared options ---------------------------------

def _sample_entries(path, header=r"^#?\[([^\]]+)\]"):
    """``[(section, option)]`` of every set or commented-out option line (commented sections too)."""
    entries, section = [], None
    with open(path) as handle:
        for line in handle:
            match = re.match(header, line)
            if match:
                section = match.group(1)
                continue
            option = _OPTION_LINE.match(line)
            if option and section:
                entries.append((section, option.group(1), line.split("=", 1)[1].strip()))
    return entries


def _mentions(text, option):
    pattern = r"(?<![A-Za-z0-9_])%s%s" % (re.escape(option.name), "" if option.prefix else r"(?![A-Za-z0-9_])")
    return re.search(pattern, text) is not None


@pytest.mark.parametrize("section,options", [("server:main", SERVER_OPTIONS), ("app:main", APP_OPTIONS)])
def test_every_option_of_server_ini_sample_is_declared(section, options):
    keys = [key for sec, key, _ in _sample_entries(SERVER_SAMPLE) if sec == section]
    assert keys
    undeclared = [key for key in keys if key not in options and key not in options.ignored_keys]
    assert not undeclared, "server.ini.sample [%s] shows undeclared options %s" % (section, undeclared)


@pytest.mark.parametrize("section,options", [("server:main", SERVER_OPTIONS), ("app:main", APP_OPTIONS)])
def test_every_declared_option_is_in_server_ini_sample(section, options):
    with open(SERVER_SAMPLE) as handle:
        text = handle.read()
    keys = [key for sec, key, _ in _sample_entries(SERVER_SAMPLE) if sec == section]
    missing = [o.name for o in options if not o.deprecated
               and not (any(o.matches(k) for k in keys) if o.prefix else o.name in keys or _mentions(text, o))]
    assert not missing, "server.ini.sample lacks [%s] %s" % (section, missing)


def test_server_ini_sample_values_are_valid():
    entries = _sample_entries(SERVER_SAMPLE)
    for section, options in (("server:main", SERVER_OPTIONS), ("app:main", APP_OPTIONS)):
        values = {k: v for sec, k, v in entries if sec == section and k != "ssl_pem"}  # ssl_pem: an example path
        options.validate(values, "server.ini.sample", section)


def test_every_option_of_job_managers_ini_sample_is_declared_for_its_type():
    sections, types = {}, {}
    for section, key, value in _sample_entries(MANAGERS_SAMPLE, r"^#?\[manager:([^\]]+)\]"):
        if key == "type":
            types[section] = value
        else:
            sections.setdefault(section, {})[key] = value
    assert set(types.values()) == set(MANAGER_TYPES), "the sample shows every type"
    validate_manager_sections({name: dict(sections.get(name, {}), type=t) for name, t in types.items()},
                              "job_managers.ini.sample")


def test_every_declared_manager_option_is_in_job_managers_ini_sample():
    with open(MANAGERS_SAMPLE) as handle:
        text = handle.read()
    missing = {t: [o.name for o in options if not o.deprecated and not _mentions(text, o)]
               for t, options in MANAGER_OPTIONS.items()}
    assert not any(missing.values()), "job_managers.ini.sample lacks %s" % missing


def _read(name):
    with open(os.path.join(DOCS, name)) as handle:
        return handle.read()


def _documented(text, option):
    """Explained in prose (not only in a generated table): ``name`` or, for a family, ``name...``."""
    if option.prefix:
        return "``%s" % option.name in text
    return "``%s``" % option.name in text


@pytest.mark.parametrize("options", [SERVER_OPTIONS, APP_OPTIONS], ids=["server", "app"])
def test_every_declared_server_ini_option_is_explained_in_configure_rst(options):
    text = _read("configure.rst")
    missing = [o.name for o in options if not o.deprecated and not _documented(text, o)]
    assert not missing, "docs/configure.rst does not explain %s" % missing
    assert ".. lwr-options:: %s" % options.name in text, "the generated table is missing"


def test_every_declared_manager_option_is_explained_in_job_managers_rst():
    text = _read("job_managers.rst")
    missing = {t: [o.name for o in options if not _documented(text, o) and "``%sNAME``" % o.name not in text]
               for t, options in MANAGER_OPTIONS.items()}
    assert not any(missing.values()), "docs/job_managers.rst does not explain %s" % missing
    for manager_type, options in MANAGER_OPTIONS.items():
        if len(options.options) > len(COMMON_OPTIONS.options):
            assert ".. lwr-options:: manager %s" % manager_type in text


def test_every_option_configure_rst_explains_is_declared():
    text = _read("configure.rst")
    server_part = text.split("The application: ``[app:main]``")[0].split("``[server:main]``", 1)[1]
    app_part = text.split("The application: ``[app:main]``")[1].split("Mistakes are refused at start")[0]
    for options, part in ((SERVER_OPTIONS, server_part), (APP_OPTIONS, app_part)):
        terms = _definition_terms(part)
        undeclared = [t for t in terms if t not in options and t not in options.ignored_keys]
        assert terms and not undeclared, "docs/configure.rst explains undeclared %s options %s" % (options.name,
                                                                                                    undeclared)


def _definition_terms(text):
    """The names in definition-list terms (a line of ``literals`` followed by an indented line)."""
    lines = text.splitlines()
    terms = []
    for line, following in zip(lines, lines[1:] + [""]):
        if re.match(r"^``[a-z]", line) and following.startswith("    "):
            terms += re.findall(r"``([a-z][a-z0-9_]*)(?:NAME)?``", line)
    return terms


def test_every_option_job_managers_rst_explains_is_declared():
    terms = _definition_terms(_read("job_managers.rst"))
    known = [t for t in terms if any(t in options or t in options.names() for options in MANAGER_OPTIONS.values())
             or t in MANAGER_TYPES]
    assert terms and sorted(set(terms) - set(known)) == []


def test_object_store_files_refuse_unknown_names_and_store_by_uuid(tmp_path):
    from lwr.objectstore.config import load_config

    yaml_file = tmp_path / "store.yml"
    yaml_file.write_text("type: distributed\nbackends:\n  - id: a\n    type: disk\n    files_dir: a\n"
                         "    max_precent_full: 90\n")
    with pytest.raises(ConfigurationError, match=r"store 'a': unknown key 'max_precent_full' "
                                                 r"\(did you mean max_percent_full\?\)"):
        load_config(str(yaml_file))
    xml_file = tmp_path / "store.xml"
    xml_file.write_text('<object_store type="hierarchical"><backends><backnd id="x"/></backends></object_store>')
    with pytest.raises(ConfigurationError, match=r"<backends>: unknown element 'backnd' \(did you mean backend\?\)"):
        load_config(str(xml_file))
    xml_file.write_text('<object_store type="disk" store_by="uuid"><files_dir path="f"/></object_store>')
    with pytest.raises(ConfigurationError, match=r"store_by = 'uuid' is not supported"):
        load_config(str(xml_file))
    # Galaxy's own settings that change nothing here are accepted
    xml_file.write_text('<object_store type="disk" name="Main" private="false" store_by="id">'
                        '<description>main disk</description><badges><faster/></badges>'
                        '<files_dir path="f"/></object_store>')
    assert load_config(str(xml_file))["type"] == "disk"


def test_the_server_runner_defaults_match_the_declarations():
    from lwr.web.httpserver import DEFAULTS

    for name, (default, kind, minimum) in DEFAULTS.items():
        option = SERVER_OPTIONS.find(name)
        assert option is not None and option.default == default, name
        assert option.parse(str(minimum)) == minimum, name
        with pytest.raises(ValueError):
            option.parse(str(minimum - (1 if kind is int else 0.05)))
