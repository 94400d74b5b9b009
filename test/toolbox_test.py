"""ToolBox: Galaxy-style toolbox and tool XML (spec §9)."""
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from lwr.tools import ToolBox
from lwr.tools.toolbox import DEFAULT_TOOL_VERSION, ToolShedToolConfig

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "toolbox")
TOOLBOX = os.path.join(FIXTURES, "toolbox.xml")
SHED_GUID = "toolshed.example.org/repos/test/column_maker/Add_a_column1/1.1.0"


@pytest.fixture
def toolbox():
    return ToolBox(TOOLBOX)


def test_load_simple_tool(toolbox):
    tool1 = toolbox.get_tool("tool1")
    assert tool1.version == "0.1"
    assert tool1.get_tool_dir() == os.path.join(FIXTURES, "tools", "tool1")


def test_tool_shed_tool_id_is_its_guid(toolbox):
    tool = toolbox.get_tool(SHED_GUID)
    assert isinstance(tool, ToolShedToolConfig)
    assert tool.version == "1.1.0"
    assert tool.repository_owner == "test"
    with pytest.raises(KeyError):
        toolbox.get_tool("Add_a_column1")


def test_unknown_tool_raises_key_error(toolbox):
    with pytest.raises(KeyError):
        toolbox.get_tool("tool2")


def test_command_validator_accepts_the_tool_command(toolbox, tmp_path):
    job_directory = JobDirectory(str(tmp_path), "1")
    validator = toolbox.get_tool("tool1").inputs_validator
    wrapper = os.path.join(job_directory.path, "tool_files", "tool1_wrapper.py")
    config = os.path.join(job_directory.path, "configs", "config1")
    assert validator.validate_command(job_directory, "python %s --config %s" % (wrapper, config))
    assert not validator.validate_command(job_directory, "python %s --config /etc/passwd" % wrapper)
    assert not validator.validate_command(job_directory, "python %s --config %s; id" % (wrapper, config))


def test_config_validator_accepts_the_rendered_config(toolbox, tmp_path):
    job_directory = JobDirectory(str(tmp_path), "1")
    validator = toolbox.get_tool("tool1").inputs_validator
    assert validator.validate_config(job_directory, "config1", "\n   --option1='Hello' \n")
    assert not validator.validate_config(job_directory, "config1", "--option1='Goodbye'")
    assert validator.validate_config(job_directory, "not_validated", "anything")


def write_toolbox(tmp_path, toolbox_body, tool_xml):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "t.xml").write_text(tool_xml)
    path = tmp_path / "toolbox.xml"
    path.write_text('<toolbox tool_path="tools">%s</toolbox>' % toolbox_body)
    return str(path)


def test_version_defaults_and_comma_separated_files(tmp_path):
    other = write_toolbox(tmp_path, '<tool file="t.xml"/>', '<tool id="t"/>')
    toolbox = ToolBox("%s , %s" % (TOOLBOX, other))
    assert toolbox.get_tool("t").version == DEFAULT_TOOL_VERSION
    assert toolbox.get_tool("tool1").version == "0.1"
    assert ToolBox([other]).get_tool("t").id == "t"


@pytest.mark.parametrize("toolbox_body, tool_xml", [
    ('<tool file="missing.xml"/>', '<tool id="t"/>'),
    ('<tool/>', '<tool id="t"/>'),
    ('<tool file="t.xml"/>', '<tool version="1"/>'),
    ('<tool file="t.xml"/>', '<notatool id="t"/>'),
    ('<tool file="t.xml"/>', '<tool id="t"'),
])
def test_broken_toolbox_is_a_clear_error(tmp_path, toolbox_body, tool_xml):
    with pytest.raises(ValueError):
        ToolBox(write_toolbox(tmp_path, toolbox_body, tool_xml))
