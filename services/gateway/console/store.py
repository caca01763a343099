"""What the console reads (schema ``gateway``), and the read model's rows it added (migration
``002_console.sql``): notices and acknowledgements, SLA alerts, sealed disclosure packages,
event requests' standing, when situations were opened, confirmed and assigned.

Named statements with ``$n`` parameters, as in :mod:`services.gateway.store`. The writes run
inside the read model's transaction (inbox row, writes, commit together).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from services.runtime.db import Connection

SITUATION_TIMES = """
UPDATE situations SET opened_at = COALESCE($2, opened_at), confirmed_at = COALESCE($3, confirmed_at),
       assigned_at = COALESCE($4, assigned_at)
WHERE situation_id = $1
"""
SITUATION_CONCLUSION = "UPDATE situations SET conclusion = $2 WHERE situation_id = $1"
SITUATION_REOPENED = """
UPDATE situations SET conclusion = NULL, confirmed_at = NULL, assigned_at = NULL WHERE situation_id = $1
"""
ADD_AGENDA_RECORD = """
INSERT INTO agenda_records (ce_id, meeting_id, agency_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
"""
NOTICE_DELIVERED = """
INSERT INTO notices (notice_id, recipient_agency, kind, cause_id, delivered_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (notice_id) DO UPDATE SET kind = EXCLUDED.kind, cause_id = EXCLUDED.cause_id,
    delivered_at = COALESCE(notices.delivered_at, EXCLUDED.delivered_at)
"""
NOTICE_ACKNOWLEDGED = """
INSERT INTO notices (notice_id, recipient_agency, acknowledged_at, via) VALUES ($1, $2, $3, $4)
ON CONFLICT (notice_id) DO UPDATE SET acknowledged_at = COALESCE(notices.acknowledged_at,
    EXCLUDED.acknowledged_at), via = COALESCE(notices.via, EXCLUDED.via)
"""
ADD_SLA_ALERT = """
INSERT INTO sla_alerts (ce_id, situation_id, district, kind, sla, agency_id, started_at, due_at, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING
"""
ADD_DISCLOSURE = """
INSERT INTO disclosures (disclosure_id, situation_id, recipient_agency, sealed_at, package)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
"""
DROP_DISCLOSURES = "DELETE FROM disclosures WHERE situation_id = $1"
PRUNE_DISCLOSURES = "DELETE FROM disclosures WHERE sealed_at < now() - make_interval(days => $1)"
EVENT_REQUEST_ACKNOWLEDGED = """
INSERT INTO event_requests (request_id, district, municipality, kind, windows, expected_attendees,
                            acknowledged_at, status)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, 'acknowledged')
ON CONFLICT (request_id) DO UPDATE SET municipality = EXCLUDED.municipality,
    kind = EXCLUDED.kind, windows = EXCLUDED.windows,
    expected_attendees = EXCLUDED.expected_attendees, acknowledged_at = EXCLUDED.acknowledged_at
"""
EVENT_REQUEST_DECIDED = """
UPDATE event_requests SET status = $2, decided_at = $3 WHERE request_id = $1
"""
EVENT_REQUEST_REMINDED = """
UPDATE event_requests SET reminders = reminders + 1, escalated_to = $2 WHERE request_id = $1
"""

GET_MEETING = "SELECT district, kind, starts_at, ends_at, venue FROM meetings WHERE meeting_id = $1"
SITUATION_COLUMNS = """situation_id, district, priority, status, meeting_id, opened_at, confirmed_at,
       assigned_at, conclusion"""
SITUATIONS_ON_MEETING = f"""
SELECT {SITUATION_COLUMNS} FROM situations WHERE meeting_id = $1 ORDER BY priority DESC, opened_at
"""
GET_SITUATION = f"SELECT {SITUATION_COLUMNS} FROM situations WHERE situation_id = $1"
TASKS_OF = "SELECT agency_id, role, state FROM tasks WHERE situation_id = $1 ORDER BY role DESC, agency_id"
INVITED_TO = """
SELECT i.agency_id, string_agg(DISTINCT i.reason, ', ') AS reasons,
       bool_or(n.delivered_at IS NOT NULL) AS delivered, max(n.acknowledged_at) AS acknowledged_at
FROM invitations i
LEFT JOIN agenda_records a ON a.meeting_id = i.meeting_id AND a.agency_id = i.agency_id
LEFT JOIN notices n ON n.cause_id = a.ce_id AND n.recipient_agency = i.agency_id
WHERE i.meeting_id = $1
GROUP BY i.agency_id
ORDER BY i.agency_id
"""
AGENDAS_OF_MEETING = """
SELECT agency_id, body FROM agendas WHERE meeting_id = $1 AND agency_id = ANY($2::text[])
ORDER BY array_position($2::text[], agency_id)
"""
DISCLOSURES_OF = """
SELECT disclosure_id, situation_id, recipient_agency, sealed_at FROM disclosures
WHERE recipient_agency = ANY($1::text[]) ORDER BY sealed_at DESC LIMIT 100
"""
GET_DISCLOSURE = "SELECT recipient_agency, situation_id, package FROM disclosures WHERE disclosure_id = $1"
SLA_ALERTS_OF = """
SELECT a.situation_id, a.district, a.kind, a.sla, a.agency_id, a.started_at, a.due_at, a.at,
       s.conclusion
FROM sla_alerts a LEFT JOIN situations s USING (situation_id)
WHERE a.district = ANY($1::text[]) AND a.at >= $2 AND a.at <= $3
ORDER BY a.at DESC LIMIT 200
"""
SUMMARY_OF = """
SELECT item FROM agendas, jsonb_array_elements(body -> 'items') AS item
WHERE meeting_id = $1 AND item ->> 'situation_id' = $2
LIMIT 1
"""
EVENT_REQUESTS_WAITING = """
SELECT request_id, district, municipality, kind, windows, expected_attendees, acknowledged_at,
       reminders, escalated_to
FROM event_requests WHERE district = ANY($1::text[]) AND status = 'acknowledged'
ORDER BY acknowledged_at LIMIT 200
"""
NOTICES_OF = """
SELECT notice_id, recipient_agency, kind, delivered_at, acknowledged_at, via FROM notices
WHERE recipient_agency = ANY($1::text[]) AND delivered_at IS NOT NULL
ORDER BY delivered_at DESC LIMIT $2
"""


async def situation_times(conn: Connection, sid: UUID, *, opened: datetime | None = None,
                          confirmed: datetime | None = None, assigned: datetime | None = None) -> None:
    """When a situation was opened, AER confirmed, agencies assigned."""
    await conn.execute(SITUATION_TIMES, sid, opened, confirmed, assigned)


async def situation_conclusion(conn: Connection, sid: UUID, conclusion: str | None) -> None:
    """A conclusion recorded, or (``None``) the situation reopened."""
    if conclusion is None:
        await conn.execute(SITUATION_REOPENED, sid)
    else:
        await conn.execute(SITUATION_CONCLUSION, sid, conclusion)


async def agenda_record(conn: Connection, ce_id: str, meeting_id: UUID, agency_id: str) -> None:
    """An AgendaIssued record (each revision), for matching the notices it caused."""
    await conn.execute(ADD_AGENDA_RECORD, ce_id, meeting_id, agency_id)


async def notice_delivered(conn: Connection, notice_id: UUID, agency: str, kind: str, cause_id: str,
                           at: datetime) -> None:
    """A notice reached its recipient."""
    await conn.execute(NOTICE_DELIVERED, notice_id, agency, kind, cause_id, at)


async def notice_acknowledged(conn: Connection, notice_id: UUID, agency: str, at: datetime,
                              via: str) -> None:
    """A notice was acknowledged (the first time counts)."""
    await conn.execute(NOTICE_ACKNOWLEDGED, notice_id, agency, at, via)


async def sla_alert(conn: Connection, ce_id: str, sid: UUID, district: str, kind: str, sla: str,
                    agency: str | None, started: datetime, due: datetime, at: datetime) -> None:
    """A response-time warning or breach."""
    await conn.execute(ADD_SLA_ALERT, ce_id, sid, district, kind, sla, agency, started, due, at)


async def add_disclosure(conn: Connection, disclosure_id: UUID, sid: UUID, agency: str,
                         sealed_at: datetime, package: str) -> None:
    """A sealed package, exactly as intake published it."""
    await conn.execute(ADD_DISCLOSURE, disclosure_id, sid, agency, sealed_at, package)


async def drop_disclosures(conn: Connection, sid: UUID) -> None:
    """intake purged the situation's identity: its packages go too."""
    await conn.execute(DROP_DISCLOSURES, sid)


async def event_request_acknowledged(conn: Connection, rid: UUID, district: str, municipality: str,
                                     kind: str, windows: list[dict[str, Any]], attendees: str,
                                     at: datetime) -> None:
    """An event request waiting for the district's CMB manager."""
    await conn.execute(EVENT_REQUEST_ACKNOWLEDGED, rid, district, municipality, kind,
                       json.dumps(windows), attendees, at)


async def event_request_decided(conn: Connection, rid: UUID, status: str, at: datetime) -> None:
    """Scheduled, declined or withdrawn: no longer waiting."""
    await conn.execute(EVENT_REQUEST_DECIDED, rid, status, at)


async def event_request_reminded(conn: Connection, rid: UUID, escalated_to: str) -> None:
    """A reminder (or escalation) went out about a waiting request."""
    await conn.execute(EVENT_REQUEST_REMINDED, rid, escalated_to)


# -- reads ---------------------------------------------------------------------------------------


async def meeting(conn: Connection, meeting_id: UUID) -> dict[str, Any] | None:
    """A meeting's district, kind, times and venue."""
    row = await conn.fetchrow(GET_MEETING, meeting_id)
    return None if row is None else dict(row)


async def situations_on(conn: Connection, meeting_id: UUID) -> list[dict[str, Any]]:
    """The situations scheduled on a meeting, urgent first, then longest waiting."""
    return [dict(r) for r in await conn.fetch(SITUATIONS_ON_MEETING, meeting_id)]


async def situation(conn: Connection, sid: UUID) -> dict[str, Any] | None:
    """A situation's row."""
    row = await conn.fetchrow(GET_SITUATION, sid)
    return None if row is None else dict(row)


async def tasks(conn: Connection, sid: UUID) -> list[dict[str, Any]]:
    """A situation's tasks: lead first."""
    return [dict(r) for r in await conn.fetch(TASKS_OF, sid)]


async def invited(conn: Connection, meeting_id: UUID) -> list[dict[str, Any]]:
    """Who was invited to a meeting, whether their invitation reached them and when they
    acknowledged it."""
    return [dict(r) for r in await conn.fetch(INVITED_TO, meeting_id)]


async def agenda_items(conn: Connection, meeting_id: UUID,
                       agencies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The de-identified agenda items of a meeting that ``agencies`` received, by situation id
    (the first agency's agenda wins)."""
    items: dict[str, dict[str, Any]] = {}
    for row in await conn.fetch(AGENDAS_OF_MEETING, meeting_id, list(agencies)):
        body = row["body"]
        body = json.loads(body) if isinstance(body, str) else body
        for item in body.get("items", []) if isinstance(body, dict) else []:
            items.setdefault(str(item.get("situation_id")), item)
    return items


async def disclosures_of(conn: Connection, agencies: Sequence[str]) -> list[dict[str, Any]]:
    """The packages waiting for ``agencies``, newest first."""
    return [dict(r) for r in await conn.fetch(DISCLOSURES_OF, list(agencies))]


async def disclosure(conn: Connection, disclosure_id: UUID) -> dict[str, Any] | None:
    """One package: its recipient, situation and the JSON intake published."""
    row = await conn.fetchrow(GET_DISCLOSURE, disclosure_id)
    return None if row is None else dict(row)


async def sla_alerts(conn: Connection, districts: Sequence[str], since: datetime,
                     now: datetime) -> list[dict[str, Any]]:
    """Warnings and breaches in ``districts`` from ``since`` to ``now``, newest first, with the
    situation's conclusion if it has one."""
    return [dict(r) for r in await conn.fetch(SLA_ALERTS_OF, list(districts), since, now)]


async def summary(conn: Connection, meeting_id: UUID, sid: UUID) -> dict[str, Any] | None:
    """A situation's de-identified summary from any agenda of its meeting (for an agency assigned
    to it that was not invited, or not yet, to that meeting)."""
    item = await conn.fetchval(SUMMARY_OF, meeting_id, str(sid))
    item = json.loads(item) if isinstance(item, str) else item
    found = item.get("summary") if isinstance(item, dict) else None
    return found if isinstance(found, dict) else None


async def event_requests_waiting(conn: Connection, districts: Sequence[str]) -> list[dict[str, Any]]:
    """Acknowledged requests nobody has scheduled, declined or withdrawn yet, oldest first."""
    out = []
    for r in await conn.fetch(EVENT_REQUESTS_WAITING, list(districts)):
        row = dict(r)
        windows = row["windows"]
        row["windows"] = json.loads(windows) if isinstance(windows, str) else (windows or [])
        out.append(row)
    return out


async def notices_of(conn: Connection, agencies: Sequence[str], limit: int = 50) -> list[dict[str, Any]]:
    """The notices delivered to ``agencies``, newest first."""
    return [dict(r) for r in await conn.fetch(NOTICES_OF, list(agencies), limit)]
