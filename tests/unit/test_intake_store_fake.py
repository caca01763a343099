"""intake's store contract on the in-memory fake the shell tests use."""

from __future__ import annotations

import pytest

from services.intake.ports import IntakeStore
from tests.support.contracts.intake_store import IntakeStoreContract
from tests.support.fakes.intake import InMemoryIntakeStore

pytestmark = pytest.mark.unit


class TestInMemoryIntakeStore(IntakeStoreContract):
    @pytest.fixture
    def store(self) -> IntakeStore:
        return InMemoryIntakeStore()
