"""intake's PostgreSQL adapter: named SQL statements and typed reads/writes (schema ``intake``).

:class:`PgIntakeStore` is the shell's :class:`~services.intake.ports.IntakeStore`, bound to the
caller's connection, so it joins the caller's transaction (the consumer runtime's, with the inbox
and outbox). No statement is built from values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.disclosures import DisclosureSealed
from schemas.referrals import Reason
from services.intake.decide import ReferralState
from services.intake.ports import (
    TOKEN_ID_LENGTH,
    Answer,
    Assignment,
    Found,
    NewSituation,
    ReferralStatus,
    RetentionState,
    SituationRow,
    TokenRecord,
)
from services.intake.retention import PurgeReason
from services.intake.vault import Sealed
from services.runtime.db import Connection
from services.runtime.timers import PgTimerStore, TimerStore

LOCK_REFERENCES = """
SELECT pg_advisory_xact_lock(h)
FROM (SELECT DISTINCT hashtextextended(a || '/' || r, 2020) AS h
      FROM unnest($1::text[], $2::text[]) AS k(a, r)) AS keys
ORDER BY h
"""
"""Lock references whether answered or not (``FOR UPDATE`` only locks rows that exist: two
transactions reading a new reference would both decide it); in hash order, so two batches never
wait for each other in a cycle. A statement of its own: the read after it must take a new
snapshot to see what the transaction it waited for committed."""
GET_REFERRAL = """
SELECT r.agency_id, r.referral_ref, r.fingerprint, r.fingerprint_key, r.outcome, r.situation_id,
       r.district, r.reasons, r.answered_at, s.status
FROM referrals r LEFT JOIN situations s ON s.situation_id = r.situation_id
WHERE r.agency_id = $1 AND r.referral_ref = $2
FOR UPDATE OF r
"""
GET_REFERRALS = """
SELECT r.agency_id, r.referral_ref, r.fingerprint, r.fingerprint_key, r.outcome, r.situation_id,
       r.district, r.reasons, r.answered_at, s.status
FROM referrals r LEFT JOIN situations s ON s.situation_id = r.situation_id
WHERE (r.agency_id, r.referral_ref) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY r.agency_id, r.referral_ref
FOR UPDATE OF r
"""
SAVE_MANY = """
WITH new_situations AS (
    INSERT INTO situations (situation_id, agency_id, referral_ref, district, opened_at,
                            last_activity_at)
    SELECT i, a, r, d, o, o
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS t(i, a, r, d, o)
), new_vault AS (
    INSERT INTO vault (situation_id, key_id, nonce, ciphertext, stored_at)
    SELECT * FROM unnest($1::uuid[], $6::text[], $7::bytea[], $8::bytea[], $5::timestamptz[])
)
INSERT INTO referrals (agency_id, referral_ref, fingerprint, fingerprint_key, outcome,
                       situation_id, district, reasons, answered_at)
SELECT a, r, f, k, o, i, d, rs::jsonb, at
FROM unnest($9::text[], $10::text[], $11::bytea[], $12::text[], $13::text[], $14::uuid[],
            $15::text[], $16::text[], $17::timestamptz[]) AS t(a, r, f, k, o, i, d, rs, at)
ON CONFLICT (agency_id, referral_ref) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, fingerprint_key = EXCLUDED.fingerprint_key,
    outcome = EXCLUDED.outcome, situation_id = EXCLUDED.situation_id,
    district = EXCLUDED.district, reasons = EXCLUDED.reasons, answered_at = EXCLUDED.answered_at
WHERE referrals.outcome = 'rejected'
"""
"""A batch's writes in one statement: the situations opened ``$1..$5`` with their vault rows
(``$1``, ``$6..$8``, stored at ``$5``), and the answers ``$9..$17`` (distinct references; one
answered before is replaced only if it was a rejection). The vault's foreign key is checked at the
statement's end, when the situations beside it are there."""
TOUCH_SITUATIONS = """
UPDATE situations s SET last_activity_at = greatest(s.last_activity_at, t.at)
FROM (SELECT id, max(at) AS at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
      GROUP BY id) t
WHERE s.situation_id = t.id
"""
GET_VAULT = "SELECT key_id, nonce, ciphertext FROM vault WHERE situation_id = $1"
GET_SITUATION = """
SELECT situation_id, agency_id, referral_ref, district, status, conclusion, purge_after, purged_at
FROM situations WHERE situation_id = $1 FOR UPDATE
"""
CONCLUDE = """
UPDATE situations SET status = 'concluded', conclusion = $2, concluded_at = $3, purge_after = $4
WHERE situation_id = $1
"""
REOPEN = """
UPDATE situations SET status = 'open', conclusion = NULL, concluded_at = NULL, purge_after = NULL
WHERE situation_id = $1 AND purged_at IS NULL
"""
DELETE_VAULT = "DELETE FROM vault WHERE situation_id = $1"
MARK_PURGED = """
UPDATE situations SET purged_at = $2, purge_reason = $3, purge_after = NULL WHERE situation_id = $1
"""
FORGET_FINGERPRINT = """
UPDATE referrals SET fingerprint = NULL, fingerprint_key = NULL WHERE situation_id = $1
"""
RETENTION_STATE = """
SELECT situation_id, district, status, purge_after, purged_at, last_activity_at
FROM situations WHERE situation_id = $1 FOR UPDATE NOWAIT
"""
UPSERT_ASSIGNMENT = """
INSERT INTO assignments (situation_id, agency_id, role, identity_release) VALUES ($1, $2, $3, $4)
ON CONFLICT (situation_id, agency_id) DO UPDATE SET role = EXCLUDED.role,
    identity_release = EXCLUDED.identity_release
"""
GET_ASSIGNMENT = """
SELECT role, identity_release FROM assignments WHERE situation_id = $1 AND agency_id = $2
"""
INSERT_DISCLOSURE = """
INSERT INTO disclosures (disclosure_id, situation_id, disclosing_agency, recipient_agency,
                         recipient_key_id, fields, legal_basis, filter_stage, purpose, sealed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (situation_id, recipient_agency, filter_stage) DO NOTHING
RETURNING true
"""


# -- HTTP ingress -----------------------------------------------------------------------------

INSERT_CREDENTIAL = """
INSERT INTO api_tokens (token_hash, agency_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)
"""
SELECT_AGENCY_BY_HASH = """
SELECT agency_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
"""
REVOKE_BY_ID = """
UPDATE api_tokens SET revoked_at = $2
WHERE encode(token_hash, 'hex') LIKE $1 || '%' AND revoked_at IS NULL
RETURNING agency_id
"""
LIST_TOKENS = """
SELECT encode(token_hash, 'hex') AS hash, agency_id, issued_at, expires_at, revoked_at
FROM api_tokens WHERE $1::text IS NULL OR agency_id = $1 ORDER BY issued_at
"""
GET_STATUS = """
SELECT outcome, situation_id, district, reasons, answered_at FROM referrals
WHERE agency_id = $1 AND referral_ref = $2
"""


class PgIntakeStore:
    """:class:`~services.intake.ports.IntakeStore` on PostgreSQL, bound to the connection of
    the caller's transaction (the consumer runtime's, with the inbox and outbox)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.timer_store: TimerStore = PgTimerStore(conn)

    async def get_referral(self, agency_id: str, referral_ref: str) -> Found | None:
        """The state of a reference (locked for this transaction) and its fingerprint key id."""
        await self._conn.execute(LOCK_REFERENCES, [agency_id], [referral_ref])
        row = await self._conn.fetchrow(GET_REFERRAL, agency_id, referral_ref)
        return None if row is None else _referral_state(row)

    async def get_referrals(self, keys: Sequence[tuple[str, str]]
                            ) -> dict[tuple[str, str], Found]:
        """:meth:`get_referral` for many ``(agency_id, referral_ref)`` in one statement (locked in
        key order); the keys never answered are absent."""
        agencies, refs = [a for a, _ in keys], [r for _, r in keys]
        await self._conn.execute(LOCK_REFERENCES, agencies, refs)
        rows = await self._conn.fetch(GET_REFERRALS, agencies, refs)
        return {(row["agency_id"], row["referral_ref"]): _referral_state(row) for row in rows}

    async def save_many(self, situations: Sequence[NewSituation],
                        answers: Sequence[Answer]) -> None:
        """The situation and vault rows, and the answers, of a batch (one statement)."""
        if not (situations or answers):
            return
        await self._conn.execute(
            SAVE_MANY, [n.situation_id for n in situations], [n.agency_id for n in situations],
            [n.referral_ref for n in situations], [n.district for n in situations],
            [n.opened_at for n in situations], [n.sealed.key_id for n in situations],
            [n.sealed.nonce for n in situations], [n.sealed.ciphertext for n in situations],
            [a.agency_id for a in answers], [a.referral_ref for a in answers],
            [a.fingerprint for a in answers], [a.fingerprint_key for a in answers],
            [a.outcome for a in answers], [a.situation_id for a in answers],
            [a.district for a in answers],
            [json.dumps([r.model_dump(mode="json") for r in a.reasons]) for a in answers],
            [a.answered_at for a in answers])

    async def get_situation(self, situation_id: UUID) -> SituationRow | None:
        """A situation intake opened (locked for this transaction), or ``None``."""
        row = await self._conn.fetchrow(GET_SITUATION, situation_id)
        if row is None:
            return None
        return SituationRow(situation_id=row["situation_id"], agency_id=row["agency_id"],
                            referral_ref=row["referral_ref"], district=row["district"],
                            status=row["status"], conclusion=row["conclusion"],
                            purged_at=row["purged_at"])

    async def get_vault(self, situation_id: UUID) -> Sealed | None:
        """The encrypted identified block of a situation, or ``None`` once purged."""
        row = await self._conn.fetchrow(GET_VAULT, situation_id)
        if row is None:
            return None
        return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))

    async def conclude(self, situation_id: UUID, conclusion: str, concluded_at: datetime,
                       purge_after: datetime | None) -> None:
        """Mark a situation concluded, with when its identity becomes due for purge."""
        await self._conn.execute(CONCLUDE, situation_id, conclusion, concluded_at, purge_after)

    async def reopen(self, situation_id: UUID) -> None:
        """A reopened situation keeps its identity until it concludes again."""
        await self._conn.execute(REOPEN, situation_id)

    async def purge(self, situation_id: UUID, reason: PurgeReason, now: datetime) -> int:
        """Destroy a situation's identified data; returns how many vault rows were deleted."""
        status = await self._conn.execute(DELETE_VAULT, situation_id)
        await self._conn.execute(MARK_PURGED, situation_id, now, reason)
        await self._conn.execute(FORGET_FINGERPRINT, situation_id)
        return int(status.rsplit(" ", 1)[1])

    async def touch(self, activity: Sequence[tuple[UUID, datetime]]) -> None:
        """Record activity on situations at the events' times (one statement)."""
        if activity:
            await self._conn.execute(TOUCH_SITUATIONS, [s for s, _ in activity],
                                     [at for _, at in activity])

    async def retention_state(self, situation_id: UUID) -> RetentionState | None:
        """What the retention timers decide on (locked ``NOWAIT``), or ``None``."""
        r = await self._conn.fetchrow(RETENTION_STATE, situation_id)
        if r is None:
            return None
        return RetentionState(r["situation_id"], r["district"], r["status"], r["purge_after"],
                              r["purged_at"], r["last_activity_at"])

    async def save_assignment(self, situation_id: UUID, agency_id: str,
                              assignment: Assignment) -> None:
        """Remember an agency's role in a situation (for a Filter 4 disclosure later)."""
        await self._conn.execute(UPSERT_ASSIGNMENT, situation_id, agency_id, assignment.role,
                                 assignment.identity_release)

    async def get_assignment(self, situation_id: UUID, agency_id: str) -> Assignment | None:
        """An agency's role in a situation, or ``None``."""
        row = await self._conn.fetchrow(GET_ASSIGNMENT, situation_id, agency_id)
        return None if row is None else Assignment(row["role"], row["identity_release"])

    async def record_disclosure(self, disclosure: DisclosureSealed) -> bool:
        """Append to the audit log; False when this recipient already got this stage's package."""
        d = disclosure
        return bool(await self._conn.fetchval(
            INSERT_DISCLOSURE, d.disclosure_id, d.situation_id, d.disclosing_agency,
            d.recipient_agency, d.recipient_key_id, list(d.fields), d.legal_basis,
            d.filter_stage, d.purpose, d.sealed_at))

    async def add_token(self, token_hash: bytes, agency_id: str, now: datetime,
                        expires_at: datetime) -> None:
        """Keep the hash of a newly issued bearer token."""
        await self._conn.execute(INSERT_CREDENTIAL, token_hash, agency_id, now, expires_at)

    async def list_tokens(self, agency_id: str | None) -> list[TokenRecord]:
        """Every token (of ``agency_id``, or all), oldest first."""
        return [TokenRecord(r["hash"][:TOKEN_ID_LENGTH], r["agency_id"], r["issued_at"],
                            r["expires_at"], r["revoked_at"])
                for r in await self._conn.fetch(LIST_TOKENS, agency_id)]

    async def revoke_token(self, token_id: str, now: datetime) -> str | None:
        """Revoke the live token whose id is ``token_id``; its agency, or ``None`` if none."""
        value = await self._conn.fetchval(REVOKE_BY_ID, token_id.lower(), now)
        return None if value is None else str(value)

    async def agency_for_token(self, token_hash: bytes, now: datetime) -> str | None:
        """The agency a live (not revoked, not expired) token belongs to, or ``None``."""
        value = await self._conn.fetchval(SELECT_AGENCY_BY_HASH, token_hash, now)
        return None if value is None else str(value)

    async def referral_status(self, agency_id: str, referral_ref: str) -> ReferralStatus | None:
        """The recorded answer to a reference, or ``None``."""
        row = await self._conn.fetchrow(GET_STATUS, agency_id, referral_ref)
        return None if row is None else _status(row)


def _referral_state(row: Any) -> Found:
    reasons = tuple(Reason.model_validate(r) for r in json.loads(row["reasons"]))
    state = ReferralState(
        agency_id=row["agency_id"], referral_ref=row["referral_ref"],
        fingerprint=bytes(row["fingerprint"]) if row["fingerprint"] is not None else None,
        outcome=row["outcome"], answered_at=row["answered_at"], situation_id=row["situation_id"],
        district=row["district"], reasons=reasons, situation_status=row["status"],
    )
    return state, row["fingerprint_key"]


def _status(row: Any) -> ReferralStatus:
    return ReferralStatus(outcome=row["outcome"], situation_id=row["situation_id"],
                          district=row["district"], reasons=json.loads(row["reasons"]),
                          answered_at=row["answered_at"])
