"""The C allocator is limited to a few arenas (memory flat with the jobs run; bench/many_jobs.py)."""
import ctypes.util
import platform

import pytest

from lwr.util.malloc import limit_malloc_arenas


def test_arenas_are_limited_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    is_glibc = platform.libc_ver()[0] == "glibc" and ctypes.util.find_library("c") is not None
    assert limit_malloc_arenas() is is_glibc


def test_an_administrators_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.parametrize("count", [1, 2, 8])
def test_counts_are_accepted(monkeypatch, count):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas(count) is (platform.libc_ver()[0] == "glibc")
