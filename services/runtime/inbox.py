"""The inbox: ``(consumer, ce_source, ce_id)`` recorded in the handler's own transaction."""

from __future__ import annotations

from collections.abc import Sequence

from services.runtime.db import Connection

RECORD = """
INSERT INTO inbox (consumer, source, event_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING true
"""
RECORD_MANY = """
INSERT INTO inbox (consumer, source, event_id)
SELECT $1, s, e FROM unnest($2::text[], $3::text[]) AS t(s, e)
ON CONFLICT DO NOTHING
RETURNING source, event_id
"""


async def record_handled(conn: Connection, consumer: str, source: str, event_id: str) -> bool:
    """Record the event as handled by ``consumer``; False when it already was (a redelivery)."""
    return bool(await conn.fetchval(RECORD, consumer, source, event_id))


async def record_many(conn: Connection, consumer: str, keys: Sequence[tuple[str, str]]
                      ) -> list[bool]:
    """Record a batch of events ``(source, event_id)`` as handled by ``consumer`` in one
    statement; per key, False when it already was (a redelivery, or a repeat earlier in
    ``keys``)."""
    if not keys:
        return []
    rows = await conn.fetch(RECORD_MANY, consumer, [s for s, _ in keys], [e for _, e in keys])
    fresh = {(r["source"], r["event_id"]) for r in rows}
    out = []
    for key in keys:
        out.append(key in fresh)
        fresh.discard(key)
    return out
