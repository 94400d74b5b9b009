"""Sanity checks a user runs against an LWR server (``run_client_tests.py``)."""
