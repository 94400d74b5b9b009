"""DRMAA for the ``queued_drmaa`` / ``queued_external_drmaa`` managers and ``lwr.scripts.drmaa_*``.

The python ``drmaa`` package raises at *import* time when its C library cannot be loaded, so it
is imported only when a DRMAA manager is configured (:func:`load_drmaa`), and every way that can
fail becomes a :class:`DrmaaUnavailable` saying what to fix.
"""
from .loader import DrmaaUnavailable, load_drmaa
from .session import DRMAA_STATES, DrmaaSession, TEMPLATE_ATTRIBUTES

__all__ = ["DrmaaUnavailable", "load_drmaa", "DrmaaSession", "DRMAA_STATES", "TEMPLATE_ATTRIBUTES"]
