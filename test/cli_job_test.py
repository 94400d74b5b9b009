"""Job plugins: headers, commands and status parsing on real captured Slurm / Torque-wrapper output."""
import os

import pytest

from lwr.managers import status
from lwr.managers.util.cli import (CliInterface, JobStatus, LocalShell, SchedulerCommandError, SecureShell,
                                   Slurm, SlurmTorque, Torque, UNKNOWN, parse_external_id, split_params)
from lwr.managers.util.cli.job.slurm import parse_sacct, parse_scontrol, slurm_final_status, SQUEUE_CODES
from lwr.managers.util.cli.job.torque import parse_qstat_f, torque_job_status
from lwr.managers.util.cli.shell import ShellResult

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "scheduler_output")


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def fixture_rc(name: str) -> int:
    return int(fixture(name + ".rc"))


def job_id_of(name: str) -> str:
    """The job id a captured scontrol / qstat -f output is about."""
    text = fixture(name)
    if text.startswith("JobId="):
        return text.split()[0].split("=")[1]
    return text.split()[2]


# -- Slurm --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("scontrol_pending.txt", JobStatus(status.QUEUED)),
    ("scontrol_running.txt", JobStatus(status.RUNNING)),
    ("scontrol_completed.txt", JobStatus(status.COMPLETE, 0)),
    ("scontrol_exit3.txt", JobStatus(status.COMPLETE, 3)),
])
def test_scontrol_plain_states(name, expected):
    assert parse_scontrol(fixture("slurm/" + name), job_id_of("slurm/" + name)) == expected


@pytest.mark.parametrize("name, state, reason_words", [
    ("scontrol_cancelled.txt", status.CANCELLED, ["CANCELLED"]),
    ("scontrol_cancelled_pending.txt", status.CANCELLED, ["CANCELLED"]),
    ("scontrol_timeout.txt", status.FAILED, ["walltime", "TIMEOUT", "TimeLimit"]),
    ("scontrol_oom.txt", status.FAILED, ["SIGKILL", "JobLaunchFailure"]),
])
def test_scontrol_scheduler_ended_jobs_carry_a_reason(name, state, reason_words):
    found = parse_scontrol(fixture("slurm/" + name), job_id_of("slurm/" + name))
    assert found.state == state and found.exit_code is None
    for word in reason_words:
        assert word in found.reason


def test_scontrol_other_job_id_is_not_taken():
    assert parse_scontrol(fixture("slurm/scontrol_exit3.txt"), "424242") is None


@pytest.mark.parametrize("name, state, exit_code", [
    ("sacct_c_completed.txt", status.COMPLETE, 0),
    ("sacct_c_exit3.txt", status.COMPLETE, 3),
    ("sacct_c_cancelled.txt", status.CANCELLED, None),
    ("sacct_c_timeout.txt", status.FAILED, None),
    ("sacct_c_oom.txt", status.FAILED, None),
])
def test_sacct_completion_log(name, state, exit_code):
    text = fixture("slurm/" + name)
    found = parse_sacct(text, text.split("|")[0])
    assert (found.state, found.exit_code) == (state, exit_code)
    if state != status.COMPLETE:
        assert found.reason


def test_sacct_unknown_id_is_none():
    assert fixture_rc("slurm/sacct_c_invalid_id.txt") == 0
    assert parse_sacct(fixture("slurm/sacct_c_invalid_id.txt"), "999999") is None


def test_squeue_parsing_and_hidden_finished_job():
    slurm = Slurm()
    assert slurm.parse_single_status(fixture("slurm/squeue_pending.txt"), "6").state == status.QUEUED
    running = fixture("slurm/squeue_running.txt")
    job = running.split()[-2]
    assert slurm.parse_single_status(running, job).state == status.RUNNING
    assert slurm.parse_status(running, [job, "12345"]) == {job: JobStatus(status.RUNNING)}
    # header only, rc 0: squeue hides finished jobs
    assert fixture("slurm/squeue_finished_hidden.txt").strip() == "JOBID ST"


@pytest.mark.parametrize("name, state", [
    ("OUT_OF_MEMORY", status.FAILED), ("NODE_FAIL", status.FAILED), ("TIMEOUT", status.FAILED),
    ("CANCELLED by 0", status.CANCELLED), ("PREEMPTED", status.FAILED), ("COMPLETED", status.COMPLETE),
    ("RUNNING", status.RUNNING), ("PENDING", status.QUEUED), ("SUSPENDED", status.QUEUED),
])
def test_slurm_state_table(name, state):
    found = slurm_final_status(name, "0:0")
    assert found.state == state
    if state == status.FAILED:
        assert found.reason


def test_unknown_slurm_code_is_explicit_unknown_and_logged(caplog):
    assert slurm_final_status("WEIRD_NEW_STATE", "0:0") == JobStatus(UNKNOWN)
    assert Slurm().parse_single_status("JOBID ST\n5 ZZ\n", "5") == JobStatus(UNKNOWN)
    assert "unknown Slurm job state" in caplog.text


def test_every_squeue_code_maps_to_a_shared_state():
    for state in SQUEUE_CODES.values():
        assert state in status.ALL_STATES


class ReplayShell:
    """Answers each command with captured output, keyed by the command's first word."""

    def __init__(self, answers):
        self.answers = answers
        self.commands = []

    def execute(self, cmd, timeout=None):
        self.commands.append(cmd)
        name = self.answers[cmd[0]]
        if isinstance(name, ShellResult):
            return name
        rc = fixture_rc(name)
        text = fixture(name)
        return ShellResult(text if rc == 0 else "", text if rc else "", rc)


def test_job_status_falls_back_from_squeue_to_scontrol():
    shell = ReplayShell({"squeue": "slurm/squeue_finished_hidden.txt", "scontrol": "slurm/scontrol_exit3.txt"})
    found = Slurm().job_status(shell, job_id_of("slurm/scontrol_exit3.txt"))
    assert found == JobStatus(status.COMPLETE, 3)
    assert [c[0] for c in shell.commands] == ["squeue", "scontrol"]


def test_job_status_falls_back_to_sacct_once_scontrol_forgot():
    shell = ReplayShell({"squeue": "slurm/squeue_invalid_id.txt", "scontrol": "slurm/scontrol_invalid_id.txt",
                         "sacct": "slurm/sacct_c_timeout.txt"})
    job = fixture("slurm/sacct_c_timeout.txt").split("|")[0]
    found = Slurm().job_status(shell, job)
    assert found.state == status.FAILED and "walltime" in found.reason
    assert [c[0] for c in shell.commands] == ["squeue", "scontrol", "sacct"]


def test_job_status_forgotten_everywhere_is_lost():
    shell = ReplayShell({"squeue": "slurm/squeue_invalid_id.txt", "scontrol": "slurm/scontrol_invalid_id.txt",
                         "sacct": "slurm/sacct_c_invalid_id.txt"})
    assert Slurm().job_status(shell, "999999").state == status.LOST


def test_job_status_running_needs_one_command():
    shell = ReplayShell({"squeue": "slurm/squeue_running.txt"})
    job = fixture("slurm/squeue_running.txt").split()[-2]
    assert Slurm().job_status(shell, job) == JobStatus(status.RUNNING)
    assert len(shell.commands) == 1


def test_job_status_scheduler_unreachable_raises_with_stderr():
    shell = ReplayShell({"squeue": ShellResult("", "ssh: connect to host x port 22: Connection refused", 255)})
    with pytest.raises(SchedulerCommandError) as info:
        Slurm().job_status(shell, "1")
    assert info.value.returncode == 255 and "Connection refused" in str(info.value)


def test_slurm_headers_and_commands():
    slurm = Slurm(time="0:01", partition="debug", mem="40M", **{"--exclusive": ""})
    headers = slurm.job_script_kwargs("/j/stdout", "/j/stderr", "lwr_1")["headers"].splitlines()
    assert headers == ["#SBATCH -o /j/stdout", "#SBATCH -e /j/stderr", "#SBATCH -J lwr_1",
                       "#SBATCH -t 0:01", "#SBATCH -p debug", "#SBATCH --mem=40M", "#SBATCH --exclusive"]
    assert slurm.submit("/j/command.sh") == ["sbatch", "/j/command.sh"]
    assert slurm.delete("17") == ["scancel", "17"]
    assert slurm.get_single_status("17") == ["squeue", "-a", "-o", "%A %t", "-j", "17"]


def test_header_values_cannot_inject_lines():
    with pytest.raises(ValueError, match="line break"):
        Slurm(time="1\n#SBATCH --uid=0")
    with pytest.raises(ValueError):
        Torque().job_script_kwargs("/o", "/e", "name\nrm -rf /")


# -- Torque (Slurm's wrappers) --------------------------------------------------------------

@pytest.mark.parametrize("name, state", [
    ("torque/qstat_f_queued.txt", status.QUEUED),
    ("torque/qstat_f_running.txt", status.RUNNING),
    ("torque/qstat_f_finished.txt", status.COMPLETE),
])
def test_qstat_f_indented_keys_are_read(name, state):
    # LWR 0.2.0 never stripped the tab before job_state and read every job complete
    text = fixture(name)
    assert "\tjob_state = " in text
    job = job_id_of(name)
    assert Torque().parse_single_status(text, job) == JobStatus(state)
    assert SlurmTorque().parse_single_status(text, job) == JobStatus(state)


def test_qstat_f_attributes():
    jobs = parse_qstat_f(fixture("torque/qstat_f_running.txt"))
    (attrs,) = jobs.values()
    assert attrs["Job_Name"] == "lwr_pbs" and attrs["Resource_List.ncpus"] == "1"


@pytest.mark.parametrize("attrs, expected_state, exit_code, reason", [
    ({"job_state": "C", "exit_status": "3"}, status.COMPLETE, 3, None),
    ({"job_state": "C", "exit_status": "-11"}, status.FAILED, None, "walltime"),
    ({"job_state": "C", "exit_status": "-10"}, status.FAILED, None, "memory"),
    ({"job_state": "C", "exit_status": "265"}, status.FAILED, None, "SIGKILL"),
    ({"job_state": "E"}, status.RUNNING, None, None),
    ({"job_state": "H"}, status.QUEUED, None, None),
    ({"job_state": "?"}, UNKNOWN, None, None),
])
def test_torque_exit_status_table(attrs, expected_state, exit_code, reason):
    found = torque_job_status(attrs)
    assert (found.state, found.exit_code) == (expected_state, exit_code)
    if reason:
        assert reason in found.reason


def test_plain_qstat_table_bulk_status():
    text = fixture("torque/qstat_table_running.txt")
    running = job_id_of("torque/qstat_f_running.txt")
    statuses = SlurmTorque().parse_status(text, [running, "1", "424242"])
    assert statuses[running] == JobStatus(status.RUNNING)
    assert statuses["1"] == JobStatus(status.COMPLETE)
    assert "424242" not in statuses
    queued = SlurmTorque().parse_status(fixture("torque/qstat_table_queued.txt"), [job_id_of("torque/qstat_f_queued.txt")])
    assert list(queued.values()) == [JobStatus(status.QUEUED)]


def test_torque_unknown_job_is_lost_and_qstat_x_is_unsupported():
    shell = ReplayShell({"qstat": "torque/qstat_f_invalid_id.txt"})
    assert fixture_rc("torque/qstat_f_invalid_id.txt") == 153
    assert SlurmTorque().job_status(shell, "999999").state == status.LOST
    assert "Unknown option: x" in fixture("torque/qstat_x.txt")
    assert "-x" not in Torque().get_status() + SlurmTorque().get_status()


def test_torque_headers_map_params_case_insensitively_and_submit_passes_paths():
    torque = Torque(destination="batch", resource_list="walltime=00:10:00", **{"-V": ""})
    headers = torque.job_script_kwargs("/j/o", "/j/e", "lwr_2")["headers"].splitlines()
    assert headers == ["#PBS -o /j/o", "#PBS -e /j/e", "#PBS -N lwr_2", "#PBS -q batch",
                       "#PBS -l walltime=00:10:00", "#PBS -V"]
    assert Torque(Resource_List="nodes=1").extra_flags == ["-l nodes=1"]
    # Slurm's qsub wrapper ignores #PBS -o/-e, so they go on the command line too
    assert torque.submit("/j/c.sh", "/j/o", "/j/e", "lwr_2") == ["qsub", "-o", "/j/o", "-e", "/j/e", "-N", "lwr_2", "/j/c.sh"]


def test_unknown_job_param_is_ignored_with_warning(caplog):
    assert Slurm(colour="blue").extra_flags == []
    assert "colour" in caplog.text


# -- CliInterface ---------------------------------------------------------------------------

def test_cli_interface_builds_plugins_from_manager_options():
    options = {"type": "queued_cli", "job_plugin": "Slurm", "job_time": "5", "job_name_template": "x_$job_id",
               "shell_plugin": "SecureShell", "shell_hostname": "head", "shell_port": "2222"}
    shell_params, job_params = split_params(options)
    assert shell_params == {"plugin": "SecureShell", "hostname": "head", "port": "2222"}
    assert job_params == {"plugin": "Slurm", "time": "5"}
    cli = CliInterface.from_options(options)
    shell, job = cli.get_plugins()
    assert isinstance(shell, SecureShell) and shell.port == 2222
    assert isinstance(job, Slurm) and job.extra_flags == ["-t 5"]
    assert isinstance(CliInterface({}, {"plugin": "Torque"}).shell, LocalShell)


@pytest.mark.parametrize("shell_params, job_params, words", [
    ({}, {}, ["job_plugin", "Slurm", "SlurmTorque", "Torque"]),
    ({}, {"plugin": "Pbs"}, ["job_plugin", "'Pbs'", "Slurm, SlurmTorque, Torque"]),
    ({"plugin": "Telnet"}, {"plugin": "Slurm"}, ["shell_plugin", "'Telnet'", "GlobusSecureShell", "LocalShell"]),
    ({"plugin": "SecureShell"}, {"plugin": "Slurm"}, ["hostname"]),
])
def test_cli_interface_rejects_bad_plugin_choice_naming_option_and_choices(shell_params, job_params, words):
    with pytest.raises(ValueError) as info:
        CliInterface(shell_params, job_params)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("output, expected", [
    ("Submitted batch job 42\n", "42"),
    ("Submitting job(s).\n1 job(s) submitted to cluster 17.\n", "17"),
    ("123.headnode\n", "123.headnode"),
])
def test_parse_external_id(output, expected):
    assert parse_external_id(output) == expected


def test_parse_external_id_empty_output_raises():
    with pytest.raises(ValueError):
        parse_external_id("  \n")
