"""The OS edge of the local managers: spawn a job script, check a pid, kill a process tree.

Everything that forks, signals or inspects processes goes through :class:`ProcessOps`
so tests can swap in a recording fake that injects faults.
"""
import errno
import logging
import os
import signal
import subprocess
import time

import psutil

__all__ = ["ProcessOps", "ProcessHandle", "WaitInterrupted"]

log = logging.getLogger(__name__)


class ProcessHandle:
    """Identity of a job process that survives a server restart: pid plus start time."""

    def __init__(self, pid: int, create_time: float, popen=None):
        self.pid = pid
        self.create_time = create_time
        self.popen = popen

    def to_dict(self) -> dict:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_dict(cls, value) -> "ProcessHandle":
        if isinstance(value, dict):
            return cls(int(value["pid"]), float(value.get("create_time") or 0))
        # 0.2.0 stored the bare pid as a string.
        return cls(int(value), 0.0)


class WaitInterrupted(Exception):
    """The server is shutting down: the wait for the job's process stopped (not the process)."""


class ProcessOps:
    """Real process operations."""

    #: Attempts at starting a script the kernel reports busy (see :meth:`spawn`).
    SPAWN_ATTEMPTS = 5

    def spawn(self, script_path: str, cwd: str, stdout_path: str, stderr_path: str) -> ProcessHandle:
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            for attempt in range(1, self.SPAWN_ATTEMPTS + 1):
                try:
                    # Run through its #! line (the job script needs bash, as Pulsar's does).
                    popen = subprocess.Popen([script_path], cwd=cwd, stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, close_fds=True, start_new_session=True)
                    break
                except OSError as exc:
                    # ETXTBSY: while this thread wrote the script, another thread forked; its child
                    # holds the script open for writing until its own exec closes the descriptor.
                    if exc.errno != errno.ETXTBSY or attempt == self.SPAWN_ATTEMPTS:
                        raise
                    time.sleep(0.02 * attempt)
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = 0.0
        return ProcessHandle(popen.pid, create_time, popen)

    def wait(self, handle: ProcessHandle, poll_interval: float = 0.5, stopping=None):
        """Wait for the process to end; return its exit status when it is our child, else None.

        ``stopping`` (a ``threading.Event``): raise :class:`WaitInterrupted` once it is set, so
        the waiting thread can be joined at shutdown (the job itself keeps running)."""
        while True:
            if handle.popen is not None:
                try:
                    return handle.popen.wait(timeout=poll_interval)
                except subprocess.TimeoutExpired:
                    pass
            elif not self.is_alive(handle):
                return None
            elif stopping is None:
                time.sleep(poll_interval)
            else:
                stopping.wait(poll_interval)
            if stopping is not None and stopping.is_set():
                raise WaitInterrupted(handle.pid)

    def is_alive(self, handle: ProcessHandle) -> bool:
        """Alive and the same process (pid not reused); an unreaped zombie counts as dead."""
        try:
            process = psutil.Process(handle.pid)
            if handle.create_time and abs(process.create_time() - handle.create_time) > 0.01:
                return False
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def find_script_process(self, script_path: str):
        """A running process executing ``script_path`` (used when a pid was never recorded)."""
        for process in psutil.process_iter(["pid", "cmdline", "create_time", "status"]):
            try:
                cmdline = process.info["cmdline"] or []
                if script_path in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
                    return ProcessHandle(process.info["pid"], process.info["create_time"])
            except psutil.Error:
                continue
        return None

    def kill_tree(self, handle: ProcessHandle, grace: float = 1.0) -> None:
        """SIGTERM the job's process group and descendants, then SIGKILL what is left."""
        if not self.is_alive(handle):
            return
        try:
            parent = psutil.Process(handle.pid)
            processes = parent.children(recursive=True) + [parent]
        except psutil.Error:
            processes = []
        try:
            os.killpg(handle.pid, signal.SIGTERM)
        except OSError:
            pass
        for process in processes:
            try:
                process.terminate()
            except psutil.Error:
                pass
        _gone, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive:
            try:
                process.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(handle.pid, signal.SIGKILL)
        except OSError:
            pass
        if handle.popen is not None:
            handle.popen.wait()
