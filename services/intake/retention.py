"""How long identified data is kept (pure).

Rejected (not AER), returned and withdrawn situations are purged at once; any other conclusion
after the configured retention period (default 90 days), long enough for access requests. A
situation that never concludes does not keep identity for ever: with no activity (a decision, an
assignment, an answer, a door knock) for the maximum retention (default 180 days) it is purged
as ``inactive``, and the table's chair is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from schemas.reference import Reference
from schemas.situations import IdentityPurged
from services.runtime.timers import Timer

PurgeReason = Literal["retention_expired", "rejected_not_aer", "returned", "withdrawn",
                      "inactive"]

_IMMEDIATE: dict[str, PurgeReason] = {
    "rejected": "rejected_not_aer", "returned": "returned", "withdrawn": "withdrawn",
}


def immediate_purge_reason(conclusion: str, reference: Reference) -> PurgeReason | None:
    """The purge reason when ``conclusion`` means "purge now", else ``None``.

    An unknown conclusion code is kept for the full period (the safe side for access requests
    is not the safe side for privacy, but an unknown code is a reference-data gap to fix, and a
    purge cannot be undone).
    """
    if conclusion == "withdrawn":
        return "withdrawn"
    outcome = next((c.outcome for c in reference.conclusions if c.code == conclusion), None)
    return _IMMEDIATE.get(outcome) if outcome is not None else None


def purge_after(concluded_at: datetime, retention_days: int) -> datetime:
    """When a concluded situation's identity becomes due for purge."""
    return concluded_at + timedelta(days=retention_days)


def inactive_since(now: datetime, inactive_days: int) -> datetime:
    """An open situation whose last activity is at or before this has been inactive too long."""
    return now - timedelta(days=inactive_days)


@dataclass(frozen=True, slots=True)
class KeepUntil:
    """A concluded situation keeps its identity until ``purge_after``."""

    purge_after: datetime


@dataclass(frozen=True, slots=True)
class PurgeNow:
    """A concluded situation loses its identity at once, for ``reason``."""

    reason: PurgeReason


def on_conclusion(conclusion: str, concluded_at: datetime, reference: Reference,
                  retention_days: int) -> KeepUntil | PurgeNow:
    """What a conclusion means for the situation's identity: purged now, or kept until due."""
    reason = immediate_purge_reason(conclusion, reference)
    if reason is None:
        return KeepUntil(purge_after(concluded_at, retention_days))
    return PurgeNow(reason)


def purged(situation_id: UUID, reason: PurgeReason, records_purged: int, now: datetime,
           district: str | None = None) -> IdentityPurged:
    """The fact that a situation's identity was destroyed (with its district when the table's
    chair must be told, as for an ``inactive`` purge)."""
    return IdentityPurged(situation_id=situation_id, purged_at=now, reason=reason,
                          records_purged=records_purged, district=district)


RETENTION_TIMER = "identity_retention"
"""A concluded situation's timer: due at its ``purge_after``."""
INACTIVE_TIMER = "identity_inactive"
"""An open situation's timer: due ``inactive_days`` after its last activity (looked at again
then, when there was activity since it was set)."""
TIMER_KINDS = (RETENTION_TIMER, INACTIVE_TIMER)


def timer_key(kind: str, situation_id: UUID) -> str:
    """The key of a situation's retention timer of ``kind`` (one per kind and situation)."""
    return f"{kind}/{situation_id}"


def timer_keys(situation_id: UUID) -> list[str]:
    """The keys of both of a situation's retention timers."""
    return [timer_key(kind, situation_id) for kind in TIMER_KINDS]


def retention_timer(situation_id: UUID, purge_after: datetime) -> Timer:
    """The timer purging a concluded situation's identity at ``purge_after``."""
    return Timer(timer_key(RETENTION_TIMER, situation_id), RETENTION_TIMER, situation_id,
                 purge_after)


def inactivity_timer(situation_id: UUID, due_at: datetime) -> Timer:
    """The timer looking at an open situation's activity at ``due_at``."""
    return Timer(timer_key(INACTIVE_TIMER, situation_id), INACTIVE_TIMER, situation_id, due_at)
