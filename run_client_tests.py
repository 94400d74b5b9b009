#!/usr/bin/env python3
"""Check an LWR server end to end: ``python run_client_tests.py --url=http://host:8913/ [options]``."""
import sys

from lwr.lwr_client.test.check import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
