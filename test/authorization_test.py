"""Tool authorization: allow-any by default, toolbox-based when configured (spec §9)."""
import logging
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from lwr.tools import ToolBox
from lwr.tools import authorization as authorization_module
from lwr.tools.authorization import (AllowAnyAuthorizer, AuthorizationError, ToolBasedAuthorizer,
                                     get_authorizer)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "toolbox")
TOOLBOX = os.path.join(FIXTURES, "toolbox.xml")
WRAPPER = os.path.join(FIXTURES, "tools", "tool1", "tool1_wrapper.py")
SHED_GUID = "toolshed.example.org/repos/test/column_maker/Add_a_column1/1.1.0"


@pytest.fixture
def authorizer():
    return get_authorizer(TOOLBOX)


@pytest.fixture
def job_directory(tmp_path):
    directory = JobDirectory(str(tmp_path), "1")
    directory.setup()
    return directory


def write_config(job_directory, name, contents):
    path = os.path.join(job_directory.path, "configs", name)
    with open(path, "w") as handle:
        handle.write(contents)
    return path


def wrapper_bytes():
    with open(WRAPPER, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("value", [None, "", "  "])
def test_allow_any_authorization(value):
    authorization = get_authorizer(value).get_authorization("tool1")
    authorization.authorize_setup()
    authorization.authorize_tool_file("cow", '#!/bin/bash\necho "Hello World!"')
    authorization.authorize_config_file(None, "config1", "/nonexistent")
    authorization.authorize_execution(None, "rm -rf /")


def test_allow_any_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(authorization_module, "_warned_allow_any", False)
    with caplog.at_level(logging.WARNING, logger="lwr.tools.authorization"):
        AllowAnyAuthorizer()
        AllowAnyAuthorizer()
    assert len([r for r in caplog.records if "run any command" in r.message]) == 1


@pytest.mark.parametrize("argument", [TOOLBOX, [TOOLBOX], "%s," % TOOLBOX, ToolBox(TOOLBOX)])
def test_toolbox_forms_give_tool_based_authorizer(argument):
    assert isinstance(get_authorizer(argument), ToolBasedAuthorizer)


def test_valid_setup_passes(authorizer):
    authorizer.get_authorization("tool1").authorize_setup()
    authorizer.get_authorization(SHED_GUID).authorize_setup()


@pytest.mark.parametrize("tool_id", ["tool2", "", None, "../tool1"])
def test_unknown_tool_fails_everything(authorizer, job_directory, tool_id):
    authorization = authorizer.get_authorization(tool_id)
    for check in (lambda: authorization.authorize_setup(),
                  lambda: authorization.authorize_tool_file("tool1_wrapper.py", wrapper_bytes()),
                  lambda: authorization.authorize_config_file(job_directory, "c", "/nonexistent"),
                  lambda: authorization.authorize_execution(job_directory, "true")):
        with pytest.raises(AuthorizationError):
            check()


def test_valid_tool_file_passes(authorizer):
    authorization = authorizer.get_authorization("tool1")
    authorization.authorize_tool_file("tool1_wrapper.py", wrapper_bytes())
    authorization.authorize_tool_file("tool1_wrapper.py", wrapper_bytes().decode("utf-8"))


@pytest.mark.parametrize("name, contents", [
    ("tool1_wrapper.py", b"#!/bin/sh\nrm -rf /valuable/data"),
    ("tool1_wrapper.py", None),
    ("tool1_wrapper.py", b""),
    ("other.py", b"print('Hello World!')\n"),
    ("../tool1/tool1_wrapper.py", None),
    ("tool1.xml/../tool1_wrapper.py", None),
    ("", b""),
])
def test_tool_file_must_equal_toolbox_copy(authorizer, name, contents):
    if contents is None:
        contents = wrapper_bytes()[:-1] if name == "tool1_wrapper.py" else wrapper_bytes()
    with pytest.raises(AuthorizationError):
        authorizer.get_authorization("tool1").authorize_tool_file(name, contents)


def command(job_directory, config="config1"):
    wrapper = os.path.join(job_directory.path, "tool_files", "tool1_wrapper.py")
    return "python %s --config %s" % (wrapper, os.path.join(job_directory.path, "configs", config))


def test_execution_must_match_command_validator(authorizer, job_directory):
    authorization = authorizer.get_authorization("tool1")
    authorization.authorize_execution(job_directory, command(job_directory))
    for bad in (command(job_directory) + " && curl evil", command(job_directory, "other"), "", "true"):
        with pytest.raises(AuthorizationError):
            authorization.authorize_execution(job_directory, bad)


def test_tool_without_command_validator_may_not_execute(authorizer, job_directory):
    with pytest.raises(AuthorizationError, match="no command_validator"):
        authorizer.get_authorization(SHED_GUID).authorize_execution(job_directory, "python x")


@pytest.mark.parametrize("contents, allowed", [
    ("\n   --option1='Hello' \n", True),
    ("--option1='Hello'", True),
    ("--option1='Goodbye'", False),
    ("--option1='Hello'; rm -rf /", False),
])
def test_config_file_uses_its_configfile_validator(authorizer, job_directory, contents, allowed):
    authorization = authorizer.get_authorization("tool1")
    path = write_config(job_directory, "config1", contents)
    if allowed:
        authorization.authorize_config_file(job_directory, "config1", path)
    else:
        with pytest.raises(AuthorizationError):
            authorization.authorize_config_file(job_directory, "config1", path)


def test_config_file_without_validator_is_allowed(authorizer, job_directory):
    # 0.2.0 rejected every config file here ([BUG] in spec §9).
    path = write_config(job_directory, "extra_config", "anything at all")
    authorizer.get_authorization("tool1").authorize_config_file(job_directory, "extra_config", path)


def test_oversized_or_missing_config_is_refused(authorizer, job_directory, monkeypatch):
    authorization = authorizer.get_authorization("tool1")
    with pytest.raises(AuthorizationError):
        authorization.authorize_config_file(job_directory, "config1", os.path.join(job_directory.path, "nope"))
    monkeypatch.setattr(authorization_module, "MAX_CONFIG_FILE_SIZE", 4)
    path = write_config(job_directory, "config1", "--option1='Hello'")
    with pytest.raises(AuthorizationError, match="too large"):
        authorization.authorize_config_file(job_directory, "config1", path)
