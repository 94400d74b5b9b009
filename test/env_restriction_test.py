"""A server restricted by ``tool_config_files`` runs nothing but what the tool's validator allows:
not through ``env``, dependencies, scheduler parameters, setup parameters or staging actions.
Stock Galaxy's own env entries (job home / tmp directories, tool ``<environment_variable>``s read
from a staged ``tool_env_*`` file) are still accepted and rendered as Galaxy meant them."""
import json
import os
import time

import pytest

from lwr.managers.base.directory import JobDirectory
from lwr.tools.authorization import AuthorizationError, get_authorizer
from lwr.tools.restrictions import RestrictionPolicy

pytestmark = pytest.mark.server

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "toolbox")
TOOLBOX = os.path.join(FIXTURES, "envtool_toolbox.xml")
WRAPPER = os.path.join(FIXTURES, "tools", "envtool", "env_tool.sh")
TOOL_ENV = "tool_env_k3j_9x2a"
SITE_COMMAND = "SITE_FROM_COMMAND=1; export SITE_FROM_COMMAND"
NATIVE = "-l h_rt=60"


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    from test.support.server import LwrServer

    base = tmp_path_factory.mktemp("restricted")
    site_env = base / "site_env.sh"
    site_env.write_text("SITE_FROM_FILE=1; export SITE_FROM_FILE\n")
    server = LwrServer(base / "srv", app_conf={
        "tool_config_files": TOOLBOX,
        "allowed_env_files": str(site_env),
        "allowed_env_commands": SITE_COMMAND,
        "allowed_native_specifications": NATIVE,
    }).start()
    yield server, base
    server.stop()


class Job:
    """A set-up envtool job with its wrapper and tool_env file staged, as Galaxy stages them."""

    def __init__(self, server, base, job_id):
        self.server, self.job_id = server, job_id
        self.marker = str(base / ("ran-" + job_id))
        config = server.json("POST", "jobs", {"job_id": job_id, "tool_id": "envtool", "tool_version": "1.0"})
        self.directory = os.path.join(server.staging_directory, job_id)
        self.configs = config["configs_directory"]
        with open(WRAPPER, "rb") as handle:
            wrapper = server.json("POST", "jobs/%s/files" % job_id, {"name": "env_tool.sh", "type": "tool"},
                                  data=handle.read())["path"]
        contents = "hello $(touch %s) `touch %s`" % (self.marker, self.marker)
        server.json("POST", "jobs/%s/files" % job_id, {"name": TOOL_ENV, "type": "config"},
                    data=contents.encode())
        self.output = os.path.join(config["outputs_directory"], "out.txt")
        self.command_line = "sh %s %s" % (wrapper, self.output)

    def submit(self, **params):
        params.setdefault("command_line", self.command_line)
        for key, value in list(params.items()):
            if key != "command_line":
                params[key] = json.dumps(value)
        return self.server.request("POST", "jobs/%s/submit" % self.job_id, params)

    def status(self):
        return self.server.json("GET", "jobs/%s/status" % self.job_id)

    def wait(self, timeout=30):
        return self.server.wait_for_status(self.job_id, timeout=timeout)

    def tool_env_entry(self, name="TOOL_GREETING", path=None):
        """The dict Galaxy 26.1 sends for a tool ``<environment_variable>`` (tools/evaluation.py)."""
        path = path or "%s/%s" % (self.configs, TOOL_ENV)
        return {"name": name, "template": "hello $name", "inject": None, "strip": False,
                "value": '`cat "%s"`' % path, "raw": True, "job_directory_path": "/galaxy/jwd/" + TOOL_ENV}


def galaxy_destination_env(name, value):
    """A job_conf ``<env id=...>`` entry as Galaxy sends it: every key, nulls for unused ones."""
    return {"name": name, "value": value, "raw": False, "file": None, "execute": None}


def attacks(job, base):
    marker = job.marker
    script = base / "evil.sh"
    script.write_text("touch %s\n" % marker)
    configs_tool_env = "%s/%s" % (job.configs, TOOL_ENV)
    return {
        "execute": dict(env=[{"execute": "touch %s" % marker}]),
        "file": dict(env=[{"file": str(script)}]),
        "file in configs": dict(env=[{"file": configs_tool_env}]),
        "raw $()": dict(env=[{"name": "X", "value": "$(touch %s)" % marker, "raw": True}]),
        "raw backticks": dict(env=[{"name": "X", "value": "`touch %s`" % marker, "raw": True}]),
        "raw HOME plus command": dict(env=[{"name": "HOME", "value": '"$_GALAXY_JOB_HOME_DIR"; touch %s' % marker,
                                            "raw": True}]),
        "home value for another name": dict(env=[{"name": "BASH_ENV", "value": '"$_GALAXY_JOB_HOME_DIR"',
                                                  "raw": True}]),
        "tool env outside configs": dict(env=[job.tool_env_entry(path="/etc/passwd")]),
        "tool env other file": dict(env=[job.tool_env_entry(path="%s/evil.sh" % job.configs)]),
        "tool env dotdot": dict(env=[job.tool_env_entry(path="%s/../configs/%s" % (job.configs, TOOL_ENV))]),
        "tool env undeclared name": dict(env=[job.tool_env_entry(name="LD_PRELOAD")]),
        "tool env plus command": dict(env=[dict(job.tool_env_entry(), value='`cat "%s"`; touch %s'
                                                % (configs_tool_env, marker))]),
        "tool env quote break": dict(env=[dict(job.tool_env_entry(), value='`cat "%s"; touch %s; "x"`'
                                               % (configs_tool_env, marker))]),
        "name injection": dict(env=[{"name": "X=1; touch %s; Y" % marker, "value": "1"}]),
        "unknown key": dict(env=[{"name": "X", "value": "1", "shell": "touch %s" % marker}]),
        "undeclared requirement": dict(dependencies_description={
            "requirements": [{"name": "bwa", "type": "package", "version": "0.7"}],
            "installed_tool_dependencies": []}),
        "requirement name injection": dict(dependencies_description={
            "requirements": [{"name": "samtools; touch %s" % marker, "type": "package", "version": "1.9"}]}),
        "native specification": dict(params={"native_specification": "-v BASH_ENV=%s" % script}),
        "remote_copy setup": dict(remote_staging={"setup": [{"name": "x", "type": "input", "action": {
            "action_type": "remote_copy", "path": "/etc/passwd"}}]}),
        "remote_copy outputs": dict(remote_staging={"action_mapper": {"default_action": "remote_copy"}}),
        "file url": dict(remote_staging={"setup": [{"name": "x", "type": "input", "action": {
            "action_type": "remote_transfer", "path": "x", "url": "file:///etc/passwd"}}]}),
        "command line": dict(command_line="touch %s" % marker),
        "command line appended": dict(command_line=job.command_line + "; touch %s" % marker),
    }


ATTACK_NAMES = [
    "execute", "file", "file in configs", "raw $()", "raw backticks", "raw HOME plus command",
    "home value for another name", "tool env outside configs", "tool env other file", "tool env dotdot",
    "tool env undeclared name", "tool env plus command", "tool env quote break", "name injection", "unknown key",
    "undeclared requirement", "requirement name injection", "native specification",
    "remote_copy setup", "remote_copy outputs", "file url", "command line", "command line appended"]


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_attack_is_refused_and_nothing_runs(restricted, attack):
    server, base = restricted
    job = Job(server, base, "a-" + "".join(c if c.isalnum() else "-" for c in attack))
    code, body = job.submit(**attacks(job, base)[attack])
    assert code in (400, 403), (code, body)
    assert json.loads(body)["error"]
    assert not os.path.exists(os.path.join(job.directory, "launch_config"))
    # The same job, submitted properly afterwards, runs: the refusal stored nothing.
    assert job.submit() == (200, b"OK")
    assert job.wait()["status"] == "complete"
    assert not os.path.exists(job.marker)


@pytest.mark.parametrize("setup_params, env", [
    ({"tool_id": "envtool", "use_metadata": True, "extra": {"exec": "touch MARKER"}}, []),
    ({"tool_id": "envtool", "use_metadata": True}, [{"execute": "touch MARKER"}]),
])
def test_a_refused_submit_with_setup_inside_leaves_no_job(restricted, setup_params, env):
    server, base = restricted
    job_id = "setup-inside-%d" % len(env)
    marker = str(base / ("ran-" + job_id))
    command = "sh __PULSAR_JOB_DIRECTORY__/tool_files/env_tool.sh __PULSAR_JOB_DIRECTORY__/outputs/out.txt"
    setup_params = json.loads(json.dumps(dict(setup_params, job_id=job_id)).replace("MARKER", marker))
    env = json.loads(json.dumps(env).replace("MARKER", marker))
    code, body = server.request("POST", "jobs/%s/submit" % job_id, {
        "command_line": command, "setup_params": json.dumps(setup_params), "env": json.dumps(env)})
    assert code == 403, (code, body)
    assert not os.path.exists(os.path.join(server.staging_directory, job_id))
    assert not os.path.exists(marker)


def test_galaxy_env_shapes_are_accepted_and_rendered_as_galaxy_means(restricted):
    server, base = restricted
    job = Job(server, base, "galaxy-shapes")
    literal = "a $(touch %s) `touch %s` \"c\" 'd' $HOME" % (job.marker, job.marker)
    env = [
        galaxy_destination_env("LITERAL", literal),
        {"name": "HOME", "value": '"$_GALAXY_JOB_HOME_DIR"', "raw": True},
        {"name": "TMPDIR", "value": '"$_GALAXY_JOB_TMP_DIR"', "raw": True},
        job.tool_env_entry(),
        {"name": "CREDENTIAL", "value": "s3cr$t`x`"},  # Galaxy's vault credentials: plain name/value
        galaxy_destination_env(None, None) | {"execute": SITE_COMMAND},
    ]
    dependencies = {"requirements": [{"name": "samtools", "type": "package", "version": "1.9", "specs": []}],
                    "installed_tool_dependencies": []}
    assert job.submit(env=env, dependencies_description=dependencies, params={"native_specification": NATIVE}) == \
        (200, b"OK")
    status = job.wait()
    assert status["status"] == "complete", status
    assert not os.path.exists(job.marker)
    with open(job.output) as handle:
        written = handle.read().splitlines()
    assert written == ["TOOL_GREETING=hello $(touch %s) `touch %s`" % (job.marker, job.marker),
                       "LITERAL=" + literal, "CREDENTIAL=s3cr$t`x`"]
    with open(os.path.join(job.directory, "command.sh")) as handle:
        script = handle.read()
    assert 'HOME="$_GALAXY_JOB_HOME_DIR"; export HOME' in script
    assert 'TMPDIR="$_GALAXY_JOB_TMP_DIR"; export TMPDIR' in script
    assert "TOOL_GREETING=`cat %s/%s`; export TOOL_GREETING" % (job.configs, TOOL_ENV) in script
    assert SITE_COMMAND in script


def test_tool_env_file_must_be_staged_when_the_job_launches(restricted):
    server, base = restricted
    job = Job(server, base, "unstaged")
    os.unlink(os.path.join(job.configs, TOOL_ENV))
    os.symlink("/etc/hostname", os.path.join(job.configs, TOOL_ENV))
    assert job.submit(env=[job.tool_env_entry()]) == (200, b"OK")  # staging may still bring it
    status = job.wait()
    assert status["status"] == "failed" and "was not staged" in status["stderr"], status


def test_allow_lists_only_with_a_toolbox(tmp_path):
    from test.support.server import LwrServer

    server = LwrServer(tmp_path / "srv", app_conf={"allowed_env_commands": "module load x"})
    with pytest.raises(RuntimeError, match="allowed_env_commands only applies to a server restricted"):
        server.start(timeout=15)


# -- the same rules, in process ---------------------------------------------------------------------
@pytest.fixture
def authorization():
    return get_authorizer(TOOLBOX, RestrictionPolicy(env_files=["/site.sh"])).get_authorization("envtool")


def test_unrestricted_server_renders_env_as_0_2_0_did(tmp_path):
    job_directory = JobDirectory(str(tmp_path), "1")
    entries = [{"name": "X", "value": "$(id)"}, {"execute": "module load x"}]
    assert get_authorizer(None).get_authorization("any").authorize_env(job_directory, entries) == entries


@pytest.mark.parametrize("value", ["plain", "", "$(id)", "`id`", "it's", 'say "hi"', "multi\nline", 7, None])
def test_literal_values_are_single_quoted(authorization, tmp_path, value):
    import subprocess

    entry = authorization.authorize_env(JobDirectory(str(tmp_path), "1"), [{"name": "X", "value": value}])[0]
    assert entry["raw"] is True
    printed = subprocess.run(["sh", "-c", "X=%s; printf %%s \"$X\"" % entry["value"]], capture_output=True,
                             text=True, check=True).stdout
    assert printed == ("" if value is None else str(value))


def test_allowed_env_file_is_kept_others_refused(authorization, tmp_path):
    job_directory = JobDirectory(str(tmp_path), "1")
    assert authorization.authorize_env(job_directory, [{"file": "/site.sh", "raw": True}]) == [{"file": "/site.sh"}]
    with pytest.raises(AuthorizationError, match="allowed_env_files"):
        authorization.authorize_env(job_directory, [{"file": "/site.sh.other"}])


def test_message_queue_setup_with_a_refused_env_fails_without_running(tmp_path):
    from lwr.core import LwrApp
    from lwr.messaging.handlers import SetupHandler

    app = LwrApp(staging_directory=str(tmp_path / "staging"), persistence_directory=str(tmp_path / "persisted"),
                 tool_config_files=TOOLBOX).start()
    marker = tmp_path / "ran"
    failed = []
    try:
        handler = SetupHandler(app.managers["_default_"], lambda job_id, status, payload, route: failed.append(payload))
        job = os.path.join(str(tmp_path / "staging"), "m1")
        command_line = "sh %s/tool_files/env_tool.sh %s/outputs/out.txt" % (job, job)  # what the validator takes
        body = {"job_id": "m1", "command_line": command_line, "env": [{"execute": "touch %s" % marker}],
                "setup_params": {"job_id": "m1", "tool_id": "envtool", "tool_version": "1.0"}}
        assert handler.handle(json.dumps(body).encode()) == "rejected"
        assert [payload["status"] for payload in failed] == ["failed"]
        assert "allowed_env_commands" in failed[0]["stderr"]
        time.sleep(0.5)
        assert not marker.exists()
    finally:
        app.shutdown()
