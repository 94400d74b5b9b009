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


def _run_script(tmp_path, command, env=None, os_env=None, **kwds):
    """Write and run a job script in ``tmp_path/job`` (a job directory); return its result."""
    job = tmp_path / "job"
    for name in ("working", "metadata"):
        (job / name).mkdir(parents=True, exist_ok=True)
    script = job_script(str(job / "working"), command, str(job / "return_code"), env=env or [],
                        metadata_directory=str(job / "metadata"), **kwds)
    path = job / "command.sh"
    path.write_text(script)
    path.chmod(0o700)
    base_env = {"PATH": os.environ["PATH"]}
    base_env.update(os_env or {})
    return subprocess.run([str(path)], env=base_env, cwd=str(tmp_path), capture_output=True, text=True)


def test_job_home_and_tmp_exist_before_env_entries_and_home_comes_from_galaxy_entry(tmp_path):
    env = [{"name": "HOME", "value": '"$_GALAXY_JOB_HOME_DIR"', "raw": True, "file": None, "execute": None},
           {"execute": 'test -d "$HOME" && test -d "$_GALAXY_JOB_TMP_DIR" && echo made > "$HOME/seen"'}]
    result = _run_script(tmp_path, 'echo "$HOME|$TMPDIR|$TMP|$TEMP|$_GALAXY_JOB_HOME_DIR" > out', env)
    assert result.returncode == 0, result.stderr
    job = tmp_path / "job"
    home, tmp = str(job / "home"), str(job / "tmp")
    assert (job / "working" / "out").read_text() == "%s|%s|%s|%s|%s\n" % (home, tmp, tmp, tmp, home)
    assert (job / "home" / "seen").read_text() == "made\n"


def test_tmp_variables_fall_back_on_each_other_before_the_job_tmp_directory(tmp_path):
    result = _run_script(tmp_path, 'echo "$TMPDIR|$TEMP|$TMP" > out', os_env={"TMP": "/var/tmp"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "job" / "working" / "out").read_text() == "/var/tmp|/var/tmp|/var/tmp\n"


def test_tmp_dir_statement_may_disable_the_job_tmp_directory(tmp_path):
    _run_script(tmp_path, 'echo "[$TMPDIR][$_GALAXY_JOB_TMP_DIR]" > out; env | grep -c "^TMPDIR=" >> out; true',
                tmp_directory_statement="")
    assert (tmp_path / "job" / "working" / "out").read_text() == "[][]\n0\n"
    assert not (tmp_path / "job" / "tmp").exists()


def _fake_galaxy(tmp_path):
    """A Galaxy home with lib/ and a virtualenv whose activate script leaves a trace."""
    lib = tmp_path / "galaxy" / "lib"
    lib.mkdir(parents=True)
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "activate").write_text('ACTIVATED="yes"; export ACTIVATED\nPATH="%s:$PATH"\n' % venv_bin)
    return str(lib), str(tmp_path / "venv")


def test_remote_metadata_command_can_set_up_galaxy_framework(tmp_path):
    """Galaxy's remote-metadata line: ``[ "$GALAXY_VIRTUAL_ENV" = "None" ] && ...; _galaxy_setup_environment True``."""
    lib, venv = _fake_galaxy(tmp_path)
    command = ('echo "before:$PYTHONPATH:$ACTIVATED" > out; '
               '[ "$GALAXY_VIRTUAL_ENV" = "None" ] && GALAXY_VIRTUAL_ENV="$_GALAXY_VIRTUAL_ENV"; '
               '_galaxy_setup_environment True; echo "after:$PYTHONPATH:$ACTIVATED" >> out')
    result = _run_script(tmp_path, command, galaxy_lib=lib, galaxy_virtual_env=venv,
                         os_env={"PYTHONPATH": "/site"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "job" / "working" / "out").read_text().splitlines() == [
        "before:/site:yes", "after:%s:/site:yes" % lib]


def test_preserved_galaxy_environment_puts_galaxy_lib_on_the_tool_pythonpath(tmp_path):
    lib, _venv = _fake_galaxy(tmp_path)
    result = _run_script(tmp_path, 'echo "$PYTHONPATH" > out', galaxy_lib=lib, preserve_python_environment=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "job" / "working" / "out").read_text() == lib + "\n"


def test_without_galaxy_lib_nothing_is_added(tmp_path):
    _run_script(tmp_path, '_galaxy_setup_environment True; echo "[$PYTHONPATH][$GALAXY_LIB]" > out')
    assert (tmp_path / "job" / "working" / "out").read_text() == "[][None]\n"


@pytest.mark.parametrize("os_env, slots, configured", [
    ({}, "1", ""),
    ({"SLURM_CPUS_ON_NODE": "6", "SLURM_NTASKS": "2", "NSLOTS": "3"}, "6", "1"),
    ({"SLURM_NTASKS": "2", "SLURM_CPUS_PER_TASK": "3"}, "6", "1"),
    ({"SLURM_CPUS_PER_TASK": "4"}, "4", "1"),
    ({"NSLOTS": "3", "NCPUS": "5"}, "3", "1"),
    ({"NCPUS": "5", "PBS_NCPUS": "7"}, "5", "1"),
    ({"PBS_NCPUS": "7"}, "7", "1"),
    ({"LSB_DJOB_NUMPROC": "9"}, "9", "1"),
    ({"GALAXY_SLOTS": "11", "PYTHON_CPU_COUNT": "2"}, "11", "1"),
    ({"PYTHON_CPU_COUNT": "2"}, "2", "1"),
])
def test_galaxy_slots_come_from_the_resource_manager_in_pulsar_order(tmp_path, os_env, slots, configured):
    result = _run_script(tmp_path, 'echo "$GALAXY_SLOTS|$GALAXY_SLOTS_CONFIGURED" > out', os_env=os_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "job" / "working" / "out").read_text() == "%s|%s\n" % (slots, configured)


def test_galaxy_slots_from_pbs_nodefile(tmp_path):
    nodefile = tmp_path / "nodes"
    nodefile.write_text("n1\nn1\nn2\n")
    _run_script(tmp_path, 'echo "$GALAXY_SLOTS" > out', os_env={"PBS_NODEFILE": str(nodefile)})
    assert (tmp_path / "job" / "working" / "out").read_text().strip() == "3"


def _fake_scontrol(tmp_path, text):
    """Slurm's scontrol, faked at the OS edge: prints a captured ``show job -d`` detail line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text("#!/bin/sh\ncat <<'EOT'\n%s\nEOT\n" % text)
    scontrol.chmod(0o755)
    return str(bin_dir) + os.pathsep + os.environ["PATH"]


@pytest.mark.parametrize("os_env, memory, per_slot", [
    ({}, "", ""),
    ({"SGE_HGR_h_vmem": "2G", "NSLOTS": "2"}, "4096", "2048"),
    ({"SGE_HGR_h_vmem": "512M"}, "512", "512"),
    ({"SGE_HGR_h_vmem": "bogus"}, "", ""),
    ({"GALAXY_MEMORY_MB": "1000", "NSLOTS": "4"}, "1000", "250"),
    ({"GALAXY_MEMORY_MB": "-5"}, "", ""),
])
def test_galaxy_memory_variables(tmp_path, os_env, memory, per_slot):
    result = _run_script(tmp_path, 'echo "$GALAXY_MEMORY_MB|$GALAXY_MEMORY_MB_PER_SLOT" > out; '
                                   'env | grep -c "^GALAXY_MEMORY_MB" >> out; true', os_env=os_env)
    assert result.returncode == 0, result.stderr
    exported = (1 if memory else 0) + (1 if per_slot else 0)
    assert (tmp_path / "job" / "working" / "out").read_text() == "%s|%s\n%d\n" % (memory, per_slot, exported)


def test_galaxy_memory_from_slurm_job_details(tmp_path):
    path = _fake_scontrol(tmp_path, "JobId=42 JobName=x\n   Nodes=n1 CPU_IDs=0-1 Mem=3000 GRES=")
    result = _run_script(tmp_path, 'echo "$GALAXY_MEMORY_MB|$GALAXY_MEMORY_MB_PER_SLOT" > out',
                         os_env={"PATH": path, "SLURM_JOB_ID": "42", "SLURM_CPUS_ON_NODE": "2"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "job" / "working" / "out").read_text() == "3000|1500\n"


def test_exit_code_of_command_calling_exit_is_recorded_and_job_streams_are_the_scripts(tmp_path):
    result = _run_script(tmp_path, "echo to-stdout; echo to-stderr >&2; exit 5")
    assert result.returncode == 5
    assert (tmp_path / "job" / "return_code").read_text().strip() == "5"
    assert result.stdout == "to-stdout\n" and result.stderr == "to-stderr\n"
