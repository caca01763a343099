"""The in-memory convening store keeps the store contract (the same suite runs on PostgreSQL in
``tests/integration/test_convening_store_pg.py``)."""

from __future__ import annotations

import pytest

from services.convening.ports import ConveningStore
from tests.support.contracts.convening_store import ConveningStoreContract
from tests.support.fakes.convening import InMemoryConveningStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> ConveningStore:
    return InMemoryConveningStore()


class TestInMemoryConveningStore(ConveningStoreContract):
    """The contract, on the fake."""
