"""Terminate a DRMAA job by external id (run as the submitting user via sudo -u USER).

LWR 0.2.0 passed the id string to json.load and so never killed anything; this terminates it.
An id the DRM no longer knows (already finished) is reported and is not an error.
"""
import sys

from lwr.managers.util.drmaa import DrmaaSession, DrmaaUnavailable
from lwr.scripts._common import ScriptError, argument_parser, run_main

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--external_id", required=True, help="the DRM's job id")
    args = parser.parse_args(argv)

    def run():
        try:
            with DrmaaSession() as session:
                if not session.kill(args.external_id):
                    print("job %s is not known to the DRM (already finished?)" % args.external_id, file=sys.stderr)
        except DrmaaUnavailable as exc:
            raise ScriptError(str(exc)) from None

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
