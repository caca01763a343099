"""Building synthetic event records: deterministic ids and a small script per situation.

Shared by the fixed sample stream the tests compute by hand (``tests/support/analytics_samples.py``)
and the simulator (:mod:`.simulate`). Everything here is obviously synthetic; no person appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from schemas.base import Actor, Message
from schemas.envelope import Record, to_record
from schemas.referrals import AerAttestation, PersonConcerned, SituationSummary
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    IdentityPurged,
    InterventionOutcome,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationScheduled,
    SlaBreached,
    SlaKind,
    SlaWarning,
)

SOURCE = "/commande/simulator"
NARRATIVE = "Synthetic situation generated for analytics; no real person or story."


def uuid7_at(ms: int, rand: int) -> UUID:
    """A UUIDv7 for the Unix time ``ms`` with 74 deterministic "random" bits from ``rand``."""
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = ((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return UUID(int=value)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TimedRecord:
    """A record and the Kafka timestamp to produce it with (its event time)."""

    record: Record
    timestamp_ms: int


@dataclass(slots=True)
class Stream:
    """Records in the order they are to be produced; ``ce_id`` values are deterministic."""

    source: str = SOURCE
    salt: int = 0
    """Distinguishes the ids of different streams (events at the same millisecond)."""
    records: list[TimedRecord] = field(default_factory=list)

    def add(self, event: Message, at: datetime) -> None:
        """Append ``event`` with ``ce_time`` = ``at``."""
        ms = epoch_ms(at)
        event_id = uuid7_at(ms, ((self.salt & (2**56 - 1)) << 16) | (len(self.records) & 0xFFFF))
        self.records.append(TimedRecord(to_record(event, source=self.source, id=event_id, time=at), ms))


@dataclass(slots=True)
class Script:
    """The life of one situation, written one event at a time into a :class:`Stream`."""

    stream: Stream
    situation_id: UUID
    district: str
    chair_agency: str
    meeting_id: UUID | None = None

    @property
    def chair(self) -> Actor:
        """The district's table chair."""
        return Actor(agency_id=self.chair_agency, role="table_chair")

    def opened(self, at: datetime, *, originator: str, municipality: str,
               persons: tuple[tuple[str, str], ...], risk_factors: tuple[str, ...],
               protective: tuple[str, ...] = (), study: tuple[str, ...] = (),
               priority: Literal["routine", "urgent"] = "routine",
               situation_type: Literal["individual", "family", "group", "location"] = "individual",
               ) -> None:
        """``SituationOpened``."""
        summary = SituationSummary(
            situation_type=situation_type, municipality=municipality,
            persons=tuple(PersonConcerned(age_group=a, gender=g) for a, g in persons),
            risk_factors=risk_factors, protective_factors=protective, study_flags=study,
            narrative=NARRATIVE,
        )
        aer = AerAttestation(significant_interest=True, probable_harm=True, severe_harm=True,
                             multi_disciplinary=True, attested_at=at - timedelta(hours=2))
        ref = f"SIM-{self.situation_id.hex[-12:]}"
        self.stream.add(SituationOpened(
            situation_id=self.situation_id, originating_agency=originator, referral_ref=ref,
            district=self.district, priority=priority, opened_at=at, summary=summary, aer=aer,
        ), at)

    def scheduled(self, at: datetime, meeting_id: UUID, starts_at: datetime) -> None:
        """``SituationScheduled`` on a regular meeting."""
        self.meeting_id = meeting_id
        self.stream.add(SituationScheduled(
            situation_id=self.situation_id, meeting_id=meeting_id, district=self.district,
            meeting_starts_at=starts_at, slot="regular", scheduled_at=at,
        ), at)

    def decision(self, at: datetime, decision: Literal["confirmed", "rejected", "returned"]) -> None:
        """``AerDecisionRecorded``."""
        self.stream.add(AerDecisionRecorded(
            situation_id=self.situation_id, meeting_id=self._meeting(), decision=decision,
            decided_at=at, decided_by=self.chair,
        ), at)

    def assigned(self, at: datetime, lead: str, assisting: tuple[str, ...] = ()) -> None:
        """``AgenciesAssigned`` (identity released at Filter 3)."""
        self.stream.add(AgenciesAssigned(
            situation_id=self.situation_id, meeting_id=self._meeting(),
            lead=AgencyTask(agency_id=lead),
            assisting=tuple(AgencyTask(agency_id=a) for a in assisting),
            identity_release="filter_3", assigned_at=at, assigned_by=self.chair,
        ), at)

    def responded(self, at: datetime, agency: str,
                  to_state: Literal["accepted", "rejected"] = "accepted") -> None:
        """``AssignmentResponded`` out of ``requested``."""
        reason = "Synthetic: no capacity this week." if to_state == "rejected" else None
        self.stream.add(AssignmentResponded(
            situation_id=self.situation_id, agency_id=agency, from_state="requested",
            to_state=to_state, reason=reason, responded_at=at,
            responded_by=Actor(agency_id=agency, role="lead_agency"),
        ), at)

    def contact(self, at: datetime, agency: str, first_contact_at: datetime | None,
                outcome: InterventionOutcome, services: tuple[str, ...] = ()) -> None:
        """``InterventionRecorded``."""
        self.stream.add(InterventionRecorded(
            situation_id=self.situation_id, agency_id=agency, first_contact_at=first_contact_at,
            outcome=outcome, services_mobilized=services, recorded_at=at,
            recorded_by=Actor(agency_id=agency, role="lead_agency"),
        ), at)

    def sla(self, at: datetime, kind: SlaKind, started_at: datetime, *, breached: bool,
            agency: str | None = None) -> None:
        """``SlaWarning`` (24 h mark) or ``SlaBreached`` (48 h)."""
        due = started_at + timedelta(hours=48)
        if breached:
            self.stream.add(SlaBreached(
                situation_id=self.situation_id, sla=kind, agency_id=agency, district=self.district,
                started_at=started_at, due_at=due, breached_at=at,
            ), at)
        else:
            self.stream.add(SlaWarning(
                situation_id=self.situation_id, sla=kind, agency_id=agency, district=self.district,
                started_at=started_at, due_at=due, warned_at=at,
            ), at)

    def concluded(self, at: datetime, conclusion: str) -> None:
        """``SituationConcluded`` at the current meeting."""
        self.stream.add(SituationConcluded(
            situation_id=self.situation_id, conclusion=conclusion, concluded_at=at,
            concluded_by=self.chair, meeting_id=self.meeting_id,
        ), at)

    def purged(self, at: datetime,
               reason: Literal["retention_expired", "rejected_not_aer", "returned", "withdrawn"],
               ) -> None:
        """``IdentityPurged``."""
        self.stream.add(IdentityPurged(
            situation_id=self.situation_id, purged_at=at, reason=reason, records_purged=1,
        ), at)

    def _meeting(self) -> UUID:
        if self.meeting_id is None:
            raise ValueError("schedule the situation on a meeting first")
        return self.meeting_id
