"""The CMB's notes to a requester land on ``commande.event-requests.v1`` (kept forever, read by
analytics): intake refuses a note with contact details or the requester's name, however it is
formatted (issue 15, item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.base import Actor
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestCommand,
    EventRequestCommandRefused,
    EventRequestDeclined,
    EventRequestScheduled,
    EventRequestSubmitted,
    ScheduleEventRequest,
)
from schemas.reference import reference
from services.intake.event_requests.decide import (
    Decision,
    EventConfig,
    EventRequestState,
    decide_command,
    decide_submission,
    refusal,
)
from services.intake.event_requests.rules import check
from services.runtime.decision import CommandRefused, Decided
from tests.support.samples import EVENT_ID, sample

pytestmark = pytest.mark.unit

CONFIG = EventConfig(holidays=reference().holiday_dates)
D1_CMB = Actor(agency_id="hrps-cmb-d1", role="cmb")
ACK_AT = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
REQUESTER = ("Avery Testy",)


def acknowledged() -> EventRequestState:
    event = sample(EventRequestSubmitted, agency_id="community-living")  # answered at once
    decided = decide_submission(None, event, check(event, reference=reference()), ACK_AT, CONFIG,
                                has_contact=True)
    assert isinstance(decided, Decided)
    return decided.state


def command(cls: type[EventRequestCommand],
            **fields: Any) -> Decision | EventRequestCommandRefused:
    """The decision, or the refusal event the shell publishes for the command."""
    cmd, now = sample(cls, actor=D1_CMB, **fields), ACK_AT + timedelta(days=1)
    try:
        return decide_command(acknowledged(), cmd, district_cmb="hrps-cmb-d1",
                              reference=reference(), now=now, config=CONFIG, names=REQUESTER)
    except CommandRefused as refused:
        return refusal(refused, cmd, EVENT_ID, now)


def codes(result: Decision | EventRequestCommandRefused) -> list[tuple[str, str | None]]:
    assert isinstance(result, EventRequestCommandRefused), result
    return [(r.code, r.field) for r in result.reasons]


@pytest.mark.parametrize(("notes", "kind"), [
    pytest.param("Call the officer at 905\u2011555\u20110199.", "phone", id="phone-non-breaking-hyphen"),
    pytest.param("Questions: events\uff20example.org", "email", id="email-full-width-at"),
    pytest.param("Meet at 12 Old Mill Road.", "street_address", id="street"),
    pytest.param("Thanks, Av\u200bery, see you then.", "requester_name", id="name-zero-width-space"),
    pytest.param("Merci \uff34\uff45\uff53\uff54\uff59.", "requester_name", id="name-full-width"),
])
def test_schedule_notes_that_identify_are_refused(notes: str, kind: str) -> None:
    assert codes(command(ScheduleEventRequest, notes=notes)) == [(f"notes_contains_{kind}", "notes")]


def test_a_decline_note_naming_the_requester_is_refused_and_says_what_to_do() -> None:
    result = command(DeclineEventRequest, note="Sorry A\u0301very, no officer is free that week.")
    assert codes(result) == [("note_contains_requester_name", "note")]
    assert isinstance(result, EventRequestCommandRefused)
    assert "Avery" not in result.reasons[0].message
    assert "without it" in result.reasons[0].message


def test_ordinary_notes_go_through() -> None:
    scheduled = command(ScheduleEventRequest, notes="Projector on site; about 40 people.")
    declined = command(DeclineEventRequest,
                       note="No officer is free that week; please ask again for another date.")
    assert isinstance(scheduled, Decided)
    assert isinstance(scheduled.events[0], EventRequestScheduled)
    assert isinstance(declined, Decided)
    assert isinstance(declined.events[0], EventRequestDeclined)
