"""Per-situation timeline: every situations-stream event of a situation, in its order.

``fold(timeline, envelope) -> timeline`` is pure; entries carry codes and agency slugs only (the
situations stream is de-identified; narratives are never copied here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    IdentityPurged,
    InterventionRecorded,
    SituationConcluded,
    SituationEvent,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)

_PREFIX = "ca.halton.commande.situation."


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One step of a situation's life.

    Attributes:
        at: the event's own time (``opened_at``, ``decided_at``, ...).
        event: the short event name (``opened``, ``aer_decision_recorded``, ...).
        detail: a de-identified code summary (decision, conclusion, agencies, SLA kind...).
    """

    at: datetime
    event: str
    detail: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """A situation's timeline (entries in the order of its partition)."""

    situation_id: UUID
    entries: tuple[TimelineEntry, ...] = ()


def fold(timeline: Timeline | None, envelope: Envelope[Message]) -> Timeline | None:
    """The timeline with ``envelope`` appended; anything but a situation event changes nothing."""
    event = envelope.event
    if not isinstance(event, SituationEvent):
        return timeline
    base = timeline if timeline is not None else Timeline(situation_id=event.situation_id)
    name = event.ce_type.removeprefix(_PREFIX).rsplit(".", 1)[0]
    at, detail = _describe(event, envelope.time)
    return Timeline(base.situation_id, (*base.entries, TimelineEntry(at, name, detail)))


def _describe(e: SituationEvent, default_at: datetime) -> tuple[datetime, str]:
    if isinstance(e, SituationOpened):
        return e.opened_at, f"district={e.district} priority={e.priority}"
    if isinstance(e, SituationScheduled):
        return e.scheduled_at, f"slot={e.slot}"
    if isinstance(e, AerDecisionRecorded):
        return e.decided_at, f"decision={e.decision}"
    if isinstance(e, AgenciesAssigned):
        assisting = ",".join(t.agency_id for t in e.assisting)
        return e.assigned_at, f"lead={e.lead.agency_id} assisting={assisting}"
    if isinstance(e, AssignmentResponded):
        return e.responded_at, f"agency={e.agency_id} {e.from_state}->{e.to_state}"
    if isinstance(e, InterventionRecorded):
        contact = "yes" if e.first_contact_at is not None else "no"
        return e.recorded_at, f"outcome={e.outcome} first_contact={contact}"
    if isinstance(e, SituationConcluded):
        return e.concluded_at, f"conclusion={e.conclusion}"
    if isinstance(e, SituationReopened):
        return e.reopened_at, f"reason={e.reason}"
    if isinstance(e, SlaWarning):
        return e.warned_at, f"sla={e.sla}"
    if isinstance(e, SlaBreached):
        return e.breached_at, f"sla={e.sla}"
    if isinstance(e, IdentityPurged):
        return e.purged_at, f"reason={e.reason}"
    return default_at, ""  # a situation event added later: its CloudEvents time, no detail
