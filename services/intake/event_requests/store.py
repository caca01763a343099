"""Community event requests in intake's schema: named SQL and :class:`PgEventRequestStore`, the
PostgreSQL implementation of the port (:class:`~services.intake.event_requests.ports.EventRequestStore`).

A store is bound to the caller's connection (the consumer runtime's transaction with the inbox
and outbox, a timer's, or a page's). No statement is built from values.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.event_requests import EventRequestAcknowledged, EventRequestRejected
from services.intake.event_requests.decide import Answer, EventRequestState
from services.intake.vault import Sealed
from services.runtime.db import Connection
from services.runtime.timers import PgTimerStore, TimerStore

_COLUMNS = """request_id, status, kind, municipality, district, agency_id, last_preferred_date,
    answered_at, decided_at, scheduled_date, reminder_level, next_reminder_at, has_contact,
    purge_after, purged_at, confirm_expires_at, confirmed_at, pending_type, pending_answer"""
"""The columns of ``event_requests``, in the order ``UPSERT_REQUEST`` binds them."""
GET_REQUEST = f"SELECT {_COLUMNS} FROM event_requests WHERE request_id = $1 FOR UPDATE"
GET_REQUEST_NOWAIT = f"{GET_REQUEST} NOWAIT"
PEEK_REQUEST = f"SELECT {_COLUMNS} FROM event_requests WHERE request_id = $1"
UPSERT_REQUEST = f"""
INSERT INTO event_requests ({_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19::jsonb)
ON CONFLICT (request_id) DO UPDATE SET
    status = EXCLUDED.status, answered_at = EXCLUDED.answered_at,
    decided_at = EXCLUDED.decided_at,
    scheduled_date = EXCLUDED.scheduled_date, reminder_level = EXCLUDED.reminder_level,
    next_reminder_at = EXCLUDED.next_reminder_at, purge_after = EXCLUDED.purge_after,
    purged_at = EXCLUDED.purged_at, confirm_expires_at = EXCLUDED.confirm_expires_at,
    confirmed_at = EXCLUDED.confirmed_at, pending_type = EXCLUDED.pending_type,
    pending_answer = EXCLUDED.pending_answer
"""
INSERT_CONTACT = """
INSERT INTO event_request_contacts (request_id, key_id, nonce, ciphertext, stored_at)
VALUES ($1, $2, $3, $4, $5)
"""
GET_CONTACT = "SELECT key_id, nonce, ciphertext FROM event_request_contacts WHERE request_id = $1"
DELETE_CONTACT = "DELETE FROM event_request_contacts WHERE request_id = $1"

_ANSWERS: dict[str, type[Answer]] = {
    EventRequestAcknowledged.ce_type: EventRequestAcknowledged,
    EventRequestRejected.ce_type: EventRequestRejected,
}


def _pending(ce_type: str | None, data: Any) -> Answer | None:
    """The kept answer of a row (``None`` when none is kept)."""
    if ce_type is None or data is None:
        return None
    return _ANSWERS[ce_type].model_validate_json(data if isinstance(data, str) else json.dumps(data))


def _state(r: Any) -> EventRequestState:
    """A state from an ``event_requests`` row (an asyncpg record)."""
    return EventRequestState(
        request_id=r["request_id"], status=r["status"], answered_at=r["answered_at"],
        kind=r["kind"], municipality=r["municipality"], district=r["district"],
        agency_id=r["agency_id"], last_preferred_date=r["last_preferred_date"],
        decided_at=r["decided_at"], scheduled_date=r["scheduled_date"],
        reminder_level=r["reminder_level"], next_reminder_at=r["next_reminder_at"],
        has_contact=r["has_contact"], purge_after=r["purge_after"],
        purged_at=r["purged_at"], confirm_expires_at=r["confirm_expires_at"],
        confirmed_at=r["confirmed_at"], pending=_pending(r["pending_type"], r["pending_answer"]))


class PgEventRequestStore:
    """The requests in intake's schema, over one transaction's connection (the port's
    semantics: :class:`~services.intake.event_requests.ports.EventRequestStore`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.timer_store: TimerStore = PgTimerStore(conn)

    async def get_request(self, request_id: UUID, *,
                          nowait: bool = False) -> EventRequestState | None:
        """A request's state (locked for this transaction; ``nowait``: or
        ``asyncpg.LockNotAvailableError``), or ``None``."""
        row = await self._conn.fetchrow(GET_REQUEST_NOWAIT if nowait else GET_REQUEST, request_id)
        return None if row is None else _state(row)

    async def peek_request(self, request_id: UUID) -> EventRequestState | None:
        """A request's state without locking it (what a page shows), or ``None``."""
        row = await self._conn.fetchrow(PEEK_REQUEST, request_id)
        return None if row is None else _state(row)

    async def save_request(self, state: EventRequestState) -> None:
        """Insert a request or record its new follow-up state."""
        pending = state.pending
        await self._conn.execute(
            UPSERT_REQUEST, state.request_id, state.status, state.kind, state.municipality,
            state.district, state.agency_id, state.last_preferred_date, state.answered_at,
            state.decided_at, state.scheduled_date, state.reminder_level, state.next_reminder_at,
            state.has_contact, state.purge_after, state.purged_at, state.confirm_expires_at,
            state.confirmed_at, None if pending is None else pending.ce_type,
            None if pending is None else pending.model_dump_json())

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> None:
        """The encrypted contact details of a request."""
        await self._conn.execute(INSERT_CONTACT, request_id, sealed.key_id, sealed.nonce,
                                 sealed.ciphertext, now)

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        """The encrypted contact details, or ``None`` (never stored, or purged)."""
        row = await self._conn.fetchrow(GET_CONTACT, request_id)
        if row is None:
            return None
        return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))

    async def delete_contact(self, request_id: UUID) -> None:
        """Destroy the contact details of a request."""
        await self._conn.execute(DELETE_CONTACT, request_id)
