"""The event-request store's contract on the in-memory fake the shell's unit tests use."""

from __future__ import annotations

import pytest

from services.intake.event_requests.ports import EventRequestStore
from tests.support.contracts.event_request_store import EventRequestStoreContract
from tests.support.fakes.event_requests import InMemoryEventRequestStore

pytestmark = pytest.mark.unit


class TestInMemoryEventRequestStore(EventRequestStoreContract):
    @pytest.fixture
    def store(self) -> EventRequestStore:
        return InMemoryEventRequestStore()
