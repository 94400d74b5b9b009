"""ExpressionValidator: the regex language of <command_validator>/<configfile_validator> (spec §9)."""
import os

import pytest

from lwr.managers.base.directory import JobDirectory
from lwr.tools.validator import MAX_VALIDATED_LENGTH, ExpressionValidator, InvalidValidatorConfig


@pytest.fixture
def job_directory(tmp_path):
    return JobDirectory(str(tmp_path), "1")


def job_file(job_directory, *parts):
    return os.path.join(job_directory.path, *parts)


def expression(body, **attributes):
    attrs = "".join(' %s="%s"' % item for item in attributes.items())
    return "<expression%s>%s</expression>" % (attrs, body)


LITERAL_CASES = [
    # (validator body, string, valid)
    ('<literal value="tophat2"/>', "tophat2", True),
    ('<literal value="tophat2"/>', "bowtie", False),
    ('<literal value="tophat2"/>', "tophat2x", False),
    ('<literal value="tophat2"/>', "  tophat2\n", True),
    ('<literal>tophat2</literal>', "tophat2", True),
    ('<literal value="a.b"/>', "aXb", False),
    ('<literal value="python"/><literal value="setup.py"/>', "python setup.py", True),
    ('<literal value="python"/><literal value="setup.py"/>', "python   setup.py", True),
    ('<literal value="python"/><literal value="setup.py"/>', "pythonsetup.py", False),
    ('<literal value="python"/><literal value="setup.py"/>', "python setup.py; rm -rf /", False),
    ('<regex value="ab+c"/>', "abbbc", True),
    ('<regex value="a|b"/><literal value="c"/>', "a c", True),
    ('<regex value="a|b"/><literal value="c"/>', "a", False),
    ('<literal value="tophat2"/><parameter name="--mate-std-dev"><literal value="4"/></parameter>',
     "tophat2 --mate-std-dev 4", True),
    ('<literal value="tophat2"/><parameter name="--mate-std-dev"><literal value="4"/></parameter>',
     "tophat2 --mate-std-dev=4", True),
    ('<literal value="tophat2"/><parameter name="--mate-std-dev"><literal value="4"/></parameter>',
     "tophat2 --mate-std-dev=5", False),
    ('<parameter name="--flag"/>', "--flag", True),
]

NUMBER_CASES = [
    ("<integer/>", "4", True),
    ("<integer/>", "42", True),
    ("<integer/>", "5.0", False),
    ("<integer/>", "four", False),
    ("<float/>", "4", True),
    ("<float/>", "5.0", True),
    ("<float/>", "4e10", True),
    ("<float/>", "-1.0e10", True),
    ("<float/>", "-.0e10", True),
    ("<float/>", "+3.", True),
    ("<float/>", "cat", False),
    ("<float/>", "1e", False),
    ("<float/>", ".", False),
]


@pytest.mark.parametrize("body, string, valid", LITERAL_CASES)
def test_literals_regex_and_parameters(job_directory, body, string, valid):
    assert ExpressionValidator(expression(body)).validate(job_directory, string) is valid


@pytest.mark.parametrize("body, value, valid", NUMBER_CASES)
def test_integer_and_float_parameters(job_directory, body, value, valid):
    validator = ExpressionValidator(expression(
        '<literal value="tophat2"/><parameter name="--mate-std-dev">%s</parameter>' % body))
    assert validator.validate(job_directory, "tophat2 --mate-std-dev=%s" % value) is valid
    assert validator.validate(job_directory, "tophat2 --mate-std-dev %s" % value) is valid


def test_tool_wrapper_is_the_job_copy(job_directory):
    validator = ExpressionValidator(expression('<tool_wrapper name="tool1_wrapper.py"/>'))
    assert validator.validate(job_directory, job_file(job_directory, "tool_files", "tool1_wrapper.py"))
    assert not validator.validate(job_directory, "tool1_wrapper.py")
    assert not validator.validate(job_directory, "/elsewhere/tool_files/tool1_wrapper.py")


def test_configfile_is_the_job_config(job_directory):
    validator = ExpressionValidator(expression('<literal value="tophat2"/><configfile name="top_opts"/>'))
    config = job_file(job_directory, "configs", "top_opts")
    assert validator.validate(job_directory, "tophat2 %s" % config)
    assert not validator.validate(job_directory, "tophat2 ../%s" % config)
    assert not validator.validate(job_directory, "tophat2 %sX" % config)


INPUT_CASES = [
    ("inputs/dataset_23412.dat", True),
    ("inputs/dataset_1_files/moo/cow.txt", True),
    ("inputs/dataset_23412.dat/../../../dataset23412.dat", False),
    ("inputs/../outputs/x", False),
    ("inputs/..", False),
    ("inputs/./x", False),
    ("inputs", False),
    ("inputs/", False),
    ("inputsX/dataset_1.dat", False),
    ("configs/x", False),
    ("inputs/a.dat;rm -rf /", False),
    ("inputs/a.dat$(reboot)", False),
    ("inputs/a`id`", False),
]


@pytest.mark.parametrize("relative, valid", INPUT_CASES)
def test_input_must_stay_inside_inputs(job_directory, relative, valid):
    validator = ExpressionValidator(expression('<literal value="tophat2"/><input/>'))
    path = job_file(job_directory, *relative.split("/")) + ("/" if relative.endswith("/") else "")
    assert validator.validate(job_directory, "tophat2 %s" % path) is valid


def test_input_with_dotdot_prefix_is_rejected(job_directory):
    validator = ExpressionValidator(expression('<literal value="tophat2"/><input/>'))
    assert not validator.validate(job_directory, "tophat2 ../%s" % job_file(job_directory, "inputs", "d.dat"))


def test_two_inputs(job_directory):
    validator = ExpressionValidator(expression('<literal value="tophat2"/><input/><input/>'))
    first = job_file(job_directory, "inputs", "dataset_23412.dat")
    second = job_file(job_directory, "inputs", "dataset_1.dat")
    assert validator.validate(job_directory, "tophat2 %s %s" % (first, second))
    assert not validator.validate(job_directory, "tophat2 %s ../%s" % (first, second))
    assert not validator.validate(job_directory, "tophat2 %s" % first)


def test_output_and_from_work_dir(job_directory):
    validator = ExpressionValidator(expression('<output/><output from_work_dir="out.txt"/>'))
    output = job_file(job_directory, "outputs", "dataset_2.dat")
    work = job_file(job_directory, "working", "out.txt")
    assert validator.validate(job_directory, "%s %s" % (output, work))
    assert not validator.validate(job_directory, "%s %s" % (job_file(job_directory, "inputs", "d"), work))
    assert not validator.validate(job_directory, "%s %s" % (output, job_file(job_directory, "working", "o")))
    assert not validator.validate(job_directory, "%s/../../x %s" % (output, work))


QUOTE_CASES = [
    ('<literal value="Hello" single_quote="true"/>', "'Hello'", True),
    ('<literal value="Hello" single_quote="true"/>', "Hello", False),
    ('<literal value="Hello" single_quote="true"/>', '"Hello"', False),
    ('<literal value="Hello" double_quote="true"/>', '"Hello"', True),
    ('<literal value="Hello" double_quote="true"/>', "'Hello'", False),
]


@pytest.mark.parametrize("body, string, valid", QUOTE_CASES)
def test_quotes(job_directory, body, string, valid):
    assert ExpressionValidator(expression(body)).validate(job_directory, string) is valid


REPEAT_CASES = [
    ('<literal value="a"/><literal value="b" min="0"/><literal value="c"/>', "a b c", True),
    ('<literal value="a"/><literal value="b" min="0"/><literal value="c"/>', "a c", True),
    ('<literal value="a"/><literal value="b" min="0"/><literal value="c"/>', "a  c", True),
    ('<literal value="a"/><literal value="b" min="0"/><literal value="c"/>', "a b b c", False),
    ('<literal value="b" min="0"/><literal value="c"/>', "c", True),
    ('<literal value="b" min="0"/><literal value="c"/>', "b c", True),
    ('<literal value="b" min="0"/><literal value="c" min="0"/>', "", True),
    ('<literal value="b" min="0"/><literal value="c" min="0"/>', "c", True),
    ('<literal value="a"/><literal value="b" max="3"/>', "a b", True),
    ('<literal value="a"/><literal value="b" max="3"/>', "a b b b", True),
    ('<literal value="a"/><literal value="b" max="3"/>', "a b b b b", False),
    ('<literal value="a"/><literal value="b" max="3"/>', "a", False),
    ('<literal value="a"/><literal value="b" min="2" max="3"/>', "a b", False),
    ('<literal value="a"/><literal value="b" min="2" max="3"/>', "a b b", True),
    ('<literal value="a"/><literal value="b" min="0" max="unbounded"/>', "a b b b b b", True),
    ('<literal value="a"/><literal value="b" min="0" max="unbounded"/>', "a", True),
]


@pytest.mark.parametrize("body, string, valid", REPEAT_CASES)
def test_min_and_max(job_directory, body, string, valid):
    assert ExpressionValidator(expression(body)).validate(job_directory, string) is valid


def test_repeated_inputs_all_checked(job_directory):
    validator = ExpressionValidator(expression('<literal value="cat"/><input max="3"/>'))
    a, b = (job_file(job_directory, "inputs", n) for n in ("a", "b"))
    assert validator.validate(job_directory, "cat %s %s %s" % (a, b, a))
    assert not validator.validate(job_directory, "cat %s %s/../../../etc/passwd %s" % (a, b, a))


GROUP_CASES = [
    ('<group><literal value="a"/><literal value="b"/></group>', "ab", True),
    ('<group><literal value="a"/><literal value="b"/></group>', "a b", False),
    ('<group separate_by=","><literal value="a"/><literal value="b"/></group>', "a,b", True),
    ('<group separate_by=","><literal value="a"/><literal value="b"/></group>', "a, b", False),
    ('<group separate_by="*spaces*"><literal value="a"/><literal value="b"/></group>', "a   b", True),
    ('<group separate_by="*whitespace*"><literal value="a"/><literal value="b"/></group>', "a\t\nb", True),
    ('<group separate_by="*spaces*"><literal value="a"/><literal value="b"/></group>', "a\tb", False),
    ('<literal value="x"/><group separate_by=","><integer max="3"/></group>', "x 1,2,3", True),
    ('<literal value="x"/><group separate_by=","><integer max="3"/></group>', "x 1,2,3,4", False),
]


@pytest.mark.parametrize("body, string, valid", GROUP_CASES)
def test_groups_and_separate_by(job_directory, body, string, valid):
    assert ExpressionValidator(expression(body)).validate(job_directory, string) is valid


def test_root_separate_by(job_directory):
    validator = ExpressionValidator(expression('<literal value="a"/><literal value="b"/>', separate_by=";"))
    assert validator.validate(job_directory, "a;b")
    assert not validator.validate(job_directory, "a b")


def test_over_long_strings_are_refused(job_directory):
    validator = ExpressionValidator(expression('<regex value=".*"/>'))
    assert validator.validate(job_directory, "x" * 100)
    assert not validator.validate(job_directory, "x" * (MAX_VALIDATED_LENGTH + 1))


BAD_CONFIGS = [
    "<expression><unknown/></expression>",
    '<expression><regex value="("/></expression>',
    '<expression><tool_wrapper/></expression>',
    '<expression><configfile name="../x"/></expression>',
    '<expression><output from_work_dir="/etc/passwd"/></expression>',
    '<expression><literal value="a" max="0"/></expression>',
    '<expression><literal value="a" min="x"/></expression>',
    "<expression>",
]


@pytest.mark.parametrize("xml", BAD_CONFIGS)
def test_bad_validator_config_is_refused(xml):
    with pytest.raises(InvalidValidatorConfig):
        ExpressionValidator(xml)
