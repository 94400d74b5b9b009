"""LWR: the Lightweight Runner for Galaxy (Python 3 reimplementation of LWR 0.2.0)."""

__version__ = "0.2.0.post1"

#: The Pulsar protocol level LWR speaks to current clients (``pulsar_version`` in the setup answer
#: and every final status).  0.15.13 is the newest level any Galaxy 26 gate asks for
#: (``dataset_collector_descriptions``); docs/galaxy.rst lists what it covers.
PULSAR_VERSION = "0.15.13"
