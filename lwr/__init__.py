"""LWR: the Lightweight Runner for Galaxy (Python 3 reimplementation of LWR 0.2.0)."""

__version__ = "0.2.0.post1"
