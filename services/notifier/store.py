"""Notifier's PostgreSQL state: notices and their delivery, plus the facts later events need.

:class:`PgNotifierStore` is the :class:`~services.notifier.ports.NotifierStore` port over one
transaction's connection; its community event-request part (sealed contacts, waiting facts,
purges) is :class:`~services.notifier.requests.store.PgEventRequestState`. Every statement is a
named constant; values are always parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from schemas.base import Actor
from services.notifier.model import MeetingInfo
from services.notifier.ports import Due, NewNotice, NoticeSummary
from services.notifier.requests.store import PgEventRequestState

WAKE_CHANNEL = "notifier_notices"

PRUNES: tuple[tuple[str, str], ...] = (
    ("notices", "DELETE FROM notices WHERE state <> 'pending' "
                "AND created_at < now() - make_interval(days => $1)"),
    ("meetings", "DELETE FROM meetings WHERE ends_at < now() - make_interval(days => $1)"),
    ("situations", "DELETE FROM situations WHERE seen_at < now() - make_interval(days => $1)"),
    ("command_actors",
     "DELETE FROM command_actors WHERE seen_at < now() - make_interval(days => $1)"),
    ("pending_refusals",
     "DELETE FROM pending_refusals WHERE seen_at < now() - make_interval(days => $1)"),
    ("event_request_purged",
     "DELETE FROM event_request_purged WHERE purged_at < now() - make_interval(days => $1)"),
    ("event_request_waiting",
     "DELETE FROM event_request_waiting WHERE received_at < now() - make_interval(days => $1)"),
)
"""Notifier's bookkeeping, pruned by age: settled notices (their payload was cleared when they
settled; the delivery facts are on the notices topic), meetings long over, and the facts and
tombstones kept to join later events."""

INSERT_NOTICE = """
INSERT INTO notices (notice_id, cause_id, cause_topic, kind, recipient_agency, recipient_key,
                     channel, address, privacy, payload, priority, next_attempt_at, created_at,
                     request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $12, $13)
ON CONFLICT DO NOTHING
RETURNING true
"""
WAKE = "SELECT pg_notify($1, '')"
TAKE_DUE = """
SELECT notice_id, cause_id, cause_topic, kind, recipient_agency, channel, address, payload,
       attempts
FROM notices
WHERE state = 'pending' AND next_attempt_at <= $1
ORDER BY priority, next_attempt_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
MARK_DELIVERED = """
UPDATE notices SET state = 'delivered', attempts = $2, message_id = $3, delivered_at = $4,
                   next_attempt_at = NULL, last_error = NULL, payload = NULL
WHERE notice_id = $1
"""
MARK_RETRY = """
UPDATE notices SET attempts = $2, next_attempt_at = $3, last_error = $4 WHERE notice_id = $1
"""
MARK_FAILED = """
UPDATE notices SET state = 'failed', attempts = $2, last_error = $3, failed_at = $4,
                   next_attempt_at = NULL, payload = NULL
WHERE notice_id = $1
"""
ACKNOWLEDGE = """
UPDATE notices SET acknowledged_at = $2
WHERE notice_id = $1 AND acknowledged_at IS NULL
RETURNING recipient_agency
"""
NOTICE_EXISTS = "SELECT true FROM notices WHERE notice_id = $1"
NOTICE_SUMMARY = """
SELECT kind, recipient_agency, created_at, acknowledged_at FROM notices WHERE notice_id = $1
"""
SAVE_MEETING = """
INSERT INTO meetings (meeting_id, district, kind, starts_at, ends_at, venue)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (meeting_id) DO UPDATE SET district = EXCLUDED.district, kind = EXCLUDED.kind,
    starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, venue = EXCLUDED.venue
"""
GET_MEETING = "SELECT district, kind, starts_at, ends_at, venue FROM meetings WHERE meeting_id = $1"
SAVE_SITUATION = """
INSERT INTO situations (situation_id, originating_agency, district) VALUES ($1, $2, $3)
ON CONFLICT (situation_id) DO NOTHING
"""
GET_ORIGINATOR = "SELECT originating_agency FROM situations WHERE situation_id = $1"
SAVE_ACTOR = """
INSERT INTO command_actors (command_id, agency_id, role) VALUES ($1, $2, $3)
ON CONFLICT (command_id) DO NOTHING
"""
GET_ACTOR = "SELECT agency_id, role FROM command_actors WHERE command_id = $1"
SAVE_PENDING_REFUSAL = """
INSERT INTO pending_refusals (command_id, cause_id, event) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (command_id) DO NOTHING
"""
POP_PENDING_REFUSAL = "DELETE FROM pending_refusals WHERE command_id = $1 RETURNING cause_id, event"


class PgNotifierStore(PgEventRequestState):
    """The :class:`~services.notifier.ports.NotifierStore` in PostgreSQL, bound to ``conn`` (the
    caller owns its transaction)."""

    async def insert_notices(self, notices: Sequence[NewNotice], now: datetime) -> int:
        """Insert ``notices`` (a repeat is a no-op) and wake the delivery loop; returns how many."""
        added = 0
        for n in notices:
            if await self._conn.fetchval(
                    INSERT_NOTICE, n.notice_id, n.cause_id, n.cause_topic, n.kind,
                    n.recipient_agency, n.recipient_key, n.channel, n.address, n.privacy,
                    json.dumps(n.payload), int(n.priority), now, n.request_id):
                added += 1
        if added:
            await self._conn.execute(WAKE, WAKE_CHANNEL)
        return added

    async def take_due(self, now: datetime, limit: int) -> list[Due]:
        """Due notices, locked for this transaction; others' locked rows are skipped."""
        rows = await self._conn.fetch(TAKE_DUE, now, limit)
        return [Due(notice_id=r["notice_id"], cause_id=r["cause_id"],
                    cause_topic=r["cause_topic"], kind=r["kind"],
                    recipient_agency=r["recipient_agency"], channel=r["channel"],
                    address=r["address"],
                    payload=json.loads(r["payload"]) if r["payload"] else {},
                    attempts=r["attempts"]) for r in rows]

    async def mark_delivered(self, notice: UUID, attempt: int, message_id: str,
                             now: datetime) -> None:
        """Delivered: record it and drop the rendered payload."""
        await self._conn.execute(MARK_DELIVERED, notice, attempt, message_id, now)

    async def mark_retry(self, notice: UUID, attempt: int, at: datetime, error: str) -> None:
        """Failed for now: try again at ``at``."""
        await self._conn.execute(MARK_RETRY, notice, attempt, at, error)

    async def mark_failed(self, notice: UUID, attempt: int, error: str, now: datetime) -> None:
        """Given up: record it and drop the rendered payload."""
        await self._conn.execute(MARK_FAILED, notice, attempt, error, now)

    async def acknowledge(self, notice: UUID, now: datetime) -> str | None:
        """The recipient agency when this is the first acknowledgement; ``None`` otherwise."""
        agency: str | None = await self._conn.fetchval(ACKNOWLEDGE, notice, now)
        return agency

    async def notice_exists(self, notice: UUID) -> bool:
        """Whether notifier knows ``notice``."""
        return bool(await self._conn.fetchval(NOTICE_EXISTS, notice))

    async def notice_summary(self, notice: UUID) -> NoticeSummary | None:
        """What an acknowledgement page shows of ``notice`` (no content), or ``None``."""
        row = await self._conn.fetchrow(NOTICE_SUMMARY, notice)
        if row is None:
            return None
        return NoticeSummary(kind=row["kind"], recipient_agency=row["recipient_agency"],
                             sent_at=row["created_at"], acknowledged_at=row["acknowledged_at"])

    async def save_meeting(self, meeting_id: UUID, info: MeetingInfo) -> None:
        """Remember a meeting's district, time and venue (for its agendas)."""
        await self._conn.execute(SAVE_MEETING, meeting_id, info.district, info.kind,
                                 info.starts_at, info.ends_at, info.venue)

    async def get_meeting(self, meeting_id: UUID) -> MeetingInfo | None:
        """A remembered meeting."""
        r = await self._conn.fetchrow(GET_MEETING, meeting_id)
        if r is None:
            return None
        return MeetingInfo(r["district"], r["kind"], r["starts_at"], r["ends_at"], r["venue"])

    async def save_situation(self, situation_id: UUID, originator: str, district: str) -> None:
        """Remember who referred a situation (for its conclusion)."""
        await self._conn.execute(SAVE_SITUATION, situation_id, originator, district)

    async def get_originator(self, situation_id: UUID) -> str | None:
        """The agency that referred ``situation_id``."""
        found: str | None = await self._conn.fetchval(GET_ORIGINATOR, situation_id)
        return found

    async def save_actor(self, command_id: UUID, actor: Actor) -> None:
        """Remember who issued a command (for its refusal)."""
        await self._conn.execute(SAVE_ACTOR, command_id, actor.agency_id, actor.role)

    async def get_actor(self, command_id: UUID) -> Actor | None:
        """Who issued ``command_id``."""
        r = await self._conn.fetchrow(GET_ACTOR, command_id)
        return None if r is None else Actor(agency_id=r["agency_id"], role=r["role"])

    async def save_pending_refusal(self, command_id: UUID, cause_id: UUID,
                                   event_json: str) -> None:
        """Keep a refusal whose command notifier has not seen yet."""
        await self._conn.execute(SAVE_PENDING_REFUSAL, command_id, cause_id, event_json)

    async def pop_pending_refusal(self, command_id: UUID) -> tuple[UUID, str] | None:
        """The refusal waiting for ``command_id`` (removed), as (cause id, event JSON)."""
        r = await self._conn.fetchrow(POP_PENDING_REFUSAL, command_id)
        return None if r is None else (r["cause_id"], r["event"])
