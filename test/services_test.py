"""Each service started by scripts/services/start-all.sh answers."""
import os
import subprocess

import pytest

from test.support.schedulers import (SSH_HOST, drmaa_problem, scheduler_env, sge_available, slurm_available,
                                     ssh_available, ssh_config_path, torque_wrapper_dir, torque_wrappers_available)
from test.support.services import port_open, require


@pytest.mark.amqp
def test_rabbitmq_answers():
    require(port_open("127.0.0.1", 5672), "RabbitMQ not on 127.0.0.1:5672 (scripts/services/start-rabbitmq.sh)")
    from kombu import Connection
    with Connection("amqp://guest:guest@127.0.0.1:5672//", connect_timeout=5) as connection:
        queue = connection.SimpleQueue("lwr-services-test")
        queue.put({"ok": 1})
        message = queue.get(timeout=5)
        message.ack()
        queue.close()
    assert message.payload == {"ok": 1}


@pytest.mark.slurm
def test_slurm_answers():
    require(slurm_available(), "Slurm not running (scripts/services/start-slurm.sh)")
    out = subprocess.run(["sinfo", "-h", "-o", "%P %a"], capture_output=True, text=True, timeout=10).stdout
    assert "up" in out


@pytest.mark.slurm
def test_torque_wrappers_answer():
    require(torque_wrappers_available(), "Torque wrappers missing (scripts/services/start-torque-wrappers.sh)")
    result = subprocess.run([os.path.join(torque_wrapper_dir(), "qstat")], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr


@pytest.mark.drmaa
def test_grid_engine_and_drmaa_answer():
    require(sge_available(), "Grid Engine not running (scripts/services/start-sge.sh)")
    queues = subprocess.run(["qconf", "-sql"], env=scheduler_env(), capture_output=True, text=True, timeout=10)
    assert "all.q" in queues.stdout
    require(drmaa_problem() is None, drmaa_problem() or "")
    from lwr.managers.util.drmaa import DrmaaSession
    with DrmaaSession() as session:
        assert "SGE" in session.drms_info


@pytest.mark.ssh
def test_sshd_answers():
    require(ssh_available(), "private sshd not running (scripts/services/start-sshd.sh)")
    result = subprocess.run(["ssh", "-F", ssh_config_path(), SSH_HOST, "echo", "ok"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert result.stdout == "ok\n"
