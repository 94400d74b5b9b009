"""Submit a DRMAA job from a JSON file of job template attributes; print its external id.

Run as the submitting user by the queued_external_drmaa manager (sudo -u USER).
"""
import json
import sys

from lwr.managers.util.drmaa import DrmaaSession, DrmaaUnavailable
from lwr.scripts._common import ScriptError, argument_parser, run_main

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--job_attributes", required=True,
                        help="JSON file: {remoteCommand, jobName, outputPath, errorPath, nativeSpecification, ...}")
    args = parser.parse_args(argv)

    def run():
        try:
            with open(args.job_attributes, "r", encoding="utf-8") as handle:
                attributes = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ScriptError("cannot read job attributes %s: %s" % (args.job_attributes, exc)) from None
        if not isinstance(attributes, dict):
            raise ScriptError("%s must hold a JSON object" % args.job_attributes)
        try:
            with DrmaaSession() as session:
                external_id = session.run_job(**attributes)
        except (DrmaaUnavailable, ValueError) as exc:
            raise ScriptError(str(exc)) from None
        print(external_id)

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
