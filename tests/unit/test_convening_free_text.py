"""A command's free text reaches the forever-kept situations topic and every agency's agenda:
convening refuses a note or reason that identifies someone (issue 15, item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from schemas.base import Actor
from schemas.commands import AssignAgencies, RecordAerDecision, RespondToAssignment
from schemas.situations import AerDecisionRecorded, AssignmentResponded, SituationOpened
from services.convening.model import MeetingKind, MeetingSlot
from services.convening.situation import (
    INITIAL,
    SituationState,
    TableContext,
    decide,
    decide_schedule,
    evolve,
)
from services.runtime.decision import CommandRefused
from tests.support.samples import sample

pytestmark = pytest.mark.unit

SID = UUID("0194a1b2-0000-7000-8000-0000000000a1")
MEETING = UUID("0194a1b2-0000-7000-8000-0000000000b1")
T0 = datetime(2025, 6, 2, 14, tzinfo=UTC)
STARTS = T0 + timedelta(days=2)
CHAIR = Actor(agency_id="hrps-cmb-d1", role="table_chair")
LEAD = "housing-services"
TABLE = TableContext(
    district="district_1", chair_agency_id=CHAIR.agency_id,
    members=frozenset({CHAIR.agency_id, "public-health", LEAD}), identity_release="filter_3",
    conclusions=frozenset({"rejected_not_aer", "returned_to_originator"}),
)


def scheduled() -> SituationState:
    state = evolve(INITIAL, sample(SituationOpened, situation_id=SID, district="district_1",
                                   originating_agency="public-health", opened_at=T0))
    slot = MeetingSlot(meeting_id=MEETING, district="district_1", kind=MeetingKind.REGULAR,
                       starts_at=STARTS, location="Station (synthetic)", scheduled_at=T0)
    return decide_schedule(state, slot, T0).state


def decision(**fields: Any) -> RecordAerDecision:
    return RecordAerDecision(situation_id=SID, actor=CHAIR, issued_at=STARTS, meeting_id=MEETING,
                             decision="confirmed", **fields)


def assigned() -> SituationState:
    confirmed = decide(scheduled(), decision(), STARTS, TABLE).state
    assign = AssignAgencies(situation_id=SID, actor=CHAIR, issued_at=STARTS, meeting_id=MEETING,
                            lead=LEAD, identity_release="filter_3")
    return decide(confirmed, assign, STARTS, TABLE).state


def respond(reason: str) -> RespondToAssignment:
    return RespondToAssignment(situation_id=SID, actor=Actor(agency_id=LEAD, role="lead_agency"),
                               issued_at=STARTS, agency_id=LEAD, answer="rejected", reason=reason)


IDENTIFYING = [
    pytest.param("Family reachable at 905\u2013555\u20130101.", "phone", id="phone-en-dash"),
    pytest.param("Write to someone(at)example.org.", "email", id="email-at-in-brackets"),
    pytest.param("Home is near L9T\u00a02X5.", "postal_code", id="postal-code-no-break-space"),
    pytest.param("Door knock at 123 Rue Principale.", "street_address", id="french-street"),
    pytest.param("Seen on 5/1 at the shelter.", "date", id="date-day-month"),
    pytest.param("B\u043ebby was there.", "mixed_script", id="cyrillic-letter-in-a-word"),
]
SECRETS = ("555", "0101", "someone", "example", "L9T", "2X5", "Principale", "5/1", "bby")


@pytest.mark.parametrize(("note", "kind"), IDENTIFYING)
def test_a_decision_note_that_identifies_is_refused(note: str, kind: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        decide(scheduled(), decision(note=note), STARTS, TABLE)
    reasons = refused.value.reasons
    assert [(r.code, r.field) for r in reasons] == [(f"note_contains_{kind}", "note")]
    assert not any(secret in r.message for r in reasons for secret in SECRETS)


@pytest.mark.parametrize(("reason", "kind"), IDENTIFYING)
def test_an_assignment_reason_that_identifies_is_refused(reason: str, kind: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        decide(assigned(), respond(reason), STARTS, TABLE)
    assert [(r.code, r.field) for r in refused.value.reasons] == [(f"reason_contains_{kind}", "reason")]


def test_ordinary_notes_and_reasons_go_through() -> None:
    (recorded,) = decide(scheduled(), decision(note="AER confirmed; 2 sectors; act within 48 hours."),
                         STARTS, TABLE).events
    assert isinstance(recorded, AerDecisionRecorded)
    (responded,) = decide(assigned(), respond("No capacity this week, 3/4 of staff away; "
                                              "refer to the assisting agency."), STARTS, TABLE).events
    assert isinstance(responded, AssignmentResponded)
