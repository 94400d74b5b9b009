"""Stand-ins for HTCondor's ``condor_submit`` and ``condor_rm`` (HTCondor's daemons are not
packaged for Debian bookworm nor on PyPI).

They really run the job: ``condor_submit`` starts the executable in the background with the
submit file's output/error, and writes the user log in HTCondor's format -- 000 submit,
001 execute, 005 terminated with the return value; ``condor_rm`` kills the job and writes
009 aborted.  State lives in ``$LWR_CONDOR_STANDIN_DIR`` (default /var/tmp/lwr-condor-standin).

``periodic_remove`` (the usual HTCondor walltime policy, e.g. ``(JobStatus == 2) &&
(time() - JobCurrentStartDate) > 3600``) is honoured while the job runs: the expression (the
subset of :mod:`_classad`) is evaluated every ``$LWR_CONDOR_STANDIN_PERIODIC_INTERVAL`` seconds
(default 1; a real schedd's PERIODIC_EXPR_INTERVAL is 60), and once true the job is killed and
009 is written with the reason the schedd gives: "The job attribute PeriodicRemove expression
'<expr>' evaluated to TRUE".  An expression outside that subset is refused at submission.
"""
import fcntl
import hashlib
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _classad import ExpressionError, compile_expression, evaluate  # noqa: E402

STATE_DIR = os.environ.get("LWR_CONDOR_STANDIN_DIR", "/var/tmp/lwr-condor-standin")
PERIODIC_INTERVAL = float(os.environ.get("LWR_CONDOR_STANDIN_PERIODIC_INTERVAL", "1"))
SCHEDD = "<127.0.0.1:9618?addrs=127.0.0.1-9618&alias=%s&noUDP&sock=schedd_standin>" % socket.gethostname()


def _event(code: int, cluster: int, text: str, body=()) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    lines = ["%03d (%03d.000.000) %s %s" % (code, cluster, stamp, text)]
    lines += ["\t" + b for b in body]
    return "\n".join(lines) + "\n...\n"


class _Locked:
    """An exclusive flock on ``path`` (created if missing)."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self.fd

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _append_event(log_path, code, cluster, text, body=()):
    if not log_path:
        return
    # the lock lives in STATE_DIR so the job directory holds only what HTCondor would write
    os.makedirs(STATE_DIR, exist_ok=True)
    lock = os.path.join(STATE_DIR, "log-%s.lock" % hashlib.sha1(log_path.encode()).hexdigest()[:16])
    with _Locked(lock):
        with open(log_path, "a") as log:
            log.write(_event(code, cluster, text, body))


def _job_file(cluster):
    return os.path.join(STATE_DIR, "%d.json" % cluster)


def _parse_submit(path):
    params = {}
    queued = False
    with open(path) as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower().startswith("queue"):
                queued = True
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise SystemExit("ERROR: Parse error in submit file %s: %r" % (path, line))
            params[key.strip().lower()] = value.strip()
    if not queued:
        raise SystemExit("ERROR: no 'queue' statement in %s" % path)
    if "executable" not in params:
        raise SystemExit("ERROR: No 'executable' parameter was provided")
    return params


def submit(argv):
    if len(argv) != 1:
        print("Usage: condor_submit <submit file>", file=sys.stderr)
        return 1
    submit_file = os.path.abspath(argv[0])
    params = _parse_submit(submit_file)
    base = os.getcwd()

    def resolve(key):
        value = params.get(key)
        return os.path.join(base, value) if value and not os.path.isabs(value) else value

    executable = resolve("executable")
    if not os.access(executable, os.X_OK):
        print("ERROR: Executable file %s does not exist or is not executable" % executable, file=sys.stderr)
        return 1
    periodic_remove = params.get("periodic_remove")
    if periodic_remove:
        try:
            compile_expression(periodic_remove)
        except ExpressionError as exc:
            print("ERROR: periodic_remove: %s (condor stand-in)" % exc, file=sys.stderr)
            return 1
    os.makedirs(STATE_DIR, exist_ok=True)
    with _Locked(os.path.join(STATE_DIR, "counter")) as fd:
        previous = os.read(fd, 32).decode() or "0"
        cluster = int(previous) + 1
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(cluster).encode())
    job = {"cluster": cluster, "executable": executable, "output": resolve("output") or os.devnull,
           "error": resolve("error") or os.devnull, "log": resolve("log"), "cwd": resolve("initialdir") or base,
           "getenv": params.get("getenv", "false").lower() in ("true", "1", "yes"),
           "periodic_remove": periodic_remove, "qdate": int(time.time())}
    with open(_job_file(cluster), "w") as handle:
        json.dump(job, handle)
    _append_event(job["log"], 0, cluster, "Job submitted from host: %s" % SCHEDD)
    runner = subprocess.Popen([sys.executable, os.path.abspath(__file__), "run", str(cluster)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, close_fds=True)
    job["runner_pid"] = runner.pid
    with open(_job_file(cluster), "w") as handle:
        json.dump(job, handle)
    print("Submitting job(s).")
    print("1 job(s) submitted to cluster %d." % cluster)
    return 0


def run(cluster):
    """Runner: starts the job in its own session, watches ``periodic_remove``, logs the end."""
    with open(_job_file(cluster)) as handle:
        job = json.load(handle)
    time.sleep(0.5)  # a visible "idle" phase, like a real schedd's negotiation cycle
    env = dict(os.environ) if job["getenv"] else {"PATH": "/usr/bin:/bin"}
    with open(job["output"], "ab") as out, open(job["error"], "ab") as err:
        # started and recorded under the job's lock, so condor_rm always finds the job to kill
        with _Locked(_job_file(cluster) + ".lock"):
            if os.path.exists(_job_file(cluster) + ".removed"):
                return 0
            _append_event(job["log"], 1, cluster, "Job executing on host: %s" % SCHEDD.replace("schedd", "startd"))
            started = int(time.time())
            child = subprocess.Popen([job["executable"]], cwd=job["cwd"], stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            with open(_job_file(cluster) + ".pgid", "w") as handle:
                handle.write(str(child.pid))
    policy = compile_expression(job["periodic_remove"]) if job.get("periodic_remove") else None
    attributes = {"JobStatus": 2, "JobCurrentStartDate": started, "EnteredCurrentStatus": started,
                  "QDate": job.get("qdate", started), "ClusterId": cluster, "ProcId": 0}
    while True:
        try:
            rc = child.wait(timeout=PERIODIC_INTERVAL if policy is not None else None)
            break
        except subprocess.TimeoutExpired:
            if evaluate(policy, time.time(), attributes):
                _remove_by_policy(job, cluster, child)
                return 0
    with _Locked(_job_file(cluster) + ".lock"):
        if os.path.exists(_job_file(cluster) + ".removed"):
            return 0
        if rc >= 0:
            body = ["(1) Normal termination (return value %d)" % rc]
        else:
            body = ["(0) Abnormal termination (signal %d)" % -rc, "(0) No core file"]
        usage = "Usr 0 00:00:00, Sys 0 00:00:00"
        body += ["\t%s  -  Run Remote Usage" % usage, "\t%s  -  Run Local Usage" % usage,
                 "\t%s  -  Total Remote Usage" % usage, "\t%s  -  Total Local Usage" % usage,
                 "0  -  Run Bytes Sent By Job", "0  -  Run Bytes Received By Job",
                 "0  -  Total Bytes Sent By Job", "0  -  Total Bytes Received By Job"]
        _append_event(job["log"], 5, cluster, "Job terminated.", body)
        open(_job_file(cluster) + ".done", "w").close()
    return 0


def _remove_by_policy(job, cluster, child):
    """What the schedd does when periodic_remove becomes true: kill the job, log 009."""
    with _Locked(_job_file(cluster) + ".lock"):
        if os.path.exists(_job_file(cluster) + ".removed") or os.path.exists(_job_file(cluster) + ".done"):
            return
        open(_job_file(cluster) + ".removed", "w").close()
        _kill_group(child.pid)
        child.wait()
        _append_event(job["log"], 9, cluster, "Job was aborted.",
                      ["The job attribute PeriodicRemove expression '%s' evaluated to TRUE" % job["periodic_remove"]])


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def remove(argv):
    if len(argv) != 1 or not argv[0].split(".")[0].isdigit():
        print("Usage: condor_rm <cluster>", file=sys.stderr)
        return 1
    cluster = int(argv[0].split(".")[0])
    path = _job_file(cluster)
    if not os.path.exists(path):
        print("Couldn't find/remove all jobs in cluster %d" % cluster, file=sys.stderr)
        return 1
    with _Locked(path + ".lock"):
        if os.path.exists(path + ".done") or os.path.exists(path + ".removed"):
            print("Couldn't find/remove all jobs in cluster %d" % cluster, file=sys.stderr)
            return 1
        open(path + ".removed", "w").close()
        with open(path) as handle:
            job = json.load(handle)
        if "runner_pid" in job:
            _kill_group(job["runner_pid"])
        try:
            with open(path + ".pgid") as handle:
                _kill_group(int(handle.read()))  # the job runs in its own session
        except FileNotFoundError:
            pass  # not started yet: the runner sees ".removed" and never starts it
        user = pwd.getpwuid(os.getuid()).pw_name
        _append_event(job["log"], 9, cluster, "Job was aborted.", ["via condor_rm (by user %s)" % user])
    print("All jobs in cluster %d have been marked for removal" % cluster)
    return 0


def main(command, argv):
    if command == "run":
        return run(int(argv[0]))
    if command == "condor_submit":
        return submit(argv)
    if command == "condor_rm":
        return remove(argv)
    raise SystemExit("unknown command %s" % command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
