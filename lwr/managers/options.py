"""The options of each manager type in ``job_managers.ini``, declared once (see :mod:`lwr.options`).

:func:`manager_options` gives a type's :class:`~lwr.options.OptionSet`;
:mod:`lwr.manager_factory` validates every ``[manager:NAME]`` section against it before
any manager is built, and the docs' per-type tables are generated from :data:`MANAGER_OPTIONS`.
The manager classes still read their options from ``**kwds``: this table is what makes a
typo there a refusal instead of a silent default.
"""
from lwr.options import BOOL, CONCURRENCY, PATH, STRING, Option, OptionSet, choice, integer, number

__all__ = ["MANAGER_OPTIONS", "COMMON_OPTIONS", "manager_options"]

COMMON_OPTIONS = OptionSet("manager", [
    Option("type", STRING, None, "The manager type (required): queued_python, unqueued, queued_drmaa, "
           "queued_external_drmaa, queued_condor, queued_cli or queued_pbs."),
    Option("assign_ids", choice("galaxy", "uuid"), "galaxy",
           "galaxy keeps the client's job id; uuid gives every job a fresh UUID (default: server.ini's)."),
    Option("debug", BOOL, False, "true keeps job directories on clean (default: server.ini's)."),
    Option("galaxy_home", PATH, None, "Galaxy for remote metadata and tools importing Galaxy "
           "(default: server.ini's, else $GALAXY_HOME)."),
    Option("galaxy_virtual_env", PATH, None, "Galaxy's virtualenv for those jobs (default: server.ini's, "
           "else $GALAXY_VIRTUAL_ENV)."),
    Option("galaxy_config_file", PATH, None, "Galaxy setting reported to clients for server-side metadata."),
    Option("galaxy_dataset_files_path", PATH, None, "Galaxy setting reported to clients for server-side metadata."),
    Option("galaxy_datatypes_config_file", PATH, None,
           "Galaxy setting reported to clients for server-side metadata."),
    Option("tmp_dir", STRING, None, "The jobs' temporary directory: true or unset = <job directory>/tmp; "
           "false = none; other text is shell, e.g. $(mktemp -d)."),
    Option("env_", STRING, None, "env_NAME = VALUE exports NAME=VALUE in every job's script "
           "(NAME keeps its case).", prefix=True),
    Option("min_polling_interval", number(positive=True), 0.5,
           "Seconds between status checks of active jobs when status updates are published."),
], where_documented="see docs/job_managers.rst", title="every type")

_EXTERNAL = [
    Option("job_name_template", STRING, "lwr_$job_id",
           "Scheduler job name; $job_id and environment variables are substituted."),
    Option("status_cache_seconds", number(minimum=0), 1,
           "Seconds one scheduler answer serves repeated status requests for the same job."),
]

_DRMAA = [
    Option("native_specification", STRING, None,
           "Scheduler options for every job; unset: the client's submit_native_specification."),
    Option("drmaa_contact", STRING, None, "DRMAA contact string (rarely needed)."),
]

_CLI = [
    # plugin names are checked by lwr.managers.util.cli's registry, which lists the choices
    Option("job_plugin", STRING, None,
           "The scheduler: Torque, Slurm or SlurmTorque (required for queued_cli; queued_pbs: Torque)."),
    Option("shell_plugin", STRING, "LocalShell",
           "Where the scheduler commands run: LocalShell, SecureShell (ssh), RemoteShell (rsh), "
           "GlobusSecureShell (gsissh)."),
    Option("job_", STRING, None, "job_<name> = value: a scheduler option in the job script's header "
           "(e.g. job_partition, job_time, job_mem for Slurm; job_destination for Torque).", prefix=True),
    Option("shell_hostname", STRING, None, "Submit host (remote shells)."),
    Option("shell_username", STRING, None, "User on the submit host (remote shells)."),
    Option("shell_port", integer(1, 65535), None, "ssh port (SecureShell)."),
    Option("shell_identity_file", PATH, None, "ssh private key (SecureShell)."),
    Option("shell_ssh_config", PATH, None, "ssh_config file (-F) (SecureShell)."),
    Option("shell_connect_timeout", number(positive=True), 60, "ssh ConnectTimeout in seconds (SecureShell)."),
    Option("shell_strict_host_key_checking", choice("yes", "accept-new"), "yes",
           "ssh StrictHostKeyChecking (SecureShell)."),
    Option("shell_timeout", number(positive=True), 60, "Seconds before a scheduler command is given up."),
    Option("shell_rsh", STRING, None, "Remote shell program (default ssh, rsh or gsissh)."),
    Option("shell_rcp", STRING, None, "Remote copy program (default scp, rcp or gsiscp)."),
]

MANAGER_OPTIONS = {
    "queued_python": COMMON_OPTIONS.extended("queued_python", [
        Option("num_concurrent_jobs", CONCURRENCY, 1, "Jobs run at once; * means one per CPU core."),
        Option("max_concurrent_jobs", CONCURRENCY, None, "Accepted as another name for num_concurrent_jobs "
               "(the name 0.2.0's sample file used)."),
    ], title="queued_python"),
    "unqueued": COMMON_OPTIONS.extended("unqueued", [], title="unqueued"),
    "queued_drmaa": COMMON_OPTIONS.extended("queued_drmaa", _EXTERNAL + _DRMAA, title="queued_drmaa"),
    "queued_external_drmaa": COMMON_OPTIONS.extended("queued_external_drmaa", _EXTERNAL + _DRMAA + [
        Option("chown_working_directory_script", PATH, "scripts/chown_working_directory.bash",
               "Script run with sudo to hand the job directory to the user and back."),
        Option("drmaa_launch_script", PATH, "scripts/drmaa_launch.bash", "Script submitting as the user."),
        Option("drmaa_kill_script", PATH, "scripts/drmaa_kill.bash", "Script cancelling as the user."),
        Option("production", BOOL, True, "true: the chown script finds the job by id under "
               "staging_directory; false: it is given the job directory's path."),
        Option("sudo_timeout", number(positive=True), 120, "Seconds before a sudo call is given up."),
    ], title="queued_external_drmaa"),
    "queued_condor": COMMON_OPTIONS.extended("queued_condor", _EXTERNAL + [
        Option("submit_", STRING, None, "submit_<key> = value adds \"<key> = value\" to the submit "
               "description (e.g. submit_universe, submit_request_memory).", prefix=True),
        Option("condor_timeout", number(positive=True), 60,
               "Seconds before condor_submit / condor_rm are given up."),
    ], title="queued_condor"),
    "queued_cli": COMMON_OPTIONS.extended("queued_cli", _EXTERNAL + _CLI, title="queued_cli"),
    "queued_pbs": COMMON_OPTIONS.extended("queued_pbs", _EXTERNAL + [
        o if o.name != "job_plugin" else Option("job_plugin", o.kind, "Torque", o.doc) for o in _CLI],
        title="queued_pbs"),
}


def manager_options(manager_type: str) -> OptionSet:
    """The declared options of ``manager_type`` (``KeyError`` for an unknown type)."""
    return MANAGER_OPTIONS[manager_type]
