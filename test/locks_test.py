"""Per-path locks: one lock per path while it is in use, none kept for paths no one uses."""
import gc
import threading

from lwr.locks import LockManager


def test_same_path_same_lock_while_held_and_reentrant():
    locks = LockManager()
    with locks.get_lock("/a/status") as _:
        first = locks.get_lock("/a/status")
        with first:  # re-entrant in the same thread
            assert locks.get_lock("/a/status") is first
        assert locks.get_lock("/b/status") is not first


def test_unused_locks_are_not_kept():
    locks = LockManager()
    for index in range(1000):
        with locks.get_lock("/job%d/status" % index):
            pass
    gc.collect()
    assert len(locks) == 0


def test_a_waiter_gets_the_lock_the_holder_has():
    locks = LockManager()
    inside, order = threading.Event(), []

    def holder():
        with locks.get_lock("/j/status"):
            inside.set()
            order.append("holder in")
            threading.Event().wait(0.2)
            order.append("holder out")

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    with locks.get_lock("/j/status"):
        order.append("waiter in")
    thread.join()
    assert order == ["holder in", "holder out", "waiter in"]
