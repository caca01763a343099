"""What analytics knows about one situation, folded from the situations stream.

``fold(facts, envelope) -> facts`` is pure: frozen dataclasses, no clock, no I/O. A situation's
events are keyed (and so ordered) by its id, so the fold is applied per situation; the keyed store
of states belongs to the shell (a dict in a replay, a table row in a live read model), which is
what lets a replay and a live model share this code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
    SlaBreached,
    SlaWarning,
)

CONCLUSION_FOR_DECISION = {"rejected": "rejected_not_aer", "returned": "returned_to_originator"}
"""A Filter 2 rejection or return ends a situation even before its ``SituationConcluded``."""


@dataclass(frozen=True, slots=True)
class SituationFacts:
    """The de-identified facts of one situation that the exports and statistics need.

    ``first_answers`` holds, per assigned agency, its first move out of ``requested`` (accepted,
    rejected, cancelled, ...); an agency still ``requested`` is absent.
    """

    situation_id: UUID
    opened_at: datetime | None = None
    district: str | None = None
    originating_agency: str | None = None
    priority: str | None = None
    situation_type: str | None = None
    persons: tuple[tuple[str, str], ...] = ()
    """(age group, gender) per person concerned."""
    risk_factors: tuple[str, ...] = ()
    protective_factors: tuple[str, ...] = ()
    study_flags: tuple[str, ...] = ()
    decision: str | None = None
    decided_at: datetime | None = None
    confirmed_at: datetime | None = None
    """The first AER confirmation: the start of the service mobilization time."""
    lead_agency: str | None = None
    assisting_agencies: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    """Every agency ever assigned (lead or assisting), in order of assignment."""
    first_answers: tuple[tuple[str, str], ...] = ()
    first_contact_at: datetime | None = None
    services_mobilized: tuple[str, ...] = ()
    outcome: str | None = None
    conclusion: str | None = None
    concluded_at: datetime | None = None
    sla_warnings: tuple[str, ...] = ()
    sla_breaches: tuple[str, ...] = ()
    reopened: int = 0

    @property
    def final_conclusion(self) -> str | None:
        """The conclusion code, or the one a rejection or return implies; ``None`` while open."""
        if self.conclusion is not None:
            return self.conclusion
        if self.decision is not None:
            return CONCLUSION_FOR_DECISION.get(self.decision)
        return None

    @property
    def closed_at(self) -> datetime | None:
        """When it was concluded, or decided (rejected or returned) when not concluded."""
        if self.concluded_at is not None:
            return self.concluded_at
        return self.decided_at if self.final_conclusion is not None else None

    @property
    def rejected(self) -> bool:
        """Rejected as not AER at Filter 2 (its export is redacted, domain.md section 4)."""
        return self.decision == "rejected" or self.final_conclusion == "rejected_not_aer"

    @property
    def mobilization_hours(self) -> float | None:
        """Service mobilization time: AER confirmed to first contact, in hours."""
        if self.confirmed_at is None or self.first_contact_at is None:
            return None
        seconds = (self.first_contact_at - self.confirmed_at).total_seconds()
        return seconds / 3600.0 if seconds >= 0 else None


def fold(facts: SituationFacts | None, envelope: Envelope[Message]) -> SituationFacts | None:
    """The facts after ``envelope``; events of other streams and unknown types change nothing.

    Args:
        facts: the situation's facts so far, ``None`` before its first event.
        envelope: the next event of that situation (in the order of its partition).

    Returns:
        New facts (the old value is never modified), or ``facts`` itself when nothing applies.
    """
    event = envelope.event
    situation_id = getattr(event, "situation_id", None)
    if not isinstance(situation_id, UUID) or not isinstance(event, _HANDLED):
        return facts
    base = facts if facts is not None else SituationFacts(situation_id=situation_id)
    return _evolve(base, event)


def _evolve(f: SituationFacts, event: Message) -> SituationFacts:
    if isinstance(event, SituationOpened):
        s = event.summary
        return _replace(
            f, opened_at=event.opened_at, district=event.district,
            originating_agency=event.originating_agency, priority=event.priority,
            situation_type=s.situation_type,
            persons=tuple((p.age_group, p.gender) for p in s.persons),
            risk_factors=s.risk_factors, protective_factors=s.protective_factors,
            study_flags=s.study_flags,
        )
    if isinstance(event, AerDecisionRecorded):
        confirmed = f.confirmed_at
        if event.decision == "confirmed" and confirmed is None:
            confirmed = event.decided_at
        return _replace(f, decision=event.decision, decided_at=event.decided_at,
                       confirmed_at=confirmed)
    if isinstance(event, AgenciesAssigned):
        agencies = (event.lead.agency_id, *(t.agency_id for t in event.assisting))
        assigned = f.assigned + tuple(a for a in agencies if a not in f.assigned)
        return _replace(f, lead_agency=event.lead.agency_id, assisting_agencies=agencies[1:],
                       assigned=assigned)
    if isinstance(event, AssignmentResponded):
        answered = {agency for agency, _ in f.first_answers}
        if event.from_state != "requested" or event.agency_id in answered:
            return f
        return _replace(f, first_answers=(*f.first_answers, (event.agency_id, event.to_state)))
    if isinstance(event, InterventionRecorded):
        first = f.first_contact_at
        if event.first_contact_at is not None and (first is None or event.first_contact_at < first):
            first = event.first_contact_at
        mobilized = f.services_mobilized + tuple(
            s for s in event.services_mobilized if s not in f.services_mobilized)
        return _replace(f, first_contact_at=first, services_mobilized=mobilized,
                       outcome=event.outcome)
    if isinstance(event, SituationConcluded):
        return _replace(f, conclusion=event.conclusion, concluded_at=event.concluded_at)
    if isinstance(event, SituationReopened):
        return _replace(f, conclusion=None, concluded_at=None, decision=None, decided_at=None,
                       reopened=f.reopened + 1)
    if isinstance(event, SlaWarning):
        return _replace(f, sla_warnings=(*f.sla_warnings, event.sla))
    if isinstance(event, SlaBreached):
        return _replace(f, sla_breaches=(*f.sla_breaches, event.sla))
    return f  # pragma: no cover - _HANDLED lists exactly the types above


_FIELDS = tuple(f.name for f in fields(SituationFacts))
_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_values = attrgetter(*_FIELDS)


def _replace(f: SituationFacts, **changes: Any) -> SituationFacts:
    """``dataclasses.replace(f, **changes)`` at half the cost: the fold makes one per event, and
    ``replace`` spends more on its per-field bookkeeping than on building the new facts."""
    values = list(_values(f))
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return SituationFacts(*values)


_HANDLED = (
    SituationOpened, AerDecisionRecorded, AgenciesAssigned, AssignmentResponded,
    InterventionRecorded, SituationConcluded, SituationReopened, SlaWarning, SlaBreached,
)

FOLDED: frozenset[str] = frozenset(model.ce_type for model in _HANDLED)
"""The ``ce_type`` values :func:`fold` reads: every other event leaves the facts as they are."""
