"""A long-running process leaves what it holds once started out of the garbage collector's
passes (config/startup.py)."""
from __future__ import annotations

import gc
import weakref

import pytest
from celery.signals import worker_process_init, worker_ready

from config.startup import freeze_startup_objects


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_what_is_held_is_frozen_and_the_garbage_of_starting_is_collected_first(unfrozen):
    held = [{"kept": True}]
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle only the collector frees
    gone = weakref.ref(a)
    del a, b

    frozen = freeze_startup_objects()

    assert gone() is None  # collected, not frozen for good
    assert frozen == gc.get_freeze_count() > 0
    assert not any(obj is held for obj in gc.get_objects())  # no generation a collection visits holds it
    # What is made afterwards is collected as before.
    c, d = _Node(), _Node()
    c.other, d.other = d, c
    later = weakref.ref(c)
    del c, d
    gc.collect()
    assert later() is None


def test_a_celery_worker_freezes_once_ready_and_a_pool_child_once_started():
    import config.celery  # noqa: F401  (connects the receivers)

    for signal in (worker_ready, worker_process_init):
        assert freeze_startup_objects in [receiver() if isinstance(receiver, weakref.ReferenceType) else receiver for _, receiver in signal.receivers]
