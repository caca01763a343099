"""Notifier's PostgreSQL state for community event requests: the sealed submission, the facts
waiting for it, the purge tombstones, and the request's notices that end unsent.

:class:`PgEventRequestState` is the :class:`~services.notifier.ports.EventRequestState` part of
:class:`~services.notifier.store.PgNotifierStore` (a request's notices are inserted by its
``insert_notices``, with their request id). Every statement is a named constant; values are
always parameters. The shell takes a transaction-scoped advisory lock on the request's id before
any change about one request, so a submission and a fact of the same request handled at the same
time (they travel on different topics) cannot both miss each other.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from services.notifier.ports import FailedNotice, NewNotice, Waiting
from services.runtime.cipher import Sealed
from services.runtime.db import Connection

LOCK_REQUEST = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 1010))"
SAVE_CONTACT = """
INSERT INTO event_request_contacts (request_id, key_id, nonce, ciphertext, received_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (request_id) DO NOTHING
RETURNING true
"""
GET_CONTACT = "SELECT key_id, nonce, ciphertext FROM event_request_contacts WHERE request_id = $1"
DELETE_CONTACT = "DELETE FROM event_request_contacts WHERE request_id = $1 RETURNING true"
IS_PURGED = "SELECT true FROM event_request_purged WHERE request_id = $1"
MARK_PURGED = """
INSERT INTO event_request_purged (request_id, purged_at) VALUES ($1, $2)
ON CONFLICT (request_id) DO NOTHING
"""
PARK = """
INSERT INTO event_request_waiting (cause_id, request_id, cause_topic, event_type, event,
                                   received_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (cause_id) DO NOTHING
"""
POP_WAITING = """
DELETE FROM event_request_waiting WHERE request_id = $1
RETURNING cause_id, seq, cause_topic, event_type, event
"""
INSERT_FAILED_NOTICE = """
INSERT INTO notices (notice_id, cause_id, cause_topic, kind, recipient_agency, recipient_key,
                     channel, address, privacy, payload, state, attempts, last_error,
                     next_attempt_at, created_at, failed_at, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 'failed', 1, $10, NULL, $11, $11, $12)
ON CONFLICT DO NOTHING
RETURNING true
"""
FAIL_PENDING = """
UPDATE notices SET state = 'failed', attempts = attempts + 1, last_error = $2, failed_at = $3,
                   next_attempt_at = NULL, payload = NULL
WHERE request_id = $1 AND state = 'pending'
RETURNING notice_id, cause_id, kind, recipient_agency, channel, attempts
"""


class PgEventRequestState:
    """The :class:`~services.notifier.ports.EventRequestState` in PostgreSQL, bound to ``conn``
    (the caller owns its transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock_request(self, request_id: UUID) -> None:
        """Serialize the work on ``request_id`` until the transaction ends."""
        await self._conn.execute(LOCK_REQUEST, str(request_id))

    async def save_contact(self, request_id: UUID, sealed: Sealed, now: datetime) -> bool:
        """Keep the sealed submission; ``False`` when it was already kept (a duplicate)."""
        return bool(await self._conn.fetchval(SAVE_CONTACT, request_id, sealed.key_id,
                                              sealed.nonce, sealed.ciphertext, now))

    async def get_contact(self, request_id: UUID) -> Sealed | None:
        """The sealed submission of ``request_id``, if notifier has it."""
        r = await self._conn.fetchrow(GET_CONTACT, request_id)
        return None if r is None else Sealed(r["key_id"], bytes(r["nonce"]),
                                             bytes(r["ciphertext"]))

    async def purge_contact(self, request_id: UUID, now: datetime) -> bool:
        """Delete the contact and remember the purge; ``True`` when a contact was deleted."""
        deleted = bool(await self._conn.fetchval(DELETE_CONTACT, request_id))
        await self._conn.execute(MARK_PURGED, request_id, now)
        return deleted

    async def is_purged(self, request_id: UUID) -> bool:
        """Whether the contact of ``request_id`` was purged."""
        return bool(await self._conn.fetchval(IS_PURGED, request_id))

    async def park(self, request_id: UUID, waiting: Waiting, now: datetime) -> None:
        """Keep a fact until its submission arrives."""
        await self._conn.execute(PARK, waiting.cause_id, request_id, waiting.cause_topic,
                                 waiting.event_type, waiting.event_json, now)

    async def pop_waiting(self, request_id: UUID) -> list[Waiting]:
        """The facts waiting for ``request_id`` (removed), in arrival order."""
        rows = sorted(await self._conn.fetch(POP_WAITING, request_id), key=lambda r: r["seq"])
        return [Waiting(r["cause_id"], r["cause_topic"], r["event_type"],
                        r["event"] if isinstance(r["event"], str) else json.dumps(r["event"]))
                for r in rows]

    async def insert_failed(self, notice: NewNotice, error: str, now: datetime) -> bool:
        """Record a notice that cannot be sent at all (no payload kept)."""
        n = notice
        return bool(await self._conn.fetchval(
            INSERT_FAILED_NOTICE, n.notice_id, n.cause_id, n.cause_topic, n.kind,
            n.recipient_agency, n.recipient_key, n.channel, n.address, n.privacy, error, now,
            n.request_id))

    async def fail_pending(self, request_id: UUID, error: str,
                           now: datetime) -> list[FailedNotice]:
        """End the request's unsent notices (their sealed payloads are dropped)."""
        rows = await self._conn.fetch(FAIL_PENDING, request_id, error, now)
        return [FailedNotice(r["notice_id"], r["cause_id"], r["kind"], r["recipient_agency"],
                             r["channel"], r["attempts"]) for r in rows]
