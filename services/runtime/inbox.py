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
SELECT $1, s, e FROM unnest($2::text[], $3::text[], $4::bool[]) AS t(s, e, claim)
WHERE NOT claim OR pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || s || ' ' || e, 0))
ON CONFLICT DO NOTHING
RETURNING source, event_id
"""
"""A batch's inbox rows, where a record marked ``claim`` is first claimed for the transaction (an
advisory lock on its inbox key); one that another transaction has claimed is not recorded (as a
duplicate is not) instead of waiting until that transaction ends."""


async def record_handled(conn: Connection, consumer: str, source: str, event_id: str) -> bool:
    """Record the event as handled by ``consumer``; False when it already was (a redelivery)."""
    return bool(await conn.fetchval(RECORD, consumer, source, event_id))


async def record_many(conn: Connection, consumer: str, keys: Sequence[tuple[str, str]],
                      claims: Sequence[bool] | None = None) -> list[bool]:
    """Record a batch of events ``(source, event_id)`` as handled by ``consumer`` in one
    statement; per key, False when it already was (a redelivery, or a repeat earlier in
    ``keys``) or, for a key whose ``claims`` entry is true, while another transaction handles it
    (:data:`RECORD_MANY`: a record that comes two ways in, left to the way that has it)."""
    if not keys:
        return []
    rows = await conn.fetch(RECORD_MANY, consumer, [s for s, _ in keys], [e for _, e in keys],
                            [False] * len(keys) if claims is None else list(claims))
    fresh = {(r["source"], r["event_id"]) for r in rows}
    out = []
    for key in keys:
        out.append(key in fresh)
        fresh.discard(key)
    return out
