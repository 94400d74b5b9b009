"""ProcessOps.spawn starts a job script again when the kernel reports it busy (ETXTBSY)."""
import errno
import subprocess

from lwr.managers.util.process import ProcessOps


def test_a_script_busy_because_of_another_threads_fork_is_started_again(tmp_path, monkeypatch):
    """Concurrent launches (bench/metrics.py, num_concurrent_jobs = *) raced into ETXTBSY:
    a fork in one thread holds another thread's fresh job script open until its exec."""
    script = tmp_path / "command.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    real_popen, calls = subprocess.Popen, []

    def busy_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OSError(errno.ETXTBSY, "Text file busy")
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", busy_once)
    ops = ProcessOps()
    handle = ops.spawn(str(script), str(tmp_path), str(tmp_path / "out"), str(tmp_path / "err"))
    assert len(calls) == 2 and ops.wait(handle) == 0
