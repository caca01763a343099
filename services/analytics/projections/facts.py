"""What analytics knows about one situation, folded from the situations stream.

``fold(facts, envelope) -> facts`` is pure: frozen dataclasses, no clock, no I/O. A situation's
events are keyed (and so ordered) by its id, so the fold is applied per situation; the keyed store
of states belongs to the shell (a dict in a replay, a table row in a live read model), which is
what lets a replay and a live model share this code.

A replay folds hundreds of thousands of events, and building a new 25-field ``SituationFacts`` for
each costs more than the rest of the fold: :class:`Folder` keeps one mutable :class:`Draft` per
situation instead and freezes each once, when its states are read. Both apply the same steps (one
function per event type, on a draft), so they give the same facts; a step reads an event's fields
by name, so it folds a contract model or its view (:mod:`schemas.views`) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Protocol
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
from schemas.views import (
    AerDecisionRecordedView,
    AgenciesAssignedView,
    AssignmentRespondedView,
    InterventionRecordedView,
    SituationConcludedView,
    SituationOpenedView,
    SituationReopenedView,
    SlaBreachedView,
    SlaWarningView,
    View,
)

CONCLUSION_FOR_DECISION = {"rejected": "rejected_not_aer", "returned": "returned_to_originator"}
"""A Filter 2 rejection or return ends a situation even before its ``SituationConcluded``."""


class Derived:
    """What the statistics derive from a situation's facts: of :class:`SituationFacts`, and of a
    :class:`Draft` alike (``summarize`` reads a replay's drafts without freezing them)."""

    __slots__ = ()
    decision: str | None
    decided_at: datetime | None
    confirmed_at: datetime | None
    first_contact_at: datetime | None
    conclusion: str | None
    concluded_at: datetime | None

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


@dataclass(frozen=True, slots=True)
class SituationFacts(Derived):
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


def fold(facts: SituationFacts | None, envelope: Envelope[Message]) -> SituationFacts | None:
    """The facts after ``envelope``; events of other streams and unknown types change nothing.

    Args:
        facts: the situation's facts so far, ``None`` before its first event.
        envelope: the next event of that situation (in the order of its partition).

    Returns:
        New facts (the old value is never modified), or ``facts`` itself for an event it does
        not fold.
    """
    event = envelope.event
    situation_id = getattr(event, "situation_id", None)
    if not isinstance(situation_id, UUID) or not isinstance(event, _HANDLED):
        return facts
    draft = Draft(situation_id) if facts is None else Draft.of(facts)
    _STEPS[event.ce_type](draft, event)
    return draft.freeze()


@dataclass(slots=True)
class Draft(Derived):
    """:class:`SituationFacts` while a replay folds them: the same fields, mutable."""

    situation_id: UUID
    opened_at: datetime | None = None
    district: str | None = None
    originating_agency: str | None = None
    priority: str | None = None
    situation_type: str | None = None
    persons: tuple[tuple[str, str], ...] = ()
    risk_factors: tuple[str, ...] = ()
    protective_factors: tuple[str, ...] = ()
    study_flags: tuple[str, ...] = ()
    decision: str | None = None
    decided_at: datetime | None = None
    confirmed_at: datetime | None = None
    lead_agency: str | None = None
    assisting_agencies: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    first_answers: tuple[tuple[str, str], ...] = ()
    first_contact_at: datetime | None = None
    services_mobilized: tuple[str, ...] = ()
    outcome: str | None = None
    conclusion: str | None = None
    concluded_at: datetime | None = None
    sla_warnings: tuple[str, ...] = ()
    sla_breaches: tuple[str, ...] = ()
    reopened: int = 0

    @classmethod
    def of(cls, facts: SituationFacts) -> Draft:
        """A draft holding ``facts``."""
        return cls(*_values(facts))

    def freeze(self) -> SituationFacts:
        """The facts this draft holds."""
        return SituationFacts(*_draft_values(self))


class Folded(Protocol):
    """What :class:`Folder` reads of a record: an envelope, or a decoder's ``Fact``."""

    @property
    def subject(self) -> UUID | None: ...

    @property
    def event(self) -> Message | View: ...


class Folder:
    """The facts of every situation of a replay, folded in place; frozen when read.

    ``apply`` gives each situation the facts :func:`fold` gives (keyed as
    :class:`~services.analytics.projections.Keyed` keys them: by the subject, else by the
    event's situation id), without a new ``SituationFacts`` per event.
    """

    def __init__(self) -> None:
        self._drafts: dict[int, Draft] = {}
        """Keyed by the situation's UUID as an integer: the same order, and a hash in C."""

    def apply(self, record: Folded) -> None:
        """Fold one event into its situation's draft (events it does not fold are ignored)."""
        event = record.event
        step = _STEPS.get(event.ce_type)
        if step is None or not isinstance(event, _FOLDABLE):
            return
        key = record.subject
        if key is None:
            key = event.situation_id
        draft = self._drafts.get(key.int)
        if draft is None:
            draft = self._drafts[key.int] = Draft(event.situation_id)
        step(draft, event)

    def keys(self) -> set[int]:
        """The situations folded (their ids as integers)."""
        return set(self._drafts)

    def states(self) -> Iterator[SituationFacts]:
        """Every situation's facts, in situation-id order (deterministic)."""
        for key in sorted(self._drafts):
            yield self._drafts[key].freeze()

    def drafts(self) -> Iterator[Draft]:
        """Every situation's draft, in situation-id order, not frozen (for ``summarize``, which
        reads them as it reads facts: building 25-field facts costs more than summarizing them).
        """
        for key in sorted(self._drafts):
            yield self._drafts[key]

    def __len__(self) -> int:
        return len(self._drafts)


def _opened(f: Draft, event: SituationOpened | SituationOpenedView) -> None:
    s = event.summary
    f.opened_at = event.opened_at
    f.district = event.district
    f.originating_agency = event.originating_agency
    f.priority = event.priority
    f.situation_type = s.situation_type
    f.persons = tuple((p.age_group, p.gender) for p in s.persons)
    f.risk_factors = s.risk_factors
    f.protective_factors = s.protective_factors
    f.study_flags = s.study_flags


def _decided(f: Draft, event: AerDecisionRecorded | AerDecisionRecordedView) -> None:
    if event.decision == "confirmed" and f.confirmed_at is None:
        f.confirmed_at = event.decided_at
    f.decision = event.decision
    f.decided_at = event.decided_at


def _assigned(f: Draft, event: AgenciesAssigned | AgenciesAssignedView) -> None:
    agencies = (event.lead.agency_id, *(t.agency_id for t in event.assisting))
    f.assigned = f.assigned + tuple(a for a in agencies if a not in f.assigned)
    f.lead_agency = event.lead.agency_id
    f.assisting_agencies = agencies[1:]


def _responded(f: Draft, event: AssignmentResponded | AssignmentRespondedView) -> None:
    if event.from_state != "requested" or any(a == event.agency_id for a, _ in f.first_answers):
        return
    f.first_answers = (*f.first_answers, (event.agency_id, event.to_state))


def _intervened(f: Draft, event: InterventionRecorded | InterventionRecordedView) -> None:
    first = f.first_contact_at
    if event.first_contact_at is not None and (first is None or event.first_contact_at < first):
        f.first_contact_at = event.first_contact_at
    f.services_mobilized = f.services_mobilized + tuple(
        s for s in event.services_mobilized if s not in f.services_mobilized)
    f.outcome = event.outcome


def _concluded(f: Draft, event: SituationConcluded | SituationConcludedView) -> None:
    f.conclusion = event.conclusion
    f.concluded_at = event.concluded_at


def _reopened(f: Draft, event: SituationReopened | SituationReopenedView) -> None:
    f.conclusion = None
    f.concluded_at = None
    f.decision = None
    f.decided_at = None
    f.reopened += 1


def _warned(f: Draft, event: SlaWarning | SlaWarningView) -> None:
    f.sla_warnings = (*f.sla_warnings, event.sla)


def _breached(f: Draft, event: SlaBreached | SlaBreachedView) -> None:
    f.sla_breaches = (*f.sla_breaches, event.sla)


_FIELDS = tuple(f.name for f in fields(SituationFacts))
_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_values = attrgetter(*_FIELDS)
_draft_values = attrgetter(*(f.name for f in fields(Draft)))


def _replace(f: SituationFacts, **changes: Any) -> SituationFacts:
    """``dataclasses.replace(f, **changes)`` at half the cost."""
    values = list(_values(f))
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return SituationFacts(*values)


_HANDLED = (
    SituationOpened, AerDecisionRecorded, AgenciesAssigned, AssignmentResponded,
    InterventionRecorded, SituationConcluded, SituationReopened, SlaWarning, SlaBreached,
)
_STEPS: dict[str, Callable[[Draft, Any], None]] = {
    SituationOpened.ce_type: _opened,
    AerDecisionRecorded.ce_type: _decided,
    AgenciesAssigned.ce_type: _assigned,
    AssignmentResponded.ce_type: _responded,
    InterventionRecorded.ce_type: _intervened,
    SituationConcluded.ce_type: _concluded,
    SituationReopened.ce_type: _reopened,
    SlaWarning.ce_type: _warned,
    SlaBreached.ce_type: _breached,
}
"""``ce_type`` → the step that folds an event of that type (its model or its view)."""
_FOLDABLE = (View, *_HANDLED)

FOLDED: frozenset[str] = frozenset(model.ce_type for model in _HANDLED)
"""The ``ce_type`` values :func:`fold` reads: every other event leaves the facts as they are."""
