"""The inbox: ``(consumer, ce_source, ce_id)`` recorded in the handler's own transaction."""

from __future__ import annotations

from services.runtime.db import Connection

RECORD = """
INSERT INTO inbox (consumer, source, event_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING true
"""


async def record_handled(conn: Connection, consumer: str, source: str, event_id: str) -> bool:
    """Record the event as handled by ``consumer``; False when it already was (a redelivery)."""
    return bool(await conn.fetchval(RECORD, consumer, source, event_id))
