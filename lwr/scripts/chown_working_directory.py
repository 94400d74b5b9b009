"""Give a job's directory to the user who will run it (queued_external_drmaa; run as root via sudo).

``--job_id`` looks the directory up under ``staging_directory`` of ./server.ini and refuses
anything that is not directly inside it; ``--job_directory`` names it (non-production mode).
Ownership changes walk the tree with os.chown and never follow symlinks.
"""
import os
import pwd
import sys
from typing import Optional

from lwr.scripts._common import (DEFAULT_INI, DEFAULT_STAGING, ScriptError, argument_parser,
                                 read_app_option, run_main)

__all__ = ["main", "resolve_job_directory", "chown_tree"]


def _staging_directory(ini_path: str) -> str:
    staging = read_app_option(ini_path, "staging_directory", DEFAULT_STAGING)
    base = os.path.dirname(os.path.abspath(ini_path))
    return os.path.realpath(os.path.join(base, staging))


def resolve_job_directory(job_id: Optional[str], job_directory: Optional[str], ini_path: str) -> str:
    """The real path of the job directory; ScriptError unless it is inside the staging directory
    (checked on path components after resolving symlinks)."""
    if job_id is not None:
        if not job_id or job_id in (".", "..") or "/" in job_id or "\\" in job_id or "\0" in job_id:
            raise ScriptError("invalid job id %r" % job_id)
        staging = _staging_directory(ini_path)
        candidate = os.path.realpath(os.path.join(staging, job_id))
    else:
        if not job_directory or not os.path.isabs(job_directory):
            raise ScriptError("--job_directory must be an absolute path")
        candidate = os.path.realpath(job_directory)
        staging = _staging_directory(ini_path) if os.path.exists(ini_path) else None
    if staging is not None:
        inside = os.path.commonpath([staging, candidate]) == staging and candidate != staging
        if not inside:
            raise ScriptError("%s is not inside the staging directory %s" % (candidate, staging))
    if candidate == "/" or not os.path.isdir(candidate):
        raise ScriptError("job directory %s does not exist" % candidate)
    return candidate


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
    where.add_argument("--job_id", help="job id (directory under server.ini's staging_directory)")
    where.add_argument("--job_directory", help="absolute job directory (non-production)")
    parser.add_argument("--ini_path", default=DEFAULT_INI, help="server.ini to read (default ./server.ini)")
    args = parser.parse_args(argv)

    def run():
        try:
            user = pwd.getpwnam(args.user)
        except KeyError:
            raise ScriptError("no such user %r" % args.user) from None
        directory = resolve_job_directory(args.job_id, args.job_directory, args.ini_path)
        chown_tree(directory, user.pw_uid)

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
