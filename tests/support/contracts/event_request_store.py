"""The contract of :class:`~services.intake.event_requests.ports.EventRequestStore`: what the
shell may rely on, asserted on the port's observable outcomes only.

One suite, two stores: ``tests/unit/test_event_request_store_fake.py`` runs it on the in-memory
fake, ``tests/integration/test_event_request_store_pg.py`` on PostgreSQL (intake's migrations
in a scratch schema, each test in a transaction rolled back). A subclass gives a ``store``
fixture. A test that ends on an integrity error ends there (PostgreSQL aborts the transaction).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from uuid6 import uuid7

from schemas.event_requests import EventRequestAcknowledged, EventRequestRejected
from services.intake.event_requests import timers
from services.intake.event_requests.decide import EventRequestState
from services.intake.event_requests.ports import EventRequestStore
from services.intake.vault import Sealed
from services.runtime.timers import Timer
from tests.support.samples import sample

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
SEALED = Sealed("dev-1", b"\x01" * 12, b"ciphertext, not a contact")


def acknowledged(request_id: UUID | None = None, **fields: Any) -> EventRequestState:
    """A request acknowledged at ``NOW``, with every column set."""
    rid = request_id or uuid7()
    state = EventRequestState(
        request_id=rid, status="acknowledged", answered_at=NOW, kind="speaker",
        municipality="milton", district="district_1", agency_id="community-living",
        last_preferred_date=date(2026, 2, 20), reminder_level=1,
        next_reminder_at=NOW + timedelta(days=3), has_contact=True,
        purge_after=NOW + timedelta(days=60), confirmed_at=NOW - timedelta(hours=1))
    return replace(state, **fields)


def awaiting(request_id: UUID | None = None) -> EventRequestState:
    """A public request awaiting its requester's confirmation, its answer kept."""
    rid = request_id or uuid7()
    answer = sample(EventRequestAcknowledged, request_id=rid, acknowledged_at=NOW)
    return EventRequestState(
        request_id=rid, status="awaiting_confirmation", answered_at=NOW, kind="district_tour",
        municipality="oakville", district="district_2", last_preferred_date=date(2026, 3, 1),
        has_contact=True, purge_after=NOW + timedelta(hours=48),
        confirm_expires_at=NOW + timedelta(hours=48), pending=answer)


async def _pending(store: EventRequestStore, request_id: UUID) -> list[Timer]:
    return sorted(await store.timer_store.pending(request_id), key=lambda t: t.key)


class EventRequestStoreContract:
    """The port's contract; subclasses provide the ``store`` fixture."""

    async def test_an_unknown_request_reads_as_none(self, store: EventRequestStore) -> None:
        rid = uuid7()
        assert await store.get_request(rid) is None
        assert await store.peek_request(rid) is None
        assert await store.get_contact(rid) is None

    async def test_a_saved_request_reads_back_whole(self, store: EventRequestStore) -> None:
        state = acknowledged(decided_at=NOW + timedelta(days=1), scheduled_date=date(2026, 2, 20),
                             purged_at=NOW + timedelta(days=61))
        await store.save_request(state)
        assert await store.get_request(state.request_id) == state
        assert await store.peek_request(state.request_id) == state
        assert await store.get_request(uuid7()) is None

    async def test_a_kept_answer_reads_back_and_is_cleared(self, store: EventRequestStore) -> None:
        state = awaiting()
        await store.save_request(state)
        found = await store.get_request(state.request_id)
        assert found == state
        assert found is not None
        assert isinstance(found.pending, EventRequestAcknowledged)
        rejected = sample(EventRequestRejected, request_id=state.request_id, rejected_at=NOW)
        await store.save_request(replace(state, pending=rejected))
        found = await store.peek_request(state.request_id)
        assert found is not None
        assert found.pending == rejected
        await store.save_request(replace(state, status="acknowledged", pending=None,
                                         confirm_expires_at=None, confirmed_at=NOW))
        found = await store.peek_request(state.request_id)
        assert found is not None
        assert (found.status, found.pending, found.confirm_expires_at, found.confirmed_at) == (
            "acknowledged", None, None, NOW)

    async def test_a_known_request_changes_its_follow_up_only(
            self, store: EventRequestStore) -> None:
        state = acknowledged()
        await store.save_request(state)
        later = NOW + timedelta(days=2)
        follow_up = replace(
            state, status="scheduled", answered_at=later, decided_at=later,
            scheduled_date=date(2026, 2, 21), reminder_level=2, next_reminder_at=None,
            purge_after=later + timedelta(days=30), purged_at=later, confirm_expires_at=later,
            confirmed_at=later)
        await store.save_request(replace(
            follow_up, kind="district_tour", municipality="oakville", district="district_2",
            agency_id=None, last_preferred_date=date(2027, 1, 1), has_contact=False))
        assert await store.get_request(state.request_id) == follow_up

    async def test_a_reminder_level_is_0_to_2(self, store: EventRequestStore) -> None:
        with pytest.raises(asyncpg.CheckViolationError):
            await store.save_request(acknowledged(reminder_level=3))

    async def test_a_contact_is_kept_until_deleted(self, store: EventRequestStore) -> None:
        state = acknowledged()
        await store.save_request(state)
        await store.save_contact(state.request_id, SEALED, NOW)
        assert await store.get_contact(state.request_id) == SEALED
        other = acknowledged()
        await store.save_request(other)
        assert await store.get_contact(other.request_id) is None
        await store.delete_contact(state.request_id)
        assert await store.get_contact(state.request_id) is None
        await store.delete_contact(state.request_id)  # nothing left: nothing happens
        await store.delete_contact(uuid7())
        assert await store.get_request(state.request_id) == state  # the request stays

    async def test_a_second_contact_for_a_request_is_refused(
            self, store: EventRequestStore) -> None:
        state = acknowledged()
        await store.save_request(state)
        await store.save_contact(state.request_id, SEALED, NOW)
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.save_contact(state.request_id, SEALED, NOW)

    async def test_a_contact_needs_its_request(self, store: EventRequestStore) -> None:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.save_contact(uuid7(), SEALED, NOW)

    async def test_a_saved_requests_timers_follow_its_due_times(
            self, store: EventRequestStore) -> None:
        state = acknowledged()
        await timers.save(store, state, NOW)
        rid = state.request_id
        reminder = Timer(timers.timer_key(timers.REMINDER, rid), timers.REMINDER, rid,
                         NOW + timedelta(days=3))
        purge = Timer(timers.timer_key(timers.PURGE, rid), timers.PURGE, rid,
                      NOW + timedelta(days=60))
        assert await _pending(store, rid) == [purge, reminder]
        later = replace(state, next_reminder_at=NOW + timedelta(days=5),
                        purge_after=NOW + timedelta(days=90))
        await timers.save(store, later, NOW)
        assert await _pending(store, rid) == [
            replace(purge, due_at=NOW + timedelta(days=90)),
            replace(reminder, due_at=NOW + timedelta(days=5))], "moved later"
        await timers.save(store, replace(later, status="declined", next_reminder_at=None), NOW)
        assert await _pending(store, rid) == [replace(purge, due_at=NOW + timedelta(days=90))]
        assert await store.timer_store.take_due(NOW + timedelta(days=89), []) is None
        await timers.save(store, replace(later, purge_after=None, next_reminder_at=None), NOW)
        assert await _pending(store, rid) == []
        assert await store.get_request(rid) == replace(later, purge_after=None,
                                                       next_reminder_at=None)
