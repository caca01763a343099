"""The gateway's tables (schema ``gateway``): commands and their outcomes, and the read model.

Every statement is a named constant with ``$n`` parameters. The read model is written by the
gateway's consumer inside the runtime's transaction (inbox row, writes, commit together), so a
redelivered record changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.gateway.identity import TaskRole
from services.gateway.outcomes import Caused
from services.runtime.db import Connection

OUTCOMES_CHANNEL = "gateway_outcomes"
"""NOTIFY channel: the payload is the id of a command that got a new outcome record."""

INSERT_COMMAND = """
INSERT INTO commands (command_id, command_type, target_id, agency_id, role, issued_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""
GET_COMMAND = """
SELECT command_type, target_id, agency_id, role, issued_at FROM commands WHERE command_id = $1
"""
RECORD_OUTCOME = """
INSERT INTO outcomes (command_id, ce_id, ce_type, body, recorded_at)
SELECT $1, $2, $3, $4::jsonb, $5 WHERE EXISTS (SELECT 1 FROM commands WHERE command_id = $1)
ON CONFLICT DO NOTHING
"""
NOTIFY_OUTCOME = "SELECT pg_notify('gateway_outcomes', $1)"
OUTCOMES_OF = "SELECT ce_type, ce_id, body FROM outcomes WHERE command_id = $1 ORDER BY seq"

SITUATION_OPENED = """
INSERT INTO situations (situation_id, district, priority, status, updated_at)
VALUES ($1, $2, $3, 'opened', $4) ON CONFLICT (situation_id) DO NOTHING
"""
SITUATION_MOVED = """
UPDATE situations SET status = $2, meeting_id = COALESCE($3, meeting_id), updated_at = $4
WHERE situation_id = $1
"""
GET_SITUATION = "SELECT district, status, meeting_id FROM situations WHERE situation_id = $1"
ADD_TIMELINE = """
INSERT INTO timeline (situation_id, ce_id, at, event, detail) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""
TIMELINE_OF = "SELECT at, event, detail FROM timeline WHERE situation_id = $1 ORDER BY seq"
UPSERT_TASK = """
INSERT INTO tasks (situation_id, agency_id, role, state, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (situation_id, agency_id)
DO UPDATE SET role = EXCLUDED.role, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
"""
TASK_MOVED = "UPDATE tasks SET state = $3, updated_at = $4 WHERE situation_id = $1 AND agency_id = $2"
TASKS_OF_SITUATION = "SELECT agency_id, role FROM tasks WHERE situation_id = $1"
TASKS_OF_AGENCIES = """
SELECT t.situation_id, t.agency_id, t.role, t.state, t.updated_at, s.district
FROM tasks t JOIN situations s USING (situation_id)
WHERE t.agency_id = ANY($1::text[])
ORDER BY t.updated_at DESC
LIMIT $2
"""
ADD_MEETING = """
INSERT INTO meetings (meeting_id, district, kind, starts_at, ends_at, venue)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (meeting_id) DO NOTHING
"""
ADD_INVITATION = """
INSERT INTO invitations (invitation_id, meeting_id, agency_id, reason, situation_ids)
VALUES ($1, $2, $3, $4, $5::uuid[])
ON CONFLICT (invitation_id) DO UPDATE SET situation_ids = EXCLUDED.situation_ids
"""
MEETINGS_OF = """
SELECT m.meeting_id, m.district, m.kind, m.starts_at, m.ends_at, m.venue,
       EXISTS (SELECT 1 FROM invitations i
               WHERE i.meeting_id = m.meeting_id AND i.agency_id = ANY($2::text[])) AS invited
FROM meetings m
WHERE m.district = ANY($1::text[]) AND m.ends_at >= $3
ORDER BY m.starts_at
LIMIT $4
"""
INVITED_FOR = """
SELECT DISTINCT agency_id FROM invitations WHERE $1 = ANY(situation_ids)
"""
UPSERT_AGENDA = """
INSERT INTO agendas (meeting_id, agency_id, revision, body) VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (meeting_id, agency_id) DO UPDATE SET revision = EXCLUDED.revision, body = EXCLUDED.body
WHERE agendas.revision < EXCLUDED.revision
"""
AGENDA_OF = """
SELECT agency_id, revision, body FROM agendas
WHERE meeting_id = $1 AND agency_id = ANY($2::text[])
ORDER BY array_position($2::text[], agency_id)
LIMIT 1
"""
ADD_EVENT_REQUEST = """
INSERT INTO event_requests (request_id, district) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""
EVENT_REQUEST_DISTRICT = "SELECT district FROM event_requests WHERE request_id = $1"


@dataclass(frozen=True, slots=True)
class CommandRow:
    """A command issued through the gateway."""

    command_type: str
    target_id: UUID
    agency_id: str
    role: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class SituationRow:
    """What the read model knows of a situation."""

    district: str
    status: str
    meeting_id: UUID | None


async def add_command(conn: Connection, command_id: UUID, command_type: str, target_id: UUID,
                      agency_id: str, role: str, issued_at: datetime) -> None:
    """Record a command about to be published (same transaction as its outbox row)."""
    await conn.execute(INSERT_COMMAND, command_id, command_type, target_id, agency_id, role,
                       issued_at)


async def command(conn: Connection, command_id: UUID) -> CommandRow | None:
    """A command issued through the gateway, or None."""
    row = await conn.fetchrow(GET_COMMAND, command_id)
    return None if row is None else CommandRow(row["command_type"], row["target_id"],
                                               row["agency_id"], row["role"], row["issued_at"])


async def record_outcome(conn: Connection, command_id: UUID, ce_id: str, ce_type: str,
                         body: str, now: datetime) -> None:
    """Keep a record caused by one of our commands (others are ignored) and wake its waiter."""
    status = await conn.execute(RECORD_OUTCOME, command_id, ce_id, ce_type, body, now)
    if status.endswith(" 1"):
        await conn.execute(NOTIFY_OUTCOME, str(command_id))


async def outcomes(conn: Connection, command_id: UUID) -> list[Caused]:
    """Everything recorded as caused by ``command_id``, in arrival order."""
    rows = await conn.fetch(OUTCOMES_OF, command_id)
    return [Caused(r["ce_type"], r["ce_id"], _json(r["body"])) for r in rows]


async def situation_opened(conn: Connection, situation_id: UUID, district: str, priority: str,
                           now: datetime) -> None:
    """A new situation in the read model."""
    await conn.execute(SITUATION_OPENED, situation_id, district, priority, now)


async def situation_moved(conn: Connection, situation_id: UUID, status: str,
                          meeting_id: UUID | None, now: datetime) -> None:
    """A situation's last step (and its meeting, when scheduled)."""
    await conn.execute(SITUATION_MOVED, situation_id, status, meeting_id, now)


async def situation(conn: Connection, situation_id: UUID) -> SituationRow | None:
    """The read model's situation, or None."""
    row = await conn.fetchrow(GET_SITUATION, situation_id)
    return None if row is None else SituationRow(row["district"], row["status"], row["meeting_id"])


async def add_timeline(conn: Connection, situation_id: UUID, ce_id: str, at: datetime,
                       event: str, detail: str) -> None:
    """One timeline entry (once per record)."""
    await conn.execute(ADD_TIMELINE, situation_id, ce_id, at, event, detail)


async def timeline(conn: Connection, situation_id: UUID) -> list[tuple[datetime, str, str]]:
    """A situation's entries, in order."""
    return [(r["at"], r["event"], r["detail"]) for r in await conn.fetch(TIMELINE_OF, situation_id)]


async def set_task(conn: Connection, situation_id: UUID, agency_id: str, role: TaskRole,
                   state: str, now: datetime) -> None:
    """An agency's task as assigned."""
    await conn.execute(UPSERT_TASK, situation_id, agency_id, role, state, now)


async def move_task(conn: Connection, situation_id: UUID, agency_id: str, state: str,
                    now: datetime) -> None:
    """An agency's task moved."""
    await conn.execute(TASK_MOVED, situation_id, agency_id, state, now)


async def tasks_of_situation(conn: Connection, situation_id: UUID) -> dict[str, TaskRole]:
    """Agency → lead or assisting, for the situation's tasks."""
    return {r["agency_id"]: r["role"] for r in await conn.fetch(TASKS_OF_SITUATION, situation_id)}


async def tasks_of(conn: Connection, agencies: Sequence[str], limit: int = 200) -> list[dict[str, Any]]:
    """The agencies' tasks, most recently moved first."""
    rows = await conn.fetch(TASKS_OF_AGENCIES, list(agencies), limit)
    return [{"situation_id": str(r["situation_id"]), "agency_id": r["agency_id"], "role": r["role"],
             "state": r["state"], "district": r["district"],
             "updated_at": r["updated_at"].isoformat()} for r in rows]


async def add_meeting(conn: Connection, meeting_id: UUID, district: str, kind: str,
                      starts_at: datetime, ends_at: datetime, venue: str) -> None:
    """A scheduled meeting."""
    await conn.execute(ADD_MEETING, meeting_id, district, kind, starts_at, ends_at, venue)


async def add_invitation(conn: Connection, invitation_id: UUID, meeting_id: UUID, agency_id: str,
                         reason: str, situation_ids: Sequence[UUID]) -> None:
    """An invitation (again with more situations when it grows)."""
    await conn.execute(ADD_INVITATION, invitation_id, meeting_id, agency_id, reason,
                       list(situation_ids))


async def meetings_of(conn: Connection, districts: Sequence[str], agencies: Sequence[str],
                      since: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Meetings of ``districts`` not yet over at ``since``, with whether ``agencies`` are invited."""
    rows = await conn.fetch(MEETINGS_OF, list(districts), list(agencies), since, limit)
    return [{"meeting_id": str(r["meeting_id"]), "district": r["district"], "kind": r["kind"],
             "starts_at": r["starts_at"].isoformat(), "ends_at": r["ends_at"].isoformat(),
             "venue": r["venue"], "invited": r["invited"]} for r in rows]


async def invited_for(conn: Connection, situation_id: UUID) -> frozenset[str]:
    """Agencies invited to a meeting for this situation."""
    return frozenset(r["agency_id"] for r in await conn.fetch(INVITED_FOR, situation_id))


async def set_agenda(conn: Connection, meeting_id: UUID, agency_id: str, revision: int,
                     body: str) -> None:
    """Keep an agency's agenda unless a later revision is already kept."""
    await conn.execute(UPSERT_AGENDA, meeting_id, agency_id, revision, body)


async def agenda(conn: Connection, meeting_id: UUID,
                 agencies: Sequence[str]) -> tuple[str, int, dict[str, Any]] | None:
    """The first of ``agencies`` (in order) with an agenda for the meeting."""
    row = await conn.fetchrow(AGENDA_OF, meeting_id, list(agencies))
    return None if row is None else (row["agency_id"], row["revision"], _json(row["body"]))


async def add_event_request(conn: Connection, request_id: UUID, district: str) -> None:
    """An acknowledged event request's district (the CMB that follows it up)."""
    await conn.execute(ADD_EVENT_REQUEST, request_id, district)


async def event_request_district(conn: Connection, request_id: UUID) -> str | None:
    """The district of an acknowledged request, or None."""
    value = await conn.fetchval(EVENT_REQUEST_DISTRICT, request_id)
    return None if value is None else str(value)


def _json(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    return dict(loaded) if isinstance(loaded, dict) else {}
