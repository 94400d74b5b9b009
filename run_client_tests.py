#!/usr/bin/env python3
"""Check an LWR server end to end: ``python run_client_tests.py --url=http://host:8913/ [options]``.

``--transfer_size 1G`` adds a file of that size sent up with the job and fetched back; file
transfers are shown with their rate and ETA on a terminal, or anywhere with ``--progress``.
``--help`` lists every option.
"""
import sys

from lwr.lwr_client.test.check import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
