"""A real LWR server in a real ``paster serve`` process, for tests."""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

from test.support.wait import eventually, wait_for_value

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASTER = os.path.join(os.path.dirname(sys.executable), "paster")

__all__ = ["LwrServer", "free_port", "REPO_ROOT"]


def free_port() -> int:
    """A loopback port free now; another process may take it before it is bound, so a server
    started on it must retry on a collision (as :meth:`LwrServer.start` does)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _PortTaken(Exception):
    pass


#: Set by test/conftest.py for the test being set up: whether it carries the ``server`` marker
#: (``None`` outside pytest).  A test that starts a server unmarked fails: ``-m "not server"``
#: must really leave out every test that runs ``paster serve``.
current_test_marked_server = None


class LwrServer:
    """Writes a ``server.ini`` into ``directory`` and runs ``paster serve`` on a free loopback port
    (one taken meanwhile by another process is replaced by another free one at start)."""

    START_ATTEMPTS = 5

    def __init__(self, directory, app_conf=None, job_managers_ini=None, ssl_pem=None,
                 server_use="egg:lwr#server", port=None, log_level="INFO",
                 app_factory="lwr.web.wsgi:app_factory", server_options=None):
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.port = port or free_port()
        self.port_chosen = port is None  # ours to change if another process takes it first
        self.ssl_pem = ssl_pem
        self.server_use = server_use
        self.log_level = log_level
        self.app_factory = app_factory
        self.server_options = dict(server_options or {})
        conf = {
            "staging_directory": os.path.join(self.directory, "staging"),
            "persistence_directory": os.path.join(self.directory, "persisted_data"),
            "tool_dependency_dir": os.path.join(self.directory, "dependencies"),
        }
        if job_managers_ini is not None:
            path = os.path.join(self.directory, "job_managers.ini")
            with open(path, "w") as handle:
                handle.write(job_managers_ini)
            conf["job_managers_config"] = path
        conf.update(app_conf or {})
        self.app_conf = conf
        self.private_key = conf.get("private_key")
        self.staging_directory = conf["staging_directory"]
        self.persistence_directory = conf["persistence_directory"]
        self.ini_path = os.path.join(self.directory, "server.ini")
        self.log_path = os.path.join(self.directory, "server.log")
        self.process = None
        self._write_ini()

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d/" % ("https" if self.ssl_pem else "http", self.port)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def _write_ini(self):
        lines = ["[server:main]", "use = %s" % self.server_use, "host = 127.0.0.1",
                 "port = %d" % self.port]
        if self.ssl_pem:
            lines.append("ssl_pem = %s" % self.ssl_pem)
        lines += ["%s = %s" % item for item in self.server_options.items()]
        lines += ["", "[app:main]", "paste.app_factory = %s" % self.app_factory]
        lines += ["%s = %s" % item for item in self.app_conf.items()]
        lines += ["", "[loggers]", "keys = root", "", "[handlers]", "keys = console", "",
                  "[formatters]", "keys = generic", "", "[logger_root]", "level = %s" % self.log_level,
                  "handlers = console", "", "[handler_console]", "class = StreamHandler",
                  "args = (sys.stderr,)", "level = NOTSET", "formatter = generic", "",
                  "[formatter_generic]", "format = %(asctime)s %(levelname)s [%(name)s] %(message)s", ""]
        with open(self.ini_path, "w") as handle:
            handle.write("\n".join(lines))

    def start(self, timeout: float = 30.0) -> "LwrServer":
        if current_test_marked_server is False:
            raise RuntimeError("this test starts a real LWR server: mark it @pytest.mark.server")
        for attempt in range(self.START_ATTEMPTS):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                if not self.port_chosen or attempt == self.START_ATTEMPTS - 1:
                    raise RuntimeError("port %d is taken:\n%s" % (self.port, self.log()))
                self.port = free_port()
                self._write_ini()

    def _start_once(self, timeout):
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([PASTER, "serve", self.ini_path], cwd=self.directory,
                                        stdout=log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        log.close()
        if not eventually(lambda: self._answers(offset), timeout, interval=0.1):
            self.stop()
            raise RuntimeError("LWR server did not answer within %ss:\n%s" % (timeout, self.log()))
        return self

    def _answers(self, log_offset) -> bool:
        """Whether this process serves the port (not another that took it before us)."""
        if self.process.poll() is not None:
            if "Address already in use" in self._log_since(log_offset):
                raise _PortTaken()
            raise RuntimeError("LWR server exited with %s:\n%s" % (self.process.returncode, self.log()))
        # LWR's own runner says so once it listens (Paste's buffers its stdout: not waited for)
        if self.server_use == "egg:lwr#server" and "serving on " not in self._log_since(log_offset):
            return False
        try:
            self.request("GET", "healthz")
            return True
        except (OSError, urllib.error.URLError):
            return False

    def _log_since(self, offset) -> str:
        with open(self.log_path, "r", errors="replace") as handle:
            handle.seek(offset)
            return handle.read()

    def log(self) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as handle:
                return handle.read()[-20000:]
        except OSError:
            return ""

    def request(self, method, path, params=None, data=None, headers=None, token=True, timeout=60):
        """One HTTP request; returns ``(status, body_bytes)`` (errors are statuses, not exceptions)."""
        import urllib.parse

        params = dict(params or {})
        if token and self.private_key and "private_key" not in params:
            params["private_key"] = self.private_key
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        context = ssl._create_unverified_context() if self.ssl_pem else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method, path, params=None, data=None, expect=200):
        code, body = self.request(method, path, params, data)
        assert code == expect, "%s %s -> %s %r" % (method, path, code, body[:500])
        return json.loads(body.decode("utf-8"))

    def status(self, job_id, manager=None) -> dict:
        """The job's status document (``manager``: a named manager's routes)."""
        prefix = "" if manager in (None, "_default_") else "managers/%s/" % manager
        return self.json("GET", prefix + "jobs/%s/status" % job_id)

    def wait_for_status(self, job_id, wanted=None, timeout=30.0, manager=None, interval=0.05) -> dict:
        """The job's status document once its ``status`` is in ``wanted`` (by default: once the
        document says ``complete``, i.e. the job ended and its outputs were collected)."""
        if wanted is None:
            def accept(current):
                return current["complete"] == "true"
        else:
            def accept(current):
                return current["status"] in wanted
        return wait_for_value(lambda: self.status(job_id, manager), accept, timeout,
                              lambda: "job %s to reach %s; server log:\n%s" % (job_id, wanted or "its end",
                                                                              self.log()[-4000:]), interval)

    def stop(self, timeout: float = 10.0):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        """SIGKILL the server process only (job processes run in their own sessions)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def settled_listing(directory, timeout: float = 15.0):
    """``os.listdir(directory)`` once the server's background deletions there have finished
    (``clean`` moves a job directory aside as ``.deleting-*`` and removes it in a thread)."""
    def settled(names):
        return not any(name.startswith(".deleting-") for name in names)
    return wait_for_value(lambda: os.listdir(directory), settled, timeout, "the deletions in %s" % directory,
                          interval=0.02)

