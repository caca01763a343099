"""An in-memory :class:`~services.intake.ports.IntakeStore` for intake's shell tests.

Honest to the SQL of :class:`~services.intake.store.PgIntakeStore` (the contract suite in
``tests/support/contracts/intake_store.py`` runs against both): the same keys are unique (a
second situation, vault row or disclosure id raises asyncpg's ``UniqueViolationError``, as
PostgreSQL does), an answer replaces only a rejected one, a disclosure already made to
a recipient at a stage is not recorded again, a purged situation is not reopened, activity only
moves on. Its timers are an in-memory ``durable_timers``
(:class:`~tests.support.fakes.timers.InMemoryTimerStore`). There are no transactions: locks are
no-ops and nothing is rolled back.

The tables are public so a test can look at what the shell saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from schemas.disclosures import DisclosureSealed
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
from tests.support.fakes.timers import InMemoryTimerStore


@dataclass
class SituationRecord:
    """A row of ``intake.situations``."""

    situation_id: UUID
    agency_id: str
    referral_ref: str
    district: str
    opened_at: datetime
    last_activity_at: datetime
    status: Literal["open", "concluded"] = "open"
    conclusion: str | None = None
    concluded_at: datetime | None = None
    purge_after: datetime | None = None
    purged_at: datetime | None = None
    purge_reason: str | None = None


@dataclass
class TokenRow:
    """A row of ``intake.api_tokens``."""

    agency_id: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class InMemoryIntakeStore:
    """intake's state in dictionaries: one instance stands for the database, shared by every
    "transaction" (``stores=lambda conn: fake``)."""

    def __init__(self) -> None:
        self.referrals: dict[tuple[str, str], Found] = {}
        """Each reference's answer (``situation_status`` is read from the situation)."""
        self.situations: dict[UUID, SituationRecord] = {}
        self.vault: dict[UUID, Sealed] = {}
        self.assignments: dict[tuple[UUID, str], Assignment] = {}
        self.disclosures: list[DisclosureSealed] = []
        """The audit log, in order (the ciphertext is never kept)."""
        self.tokens: dict[bytes, TokenRow] = {}
        """HTTP ingress tokens by hash, in the order issued."""
        self.timers = InMemoryTimerStore()
        """The schema's ``durable_timers``."""

    async def get_referral(self, agency_id: str, referral_ref: str) -> Found | None:
        found = self.referrals.get((agency_id, referral_ref))
        return None if found is None else self._with_status(found)

    async def get_referrals(self, keys: Sequence[tuple[str, str]]
                            ) -> dict[tuple[str, str], Found]:
        return {key: self._with_status(self.referrals[key]) for key in sorted(set(keys))
                if key in self.referrals}

    def _with_status(self, found: Found) -> Found:
        state, key = found
        s = self.situations.get(state.situation_id) if state.situation_id is not None else None
        return replace(state, situation_status=s.status if s is not None else None), key

    async def save_many(self, situations: Sequence[NewSituation],
                        answers: Sequence[Answer]) -> None:
        keys = [(a.agency_id, a.referral_ref) for a in answers]
        if len(set(keys)) < len(keys):  # ON CONFLICT DO UPDATE: a row once per statement
            raise asyncpg.CardinalityViolationError("referrals: one reference answered twice")
        for n in situations:
            if n.situation_id in self.situations or any(
                    (s.agency_id, s.referral_ref) == (n.agency_id, n.referral_ref)
                    for s in self.situations.values()):
                raise asyncpg.UniqueViolationError(f"situation {n.situation_id} or its reference exists")
            self.situations[n.situation_id] = SituationRecord(
                n.situation_id, n.agency_id, n.referral_ref, n.district, n.opened_at, n.opened_at)
        for n in situations:
            self.vault[n.situation_id] = n.sealed
        for a in answers:
            before = self.referrals.get((a.agency_id, a.referral_ref))
            if before is None or before[0].outcome == "rejected":
                self.referrals[(a.agency_id, a.referral_ref)] = (ReferralState(
                    agency_id=a.agency_id, referral_ref=a.referral_ref,
                    fingerprint=a.fingerprint, outcome=a.outcome, answered_at=a.answered_at,
                    situation_id=a.situation_id, district=a.district,
                    reasons=tuple(a.reasons)), a.fingerprint_key)

    async def get_situation(self, situation_id: UUID) -> SituationRow | None:
        s = self.situations.get(situation_id)
        if s is None:
            return None
        return SituationRow(situation_id=s.situation_id, agency_id=s.agency_id,
                            referral_ref=s.referral_ref, district=s.district, status=s.status,
                            conclusion=s.conclusion, purged_at=s.purged_at)

    async def get_vault(self, situation_id: UUID) -> Sealed | None:
        return self.vault.get(situation_id)

    async def conclude(self, situation_id: UUID, conclusion: str, concluded_at: datetime,
                       purge_after: datetime | None) -> None:
        s = self.situations.get(situation_id)
        if s is not None:
            s.status, s.conclusion, s.concluded_at, s.purge_after = (
                "concluded", conclusion, concluded_at, purge_after)

    async def reopen(self, situation_id: UUID) -> None:
        s = self.situations.get(situation_id)
        if s is not None and s.purged_at is None:
            s.status, s.conclusion, s.concluded_at, s.purge_after = "open", None, None, None

    async def purge(self, situation_id: UUID, reason: PurgeReason, now: datetime) -> int:
        count = 1 if self.vault.pop(situation_id, None) is not None else 0
        s = self.situations.get(situation_id)
        if s is not None:
            s.purged_at, s.purge_reason, s.purge_after = now, reason, None
        for key, (state, _) in self.referrals.items():
            if state.situation_id == situation_id:
                self.referrals[key] = replace(state, fingerprint=None), None
        return count

    async def touch(self, activity: Sequence[tuple[UUID, datetime]]) -> None:
        for situation_id, at in activity:
            s = self.situations.get(situation_id)
            if s is not None:
                s.last_activity_at = max(s.last_activity_at, at)

    async def retention_state(self, situation_id: UUID) -> RetentionState | None:
        s = self.situations.get(situation_id)
        if s is None:
            return None
        return RetentionState(s.situation_id, s.district, s.status, s.purge_after, s.purged_at,
                              s.last_activity_at)

    @property
    def timer_store(self) -> InMemoryTimerStore:
        """The schema's durable timers, in memory."""
        return self.timers

    async def save_assignment(self, situation_id: UUID, agency_id: str,
                              assignment: Assignment) -> None:
        self.assignments[(situation_id, agency_id)] = assignment

    async def get_assignment(self, situation_id: UUID, agency_id: str) -> Assignment | None:
        return self.assignments.get((situation_id, agency_id))

    async def record_disclosure(self, disclosure: DisclosureSealed) -> bool:
        if any(d.disclosure_id == disclosure.disclosure_id for d in self.disclosures):
            raise asyncpg.UniqueViolationError(f"disclosure {disclosure.disclosure_id} exists")
        if any((d.situation_id, d.recipient_agency, d.filter_stage) == (
                disclosure.situation_id, disclosure.recipient_agency, disclosure.filter_stage)
               for d in self.disclosures):
            return False
        self.disclosures.append(disclosure.model_copy(update={"ciphertext": ""}))
        return True

    async def add_token(self, token_hash: bytes, agency_id: str, now: datetime,
                        expires_at: datetime) -> None:
        if token_hash in self.tokens:
            raise asyncpg.UniqueViolationError("token hash exists")
        self.tokens[token_hash] = TokenRow(agency_id, now, expires_at)

    async def list_tokens(self, agency_id: str | None) -> list[TokenRecord]:
        return sorted((TokenRecord(h.hex()[:TOKEN_ID_LENGTH], t.agency_id, t.issued_at,
                                   t.expires_at, t.revoked_at)
                       for h, t in self.tokens.items()
                       if agency_id is None or t.agency_id == agency_id),
                      key=lambda t: t.issued_at)

    async def revoke_token(self, token_id: str, now: datetime) -> str | None:
        revoked = [t for h, t in self.tokens.items()
                   if h.hex().startswith(token_id.lower()) and t.revoked_at is None]
        for t in revoked:
            t.revoked_at = now
        return revoked[0].agency_id if revoked else None

    async def agency_for_token(self, token_hash: bytes, now: datetime) -> str | None:
        t = self.tokens.get(token_hash)
        live = t is not None and t.revoked_at is None and t.expires_at > now
        return t.agency_id if live and t is not None else None

    async def referral_status(self, agency_id: str, referral_ref: str) -> ReferralStatus | None:
        found = self.referrals.get((agency_id, referral_ref))
        if found is None:
            return None
        state = found[0]
        return ReferralStatus(outcome=state.outcome, situation_id=state.situation_id,
                              district=state.district,
                              reasons=[r.model_dump(mode="json") for r in state.reasons],
                              answered_at=state.answered_at)
