"""An in-memory :class:`~services.intake.event_requests.ports.EventRequestStore` for the shell's
unit tests (not shipped: the wheel holds no test fixture).

Honest to the SQL of :mod:`services.intake.event_requests.store`, and held to it by the same
contract suite (``tests/support/contracts/event_request_store.py``): a save of a known request
changes its follow-up only (the upsert's ``DO UPDATE SET`` list), the kept answer goes through
JSON as in the ``jsonb`` column, a contact is one per known request (the primary and foreign
keys: asyncpg's integrity errors), the reminder level stays within 0..2 (the check), and an
unknown id reads as ``None``. Its timers are an in-memory ``durable_timers``
(:class:`~tests.support.fakes.timers.InMemoryTimerStore`). Locks are no-ops: one test is one
transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

import asyncpg

from services.intake.event_requests.decide import Answer, EventRequestState
from services.intake.vault import Sealed
from services.runtime.db import Connection
from tests.support.fakes.timers import InMemoryTimerStore


class InMemoryEventRequestStore:
    """Requests and their sealed contacts in two dicts (see the module's docstring).

    Attributes:
        requests: the saved states by request id (what the table holds).
        contacts: the sealed contact details by request id, with when they were stored.
        timers: the schema's ``durable_timers`` (the request's reminder and purge timers).
    """

    def __init__(self) -> None:
        self.requests: dict[UUID, EventRequestState] = {}
        self.contacts: dict[UUID, tuple[Sealed, datetime]] = {}
        self.timers = InMemoryTimerStore()

    @property
    def timer_store(self) -> InMemoryTimerStore:
        """The schema's durable timers, in memory."""
        return self.timers

    def bound(self, conn: Connection) -> InMemoryEventRequestStore:
        """This store, whatever the connection (the shell's ``stores`` in unit tests)."""
        return self

    async def get_request(self, request_id: UUID, *,
                          nowait: bool = False) -> EventRequestState | None:
        return self.requests.get(request_id)

    async def peek_request(self, request_id: UUID) -> EventRequestState | None:
        return self.requests.get(request_id)

    async def save_request(self, state: EventRequestState) -> None:
        if not 0 <= state.reminder_level <= 2:
            raise asyncpg.CheckViolationError("event_requests_reminder_level_check")
        state = replace(state, pending=_through_json(state.pending))
        known = self.requests.get(state.request_id)
        if known is not None:  # ON CONFLICT DO UPDATE sets the follow-up columns only
            state = replace(state, kind=known.kind, municipality=known.municipality,
                            district=known.district, agency_id=known.agency_id,
                            last_preferred_date=known.last_preferred_date,
                            has_contact=known.has_contact)
        self.requests[state.request_id] = state

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> None:
        if request_id not in self.requests:
            raise asyncpg.ForeignKeyViolationError("event_request_contacts_request_id_fkey")
        if request_id in self.contacts:
            raise asyncpg.UniqueViolationError("event_request_contacts_pkey")
        self.contacts[request_id] = (sealed, now)

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        found = self.contacts.get(request_id)
        return None if found is None else found[0]

    async def delete_contact(self, request_id: UUID) -> None:
        self.contacts.pop(request_id, None)


def _through_json(answer: Answer | None) -> Answer | None:
    """The kept answer as it reads back from the ``jsonb`` column (a copy, not the object)."""
    if answer is None:
        return None
    return type(answer).model_validate_json(answer.model_dump_json())
