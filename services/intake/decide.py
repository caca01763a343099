"""What intake answers to a referral, given what it already knows of that reference (pure).

State is per ``(agency_id, referral_ref)``. Decisions are the runtime's one shape (ADR 0012);
``decide_submission`` returns one of:

* :class:`Decided` with an ``accepted`` state: open its situation (``SituationOpened``
  de-identified, ``ReferralAccepted``);
* :class:`Decided` with a ``rejected`` state: ``ReferralRejected`` with every reason (kept, so the
  same content again gets the same answer);
* :class:`Unchanged` ``duplicate_referral``: the same content again: the same answer
  re-published, nothing opened;
* :class:`Unchanged` ``duplicate_ref_conflict``: different content under a reference that opened
  a situation (or whose identity was purged): ``ReferralRejected`` ``duplicate_ref_conflict``.

``decide_withdrawal`` concludes and purges an open situation (:class:`Decided`) or changes
nothing (:class:`Unchanged`, its code says why).

A reference that was *rejected* opened nothing, so a corrected referral under the same reference
is checked afresh (the agency fixes what the reasons said and sends again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Message
from schemas.referrals import (
    Reason,
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
    withheld_ref,
)
from schemas.situations import IdentityPurged, SituationConcluded, SituationOpened
from services.intake.rules import Checked
from services.runtime.decision import Decided, Unchanged

Outcome = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class ReferralState:
    """What intake keeps of one ``(agency_id, referral_ref)``.

    ``fingerprint`` is a keyed hash of the content (``None`` once the identity was purged);
    ``situation_status`` is that of the situation opened, if any.
    """

    agency_id: str
    referral_ref: str
    fingerprint: bytes | None
    outcome: Outcome
    answered_at: datetime
    situation_id: UUID | None = None
    district: str | None = None
    reasons: tuple[Reason, ...] = ()
    situation_status: Literal["open", "concluded"] | None = None


ReferralDecision = Decided[ReferralState, Message]
"""A reference's new state and the events to publish (the runtime's :class:`Decided`)."""

DUPLICATE = "duplicate_referral"
""":class:`Unchanged` code: the same content again; the first answer is published again."""
CONFLICT = "duplicate_ref_conflict"
""":class:`Unchanged` code: other content under a used reference; ``ReferralRejected`` with it."""

CONFLICT_MESSAGE = (
    "This referral_ref was already used for a different referral; submit the new referral "
    "under a new referral_ref, or withdraw the first one."
)


def decide_submission(state: ReferralState | None, event: ReferralSubmitted, checked: Checked,
                      fingerprint: bytes, now: datetime, new_situation_id: UUID
                      ) -> ReferralDecision | Unchanged:
    """Intake's answer to ``event`` (already checked by :func:`services.intake.rules.check`).

    ``fingerprint`` is the content's, made with the key of ``state``'s (the new state carries
    it; the shell stores the one made with the vault's current key)."""
    if state is not None and state.outcome == "accepted":
        if state.fingerprint is not None and state.fingerprint == fingerprint:
            return Unchanged(DUPLICATE, (_accepted(state, now, duplicate=True),))
        return Unchanged(CONFLICT, (_rejected(event, now, (Reason(
            code=CONFLICT, field="referral_ref", message=CONFLICT_MESSAGE),)),))
    if state is not None and state.fingerprint == fingerprint and state.reasons:
        return Unchanged(DUPLICATE, (_rejected(event, now, state.reasons),))
    answered = ReferralState(agency_id=event.agency_id, referral_ref=event.referral_ref,
                             fingerprint=fingerprint, outcome="rejected", answered_at=now)
    if not checked.ok or checked.district is None or checked.municipality is None:
        return Decided(replace(answered, reasons=checked.reasons),
                       (_rejected(event, now, checked.reasons),))
    opened = SituationOpened(  # the municipality as Filter 1 found it: its code
        situation_id=new_situation_id, originating_agency=event.agency_id,
        referral_ref=event.referral_ref, district=checked.district, priority=event.priority,
        opened_at=now, summary=event.summary.situation_summary(checked.municipality),
        aer=event.aer,
    )
    accepted = ReferralAccepted(
        agency_id=event.agency_id, referral_ref=event.referral_ref,
        situation_id=new_situation_id, district=checked.district, accepted_at=now,
    )
    return Decided(replace(answered, outcome="accepted", situation_id=new_situation_id,
                           district=checked.district, situation_status="open"),
                   (opened, accepted))


def decide_withdrawal(state: ReferralState | None, event: ReferralWithdrawn, now: datetime,
                      records_purged: int) -> ReferralDecision | Unchanged:
    """Withdrawing an open situation concludes it as ``withdrawn`` and purges its identity (the
    new state: concluded, no fingerprint)."""
    if state is None:
        return Unchanged("withdrawal_of_unknown_referral")
    if state.outcome != "accepted" or state.situation_id is None:
        return Unchanged("withdrawal_of_rejected_referral")
    if state.situation_status != "open":
        return Unchanged("withdrawal_after_conclusion")
    return Decided(replace(state, fingerprint=None, situation_status="concluded"), (
        SituationConcluded(situation_id=state.situation_id, conclusion="withdrawn",
                           concluded_at=now, concluded_by=None),
        IdentityPurged(situation_id=state.situation_id, purged_at=now, reason="withdrawn",
                       records_purged=records_purged),
    ))


def _accepted(state: ReferralState, now: datetime, *, duplicate: bool) -> ReferralAccepted:
    assert state.situation_id is not None
    assert state.district is not None
    return ReferralAccepted(
        agency_id=state.agency_id, referral_ref=state.referral_ref,
        situation_id=state.situation_id, district=state.district, accepted_at=state.answered_at,
        duplicate=duplicate,
    )


def _rejected(event: ReferralSubmitted, now: datetime,
              reasons: tuple[Reason, ...]) -> ReferralRejected:
    ref = event.referral_ref
    if any(r.code.startswith("referral_ref_") for r in reasons):  # the reference identifies
        ref = withheld_ref(event.agency_id, ref)
    return ReferralRejected(agency_id=event.agency_id, referral_ref=ref, rejected_at=now,
                            reasons=reasons[:100])
