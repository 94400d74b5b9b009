import os
import subprocess

import pytest

from lwr.managers.util.job_script import InvalidEnvironment, env_to_statement, job_script


def test_env_statements():
    assert env_to_statement({"name": "A", "value": 'x"y'}) == 'A="x\\"y"; export A'
    assert env_to_statement({"name": "A", "value": "$HOME", "raw": True}) == "A=$HOME; export A"
    assert env_to_statement({"file": "/x/env.sh", "name": "ignored"}) == '. "/x/env.sh"'
    assert env_to_statement({"execute": "module load x"}) == "module load x"


@pytest.mark.parametrize("entry", [{"name": "A;rm -rf /", "value": "1"}, {"name": "", "value": "1"},
                                   {"value": "1"}, "NAME=1", {"name": "1A", "value": "x"}])
def test_bad_env_entries_are_refused(entry):
    with pytest.raises(InvalidEnvironment):
        env_to_statement(entry)


def test_script_keeps_tool_exit_code_and_sets_slots(tmp_path):
    working = tmp_path / "working"
    working.mkdir()
    exit_code_path = str(tmp_path / "return_code")
    script = job_script(str(working), 'echo "$GALAXY_SLOTS $MyVar" > out; exit 3', exit_code_path,
                        env=[{"name": "MyVar", "value": "v a l"}])
    path = tmp_path / "command.sh"
    path.write_text(script)
    result = subprocess.run(["/bin/sh", str(path)], env={"PATH": os.environ["PATH"], "NSLOTS": "4"})
    assert result.returncode == 3
    assert (working / "out").read_text() == "4 v a l\n"


def test_script_records_return_code_of_command(tmp_path):
    working = tmp_path / "w"
    working.mkdir()
    exit_code_path = str(tmp_path / "return_code")
    script = job_script(str(working), "sh -c 'exit 7'", exit_code_path)
    (tmp_path / "c.sh").write_text(script)
    assert subprocess.run(["/bin/sh", str(tmp_path / "c.sh")]).returncode == 7
    assert (tmp_path / "return_code").read_text().strip() == "7"
    assert 'GALAXY_SLOTS="1"' in script
