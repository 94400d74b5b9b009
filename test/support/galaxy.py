"""A real Galaxy 26 (installed from PyPI into a cached venv) routing test tools to a real LWR server.

``scripts/services/install-galaxy.sh`` builds the venv once (~1.5 min, 1.1 GB) under
``~/.cache/lwr-test-galaxy/<version key>``; :class:`GalaxyServer` writes ``galaxy.yml``,
``job_conf.yml`` and ``tool_conf.xml`` for the tools in ``test/fixtures/galaxy`` and runs
``galaxy-web`` with this checkout on ``PYTHONPATH`` so Galaxy loads
``lwr.galaxy.runner:LwrJobRunner``.  :class:`GalaxyApi` is a small client of Galaxy's API.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import requests

from test.support.server import REPO_ROOT, free_port
from test.support.services import require
from test.support.wait import eventually, wait_for_value

__all__ = ["galaxy_enabled", "install_galaxy", "galaxy_venv", "running", "reversed_lines", "GalaxyServer",
           "GalaxyApi", "FIXTURES", "ENABLE_HINT", "PULSAR_MQ_RUNNER", "SAMPLE_TEXT"]

FIXTURES = os.path.join(REPO_ROOT, "test", "fixtures", "galaxy")
INSTALL_SCRIPT = os.path.join(REPO_ROOT, "scripts", "services", "install-galaxy.sh")
ENABLE_HINT = "Galaxy tests install Galaxy 26 (~1.1 GB): set LWR_TEST_GALAXY=1 to run them"
ADMIN_KEY = "lwr-test-bootstrap-admin-key-0123456789"
TERMINAL_JOB_STATES = ("ok", "error", "deleted", "deleting", "failed", "stopped", "skipped")
#: Galaxy's own message-queue runner (``load`` of a ``runners`` entry).
PULSAR_MQ_RUNNER = "galaxy.jobs.runners.pulsar:PulsarMQJobRunner"
#: The text dataset of the ``text_dataset`` fixture (test/conftest.py): tabs, non-ASCII, three lines.
SAMPLE_TEXT = "first line\nsecond line ünïcode\n\tthird line with tab\n"


def galaxy_enabled() -> bool:
    flags = (os.environ.get("LWR_TEST_GALAXY", ""), os.environ.get("LWR_TEST_REQUIRE_SERVICES", ""))
    return any(flag not in ("", "0", "false", "no") for flag in flags)


def install_galaxy() -> str:
    """The cached Galaxy venv (installed now if missing)."""
    result = subprocess.run(["bash", INSTALL_SCRIPT], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError("install-galaxy.sh failed:\n%s" % result.stderr[-5000:])
    return result.stdout.strip().splitlines()[-1]


def galaxy_venv() -> str:
    """The cached Galaxy venv (installed now if missing); skips the calling fixture unless Galaxy
    tests are enabled (fails instead under ``LWR_TEST_REQUIRE_SERVICES``)."""
    require(galaxy_enabled(), ENABLE_HINT)
    return install_galaxy()


@contextlib.contextmanager
def running(galaxy, user="lwrtester"):
    """Start ``galaxy`` and yield a :class:`GalaxyApi` of a new user, whose ``admin`` attribute is
    the admin's (job details such as ``external_id`` need an admin); stop Galaxy at the end."""
    try:
        galaxy.start()
        admin = GalaxyApi(galaxy.url)
        api = admin.as_new_user(user)
        api.admin = admin
        yield api
    finally:
        galaxy.stop()


def reversed_lines(text) -> bytes:
    """What the reverse tools write for ``text`` (str or UTF-8 bytes): its lines in reverse order."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return "".join(reversed(text.splitlines(keepends=True))).encode("utf-8")


class GalaxyServer:
    """One Galaxy site directory; ``start``/``stop`` may be repeated (the database persists)."""

    def __init__(self, venv, site, environments, tool_environments, port=None, runner_params=None,
                 galaxy_options=None, runners=None, tool_copies=None):
        """``runner_params``: extra plugin-level parameters of the ``lwr`` runner (e.g. an AMQP ``url``);
        ``galaxy_options``: galaxy.yml settings overriding the defaults below; ``runners``: more
        runner plugins, name -> plugin dict (e.g. ``{"pulsar_rest": {"load":
        "galaxy.jobs.runners.pulsar:PulsarRESTJobRunner", "workers": 4}}``; every key must be one
        Galaxy declares for that plugin); ``tool_copies``: new tool id -> fixture file, so one
        tool can be routed to several environments."""
        self.galaxy_options = dict(galaxy_options or {})
        self.runners = dict(runners or {})
        self.tool_copies = dict(tool_copies or {})
        self.venv = venv
        self.site = str(site)
        self.port = port or free_port()
        self.process = None
        self.log_path = os.path.join(self.site, "galaxy.log")
        os.makedirs(os.path.join(self.site, "data"), exist_ok=True)
        self._write_config(environments, tool_environments, runner_params or {})

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def _write_config(self, environments, tool_environments, runner_params):
        site = self.site
        site_packages = [os.path.join(self.venv, "lib", name, "site-packages")
                         for name in os.listdir(os.path.join(self.venv, "lib")) if name.startswith("python")][0]
        upload = os.path.join(site_packages, "galaxy", "tools", "bundled", "data_source", "upload.xml")
        tools = sorted(name for name in os.listdir(FIXTURES) if name.endswith(".xml"))
        lines = ['<?xml version="1.0"?>', "<toolbox>", '  <section id="test" name="Test">',
                 '    <tool file="%s"/>' % upload]
        lines += ['    <tool file="%s"/>' % os.path.join(FIXTURES, name) for name in tools]
        lines += ['    <tool file="%s"/>' % path for path in self._write_tool_copies()]
        lines += ["  </section>", "</toolbox>", ""]
        with open(os.path.join(site, "tool_conf.xml"), "w") as handle:
            handle.write("\n".join(lines))
        with open(os.path.join(site, "empty_tool_data_table_conf.xml"), "w") as handle:
            handle.write('<?xml version="1.0"?>\n<tables>\n</tables>\n')
        galaxy = {
            "data_dir": os.path.join(site, "data"),
            "database_connection": "sqlite:///%s/data/universe.sqlite?isolation_level=IMMEDIATE" % site,
            "tool_config_file": os.path.join(site, "tool_conf.xml"),
            "job_config_file": os.path.join(site, "job_conf.yml"),
            "bootstrap_admin_api_key": ADMIN_KEY,
            "admin_users": "admin@example.org",
            "conda_auto_init": False,
            "conda_auto_install": False,
            "dependency_resolvers": [],
            "use_tasked_jobs": False,
            "enable_celery_tasks": False,
            "allow_user_creation": True,
            "require_login": False,
            "database_auto_migrate": True,
            "tool_data_table_config_path": os.path.join(site, "empty_tool_data_table_conf.xml"),
            "galaxy_infrastructure_url": self.url,
            "cleanup_job": "onsuccess",
            "job_runner_monitor_sleep": 0.5,
        }
        galaxy.update(self.galaxy_options)
        with open(os.path.join(site, "galaxy.yml"), "w") as handle:
            json.dump({"gravity": {"process_manager": None}, "galaxy": galaxy}, handle, indent=1)
        job_conf = {
            "runners": dict({
                "local": {"load": "galaxy.jobs.runners.local:LocalJobRunner", "workers": 2},
                "lwr": dict({"load": "lwr.galaxy.runner:LwrJobRunner", "workers": 2}, **runner_params),
            }, **self.runners),
            "execution": {"default": "local_env",
                          "environments": dict({"local_env": {"runner": "local"}}, **environments)},
            "tools": [{"id": tool_id, "environment": env} for tool_id, env in tool_environments.items()],
        }
        with open(os.path.join(site, "job_conf.yml"), "w") as handle:
            json.dump(job_conf, handle, indent=1)  # JSON is YAML

    def _write_tool_copies(self):
        """Each copy is the fixture with another id, beside copies of the fixtures' helper files."""
        if not self.tool_copies:
            return []
        directory = os.path.join(self.site, "tool_copies")
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(FIXTURES):
            if not name.endswith(".xml") and os.path.isfile(os.path.join(FIXTURES, name)):
                shutil.copyfile(os.path.join(FIXTURES, name), os.path.join(directory, name))
        paths = []
        for tool_id, fixture in sorted(self.tool_copies.items()):
            with open(os.path.join(FIXTURES, fixture)) as handle:
                text = handle.read()
            original = re.search(r'<tool id="([^"]+)"', text).group(1)
            path = os.path.join(directory, tool_id + ".xml")
            with open(path, "w") as handle:
                handle.write(text.replace('<tool id="%s"' % original, '<tool id="%s"' % tool_id, 1))
            paths.append(path)
        return paths

    def start(self, timeout: float = 240.0) -> "GalaxyServer":
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT
        env.pop("VIRTUAL_ENV", None)
        env["PATH"] = os.path.join(self.venv, "bin") + os.pathsep + env.get("PATH", "")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [os.path.join(self.venv, "bin", "galaxy-web"), "-c", os.path.join(self.site, "galaxy.yml"),
             "-b", "127.0.0.1:%d" % self.port],
            cwd=self.site, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        if not eventually(self._answers, timeout, interval=0.5):
            self.stop()
            raise RuntimeError("Galaxy did not answer within %ss:\n%s" % (timeout, self.log()))
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("galaxy-web exited with %s:\n%s" % (self.process.returncode, self.log()))
        try:
            return requests.get(self.url + "/api/version", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, timeout: float = 60.0):
        """SIGTERM the whole process group (Galaxy and any job it runs locally), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self, tail: int = 30000) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()[-tail:]
        except OSError:
            return ""

    def log_offset(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        with open(self.log_path, errors="replace") as handle:
            handle.seek(offset)
            return handle.read()


class GalaxyApi:
    """Just enough of Galaxy's API: a user, a history, uploads, tool runs, job states, downloads."""

    def __init__(self, url, key=ADMIN_KEY):
        self.url = url.rstrip("/")
        self.key = key

    def _call(self, method, path, expect=200, **kwargs):
        response = requests.request(method, self.url + "/api/" + path, headers={"x-api-key": self.key},
                                    timeout=60, **kwargs)
        assert response.status_code == expect, "%s %s -> %s %s" % (method, path, response.status_code,
                                                                    response.text[:2000])
        return response

    def get(self, path, **kwargs):
        return self._call("GET", path, **kwargs).json()

    def post(self, path, payload):
        return self._call("POST", path, json=payload).json()

    def as_new_user(self, name="lwrtester") -> "GalaxyApi":
        user = self.post("users", {"username": name, "email": "%s@example.org" % name,
                                   "password": "not-a-secret-1234"})
        key = self._call("POST", "users/%s/api_key" % user["id"]).json()
        return GalaxyApi(self.url, key)

    def new_history(self, name="lwr") -> str:
        return self.post("histories", {"name": name})["id"]

    def run_tool(self, history_id, tool_id, inputs=None) -> dict:
        """``{"job": id, "outputs": [dataset ids], "collections": {output name: collection id}}``."""
        response = self.post("tools", {"history_id": history_id, "tool_id": tool_id, "inputs": inputs or {}})
        return {"job": response["jobs"][0]["id"], "outputs": [output["id"] for output in response["outputs"]],
                "collections": {collection["output_name"]: collection["id"]
                                for collection in response.get("output_collections") or []}}

    def collection_elements(self, collection_id) -> dict:
        """``{element identifier: dataset id}`` of a (flat) history dataset collection."""
        collection = self.get("dataset_collections/%s" % collection_id, params={"instance_type": "history"})
        return {element["element_identifier"]: element["object"]["id"] for element in collection["elements"]}

    def upload_text(self, history_id, text, ext="txt") -> str:
        return self.finish_upload(self.start_upload(history_id, text, ext))

    def start_upload(self, history_id, text, ext="txt") -> dict:
        """The upload's tool run (several may run at once; :meth:`finish_upload` waits for one)."""
        return self.run_tool(history_id, "upload1", {"files_0|url_paste": text, "files_0|type": "upload_dataset",
                                                     "file_type": ext, "dbkey": "?", "files_0|to_posix_lines": False,
                                                     "files_0|space_to_tab": False})

    def finish_upload(self, run) -> str:
        # upload1 runs Galaxy's own Python locally (several seconds of imports); two at once on a
        # loaded 2-core machine have taken over 120 s, so give them the tools' budget.
        job = self.wait_for_job(run["job"], timeout=400)
        assert job["state"] == "ok", job
        return run["outputs"][0]

    def job(self, job_id) -> dict:
        return self.get("jobs/%s" % job_id, params={"full": "true"})

    def wait_for_job(self, job_id, timeout=120, states=TERMINAL_JOB_STATES) -> dict:
        return wait_for_value(lambda: self.job(job_id), lambda job: job["state"] in states, timeout,
                              "Galaxy job %s to reach %s" % (job_id, states), interval=0.5)

    def dataset(self, dataset_id) -> dict:
        return self.get("datasets/%s" % dataset_id)

    def download(self, dataset_id) -> bytes:
        return self._call("GET", "datasets/%s/display" % dataset_id, params={"preview": "false"}).content

    def delete_job(self, job_id):
        return self._call("DELETE", "jobs/%s" % job_id)
