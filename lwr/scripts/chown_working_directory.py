"""Give a job's directory to the user who will run it (queued_external_drmaa; run as root via sudo).

The server names its staging directory (``--staging_directory``; without it, ``staging_directory``
of ``--ini_path``, default ./server.ini) and the job, by id (``--job_id``) or by absolute path
(``--job_directory``); anything that does not resolve to a directory inside the staging
directory is refused, and so is a staging directory not owned by the user who called sudo.
Ownership changes walk the tree with os.chown and never follow symlinks.
"""
import os
import pwd
import sys
from typing import Optional

from lwr.scripts._common import (DEFAULT_INI, DEFAULT_STAGING, ScriptError, argument_parser,
                                 read_app_option, run_main)

__all__ = ["main", "resolve_job_directory", "check_staging_directory", "chown_tree"]


def _staging_from_ini(ini_path: str) -> str:
    staging = read_app_option(ini_path, "staging_directory", DEFAULT_STAGING)
    base = os.path.dirname(os.path.abspath(ini_path))
    return os.path.join(base, staging)


def check_staging_directory(path: str, owner_uid: int) -> str:
    """The real path of the staging directory; ScriptError unless it is an absolute, existing
    directory owned by ``owner_uid`` (the caller may only hand out directories of its own)."""
    if not path or not os.path.isabs(path):
        raise ScriptError("the staging directory must be an absolute path, not %r" % path)
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError as exc:
        raise ScriptError("staging directory %s: %s" % (path, exc.strerror)) from None
    if not os.path.isdir(real) or real == "/":
        raise ScriptError("staging directory %s is not a directory" % path)
    if info.st_uid != owner_uid:
        raise ScriptError("staging directory %s is not owned by the calling user (uid %d)" % (path, owner_uid))
    return real


def resolve_job_directory(job_id: Optional[str], job_directory: Optional[str], staging: str) -> str:
    """The real path of the job directory; ScriptError unless it is inside ``staging`` (a checked
    real path), compared on path components after resolving symlinks."""
    if job_id is not None:
        if not job_id or job_id in (".", "..") or "/" in job_id or "\\" in job_id or "\0" in job_id:
            raise ScriptError("invalid job id %r" % job_id)
        candidate = os.path.realpath(os.path.join(staging, job_id))
    else:
        if not job_directory or not os.path.isabs(job_directory):
            raise ScriptError("--job_directory must be an absolute path")
        candidate = os.path.realpath(job_directory)
    inside = os.path.commonpath([staging, candidate]) == staging and candidate != staging
    if not inside:
        raise ScriptError("%s is not inside the staging directory %s" % (candidate, staging))
    if not os.path.isdir(candidate):
        raise ScriptError("job directory %s does not exist" % candidate)
    return candidate


def calling_uid() -> int:
    """The user who ran sudo (sudo sets SUDO_UID itself), else our own."""
    try:
        return int(os.environ["SUDO_UID"])
    except (KeyError, ValueError):
        return os.getuid()


def chown_tree(path: str, uid: int, gid: int = -1) -> int:
    """chown -R without following symlinks; returns the number of entries changed."""
    count = 0
    os.chown(path, uid, gid, follow_symlinks=False)
    count += 1
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
            count += 1
    return count


def main(argv=None) -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="user name to own the job directory")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--job_id", help="job id (a directory directly under the staging directory)")
    where.add_argument("--job_directory", help="absolute path of the job directory")
    parser.add_argument("--staging_directory",
                        help="the server's staging directory (absolute); default: read from --ini_path")
    parser.add_argument("--ini_path", default=DEFAULT_INI,
                        help="server.ini to read the staging directory from when --staging_directory is not "
                             "given (default ./server.ini)")
    args = parser.parse_args(argv)

    def run():
        try:
            user = pwd.getpwnam(args.user)
        except KeyError:
            raise ScriptError("no such user %r" % args.user) from None
        staging = args.staging_directory or os.path.abspath(_staging_from_ini(args.ini_path))
        staging = check_staging_directory(staging, calling_uid())
        directory = resolve_job_directory(args.job_id, args.job_directory, staging)
        chown_tree(directory, user.pw_uid)

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
