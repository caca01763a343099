"""The in-memory timer store keeps the timer store contract (the same suite runs on PostgreSQL
in ``tests/integration/test_timer_store_pg.py``)."""

from __future__ import annotations

import pytest

from services.runtime.timers import TimerStore
from tests.support.contracts.timer_store import TimerStoreContract
from tests.support.fakes.timers import InMemoryTimerStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> TimerStore:
    return InMemoryTimerStore()


class TestInMemoryTimerStore(TimerStoreContract):
    """The contract, on the fake."""
