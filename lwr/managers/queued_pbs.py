"""``queued_pbs``: PBS / Torque through ``qsub``/``qstat``/``qdel`` (a placeholder in LWR 0.2.0).

This is :class:`~lwr.managers.queued_cli.CliQueueManager` with the ``Torque`` job plugin and the
``LocalShell`` shell plugin as defaults; every ``job_*`` / ``shell_*`` option of ``queued_cli``
applies (e.g. ``job_plugin = SlurmTorque`` for Slurm's Torque wrappers, ``job_destination`` for a queue).
"""
from lwr.managers.queued_cli import CliQueueManager

__all__ = ["PbsQueueManager"]


class PbsQueueManager(CliQueueManager):
    manager_type = "queued_pbs"
    default_plugin_options = {"job_plugin": "Torque", "shell_plugin": "LocalShell"}
