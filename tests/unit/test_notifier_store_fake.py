"""The notifier store contract on the in-memory fake the shell tests use."""

from __future__ import annotations

import pytest

from services.notifier.ports import NotifierStore
from tests.support.contracts.notifier_store import NotifierStoreContract, Transactions
from tests.support.fakes.notifier import InMemoryNotifierStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> NotifierStore:
    return InMemoryNotifierStore()


@pytest.fixture
def transactions() -> Transactions:
    return InMemoryNotifierStore().transaction


class TestInMemoryNotifierStore(NotifierStoreContract):
    """Every contract test, on :class:`InMemoryNotifierStore`."""
