"""A service's long-lived objects leave the collector's generations; young ones wait longer."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services.runtime import collector


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored")
def test_settle_freezes_what_lives_and_widens_the_young_generation() -> None:
    kept = [{"n": n} for n in range(1000)]
    _, middle, old = gc.get_threshold()

    collector.settle()

    assert gc.get_freeze_count() >= len(kept), "what was alive is in the permanent generation"
    assert id(kept[0]) not in {id(o) for o in gc.get_objects(generation=2)}
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, middle, old)


@pytest.mark.usefixtures("restored")
def test_a_cycle_made_after_settling_is_still_collected() -> None:
    collector.settle()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    assert gone() is not None, "a cycle outlives its names until the collector runs"
    gc.collect()
    assert gone() is None
