"""intake's port to its state: the :class:`IntakeStore` protocol and the values it carries.

The shells (:mod:`services.intake.handlers`, :mod:`services.intake.purging`, the HTTP ingress
:mod:`services.intake.ingress` and the ``commande intake tokens`` commands) talk to this
protocol only, so it runs as well on :class:`services.intake.store.PgIntakeStore` (PostgreSQL,
bound to one transaction's connection) as on the in-memory fake of the tests; both pass one
contract suite (``tests/support/contracts/intake_store.py``). A store is made per transaction,
so no method takes a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from schemas.disclosures import DisclosureSealed
from schemas.referrals import Reason
from services.intake.decide import Outcome, ReferralState
from services.intake.retention import PurgeReason
from services.intake.vault import Sealed
from services.runtime.timers import TimerStore


@dataclass(frozen=True, slots=True)
class SituationRow:
    """What intake keeps of a situation it opened."""

    situation_id: UUID
    agency_id: str
    referral_ref: str
    district: str
    status: str
    conclusion: str | None
    purged_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetentionState:
    """What the retention timers read of a situation (:meth:`IntakeStore.retention_state`)."""

    situation_id: UUID
    district: str
    status: str
    purge_after: datetime | None
    purged_at: datetime | None
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class NewSituation:
    """A situation intake opens, with its sealed identity (for :meth:`IntakeStore.save_many`)."""

    situation_id: UUID
    agency_id: str
    referral_ref: str
    district: str
    sealed: Sealed
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer recorded to a reference (a rejected one may be replaced by a later answer)."""

    agency_id: str
    referral_ref: str
    fingerprint: bytes
    fingerprint_key: str
    outcome: Outcome
    situation_id: UUID | None
    district: str | None
    reasons: Sequence[Reason]
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralStatus:
    """The answer recorded to a reference, as its agency may read it back (``reasons`` as JSON)."""

    outcome: Outcome
    situation_id: UUID | None
    district: str | None
    reasons: list[dict[str, Any]]
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is kept of an HTTP ingress token (never the token): a public id (the first
    ``TOKEN_ID_LENGTH`` hex digits of its hash), whose it is, and its life."""

    token_id: str
    agency_id: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


TOKEN_ID_LENGTH = 12
"""Hex digits of a token's hash that name it in ``tokens list`` and ``tokens revoke``."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """An agency's role in a situation and the stage the table releases identity at."""

    role: str
    identity_release: str


Found = tuple[ReferralState, str | None]
"""A reference's state and the vault key id its fingerprint was made with."""


class IntakeStore(Protocol):
    """intake's state, within one transaction. Reads that the shell decides on lock what they
    read (PostgreSQL: ``FOR UPDATE``) until the transaction ends; a fake may ignore locks."""

    async def get_referral(self, agency_id: str, referral_ref: str) -> Found | None:
        """The state of a reference (with its situation's status), or ``None`` if never answered;
        the reference is locked either way (a second transaction reading it waits for this one)."""
        ...

    async def get_referrals(self, keys: Sequence[tuple[str, str]]
                            ) -> dict[tuple[str, str], Found]:
        """:meth:`get_referral` for many ``(agency_id, referral_ref)``; unanswered keys are absent."""
        ...

    async def save_many(self, situations: Sequence[NewSituation],
                        answers: Sequence[Answer]) -> None:
        """Open situations (each with its vault row, activity at its opening) and record answers,
        at once. An answer replaces an earlier one only when that one was ``rejected``; the
        answers name distinct references (two to one reference in one call are refused:
        ``asyncpg.CardinalityViolationError``)."""
        ...

    async def get_situation(self, situation_id: UUID) -> SituationRow | None:
        """A situation intake opened, or ``None``."""
        ...

    async def get_vault(self, situation_id: UUID) -> Sealed | None:
        """The encrypted identified block of a situation, or ``None`` (never stored, or purged)."""
        ...

    async def conclude(self, situation_id: UUID, conclusion: str, concluded_at: datetime,
                       purge_after: datetime | None) -> None:
        """Mark a situation concluded, with when its identity becomes due for purge (``None``:
        not by date)."""
        ...

    async def reopen(self, situation_id: UUID) -> None:
        """Open a concluded situation again (its purge date goes); a purged one stays as it is."""
        ...

    async def purge(self, situation_id: UUID, reason: PurgeReason, now: datetime) -> int:
        """Destroy a situation's identified data (its vault row, its reference's fingerprint)
        and mark it purged; returns how many vault rows were deleted."""
        ...

    async def touch(self, activity: Sequence[tuple[UUID, datetime]]) -> None:
        """Record activity ``(situation, at)`` (each situation keeps its latest activity)."""
        ...

    async def retention_state(self, situation_id: UUID) -> RetentionState | None:
        """What the retention timers decide on, the situation locked without waiting
        (``asyncpg.LockNotAvailableError`` when another transaction holds it: the timer loop,
        holding the timer's row, never waits for a situation a handler holds while it moves
        that situation's timers), or ``None``."""
        ...

    @property
    def timer_store(self) -> TimerStore:
        """The schema's durable timers (the runtime's, :mod:`services.runtime.timers`), in the
        same transaction: a situation's retention and inactivity timers
        (:mod:`services.intake.purging`)."""
        ...

    async def save_assignment(self, situation_id: UUID, agency_id: str,
                              assignment: Assignment) -> None:
        """Remember (or replace) an agency's role in a situation."""
        ...

    async def get_assignment(self, situation_id: UUID, agency_id: str) -> Assignment | None:
        """An agency's role in a situation, or ``None``."""
        ...

    async def record_disclosure(self, disclosure: DisclosureSealed) -> bool:
        """Append a disclosure (without its ciphertext) to the audit log; ``False`` when this
        recipient already got this stage's package for the situation (nothing recorded)."""
        ...

    # -- HTTP ingress: bearer tokens (only their SHA-256 hashes) and answers read back ----------

    async def add_token(self, token_hash: bytes, agency_id: str, now: datetime,
                        expires_at: datetime) -> None:
        """Keep the hash of a newly issued bearer token of ``agency_id``."""
        ...

    async def list_tokens(self, agency_id: str | None) -> list[TokenRecord]:
        """Every token (of ``agency_id``, or all), oldest first."""
        ...

    async def revoke_token(self, token_id: str, now: datetime) -> str | None:
        """Revoke the live token(s) whose hash starts with ``token_id`` (hex, any case); their
        agency, or ``None`` when no live token has that id."""
        ...

    async def agency_for_token(self, token_hash: bytes, now: datetime) -> str | None:
        """The agency of a live (not revoked, not expired at ``now``) token, or ``None``."""
        ...

    async def referral_status(self, agency_id: str, referral_ref: str) -> ReferralStatus | None:
        """The recorded answer to a reference, or ``None`` (no lock: a read for the agency)."""
        ...
