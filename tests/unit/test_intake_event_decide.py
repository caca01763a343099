"""Community event requests: intake's pure core (acknowledge or reject, the confirmation of a
public requester's address and the expiry of an unconfirmed request, the CMB's commands,
reminders once per level, the contact purge).

Unless a test says otherwise, requests come from an organization (its agency token): they need no
confirmation, and are answered at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest

from schemas.base import Actor
from schemas.event_requests import (
    DeclineEventRequest,
    EventLocation,
    EventRequestAcknowledged,
    EventRequestCommand,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    ScheduleEventRequest,
    TimeWindow,
    WithdrawEventRequest,
)
from schemas.reference import reference
from schemas.reference.calendar import ZONE
from schemas.referrals import Reason
from services.intake.event_requests.decide import (
    Decision,
    EventConfig,
    EventRequestState,
    decide_command,
    decide_confirmation,
    decide_purge,
    decide_reminder,
    decide_submission,
    decide_undecodable,
    due_reminder,
    purge_contact,
    refusal,
)
from services.intake.event_requests.rules import check
from services.runtime.decision import CommandRefused, Decided, Unchanged
from tests.support.samples import EVENT_ID, requester, sample

pytestmark = pytest.mark.unit

CONFIG = EventConfig(reminder_business_days=3, escalation_business_days=2,
                     contact_retention_days=30, holidays=reference().holiday_dates)
D1_CMB = Actor(agency_id="hrps-cmb-d1", role="cmb")
ACK_AT = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 in Toronto
ORG = "community-living"


def submit(event: EventRequestSubmitted | None = None, state: EventRequestState | None = None,
           now: datetime = ACK_AT, *, public: bool = False) -> Decision | Unchanged:
    event = event or sample(EventRequestSubmitted)
    if not public:
        event = event.model_copy(update={"agency_id": ORG})
    return decide_submission(state, event, check(event, reference=reference()), now, CONFIG,
                             has_contact=True)


def acknowledged() -> EventRequestState:
    decided = submit()
    assert isinstance(decided, Decided)
    return decided.state


def command(cls: type[EventRequestCommand], state: EventRequestState | None,
            now: datetime = ACK_AT + timedelta(days=1), district_cmb: str | None = "hrps-cmb-d1",
            **fields: Any) -> Decision | EventRequestCommandRefused:
    return outcome(state, sample(cls, actor=D1_CMB, **fields), now, district_cmb)


def outcome(state: EventRequestState | None, cmd: EventRequestCommand, now: datetime,
            district_cmb: str | None) -> Decision | EventRequestCommandRefused:
    """The decision, or the refusal event the shell publishes for the command (``EVENT_ID``)."""
    try:
        return decide_command(state, cmd, district_cmb=district_cmb, reference=reference(),
                              now=now, config=CONFIG)
    except CommandRefused as refused:
        return refusal(refused, cmd, EVENT_ID, now)


def refusal_codes(result: Decision | EventRequestCommandRefused) -> list[tuple[str, str | None]]:
    assert isinstance(result, EventRequestCommandRefused), result
    assert result.command_id == EVENT_ID
    return [(r.code, r.field) for r in result.reasons]


def test_an_accepted_request_is_acknowledged_de_identified_with_its_district() -> None:
    decided = submit()
    assert isinstance(decided, Decided)
    (ack,) = decided.events
    assert isinstance(ack, EventRequestAcknowledged)
    assert (ack.district, ack.municipality, ack.kind) == ("district_1", "milton", "speaker")
    assert ack.acknowledged_at == ACK_AT
    assert ack.organization_request is True
    assert "Sample" not in ack.model_dump_json()
    state = decided.state
    assert state.status == "acknowledged"
    # three business days: Thursday 10:00 local
    assert state.next_reminder_at == datetime(2026, 1, 8, 10, 0, tzinfo=ZONE)
    last = sample(EventRequestSubmitted).windows[-1].date
    assert state.purge_after == datetime.combine(last + timedelta(days=31), time(0), tzinfo=ZONE)


def test_a_request_rejected_keeps_every_reason_and_the_earliest_date() -> None:
    short = sample(EventRequestSubmitted, windows=(
        TimeWindow(date=date(2026, 2, 3), start=time(18), end=time(19)),),
        location=EventLocation(municipality="Oakville", address_or_venue=None))
    decided = submit(short)
    assert isinstance(decided, Decided)
    (rejected,) = decided.events
    assert isinstance(rejected, EventRequestRejected)
    assert [r.code for r in rejected.reasons] == ["notice_too_short", "address_or_venue_missing"]
    assert rejected.earliest_acceptable_date == date(2026, 2, 4)
    assert (rejected.municipality, rejected.district) == ("oakville", "district_2")
    assert decided.state.status == "rejected"
    assert decided.state.next_reminder_at is None
    assert decided.state.purge_after == ACK_AT + timedelta(days=30)


def test_a_known_request_id_changes_nothing() -> None:
    assert submit(state=acknowledged()) == Unchanged("duplicate_request_id")


def test_an_undecodable_submission_with_a_new_id_is_rejected_with_the_contracts_reasons() -> None:
    reasons = (Reason(code="contract_violation", field="kind", message="Not a kind."),)
    decided = decide_undecodable(None, EVENT_ID, reasons, ACK_AT)
    assert isinstance(decided, Decided)
    (rejected,) = decided.events
    assert isinstance(rejected, EventRequestRejected)
    assert (rejected.request_id, rejected.rejected_at, rejected.reasons) == (
        EVENT_ID, ACK_AT, reasons)
    assert (rejected.district, rejected.kind) == (None, None)
    assert decided.state == EventRequestState(request_id=EVENT_ID, status="rejected",
                                              answered_at=ACK_AT, decided_at=ACK_AT)
    assert decide_undecodable(decided.state, EVENT_ID, reasons, ACK_AT) == Unchanged(
        "duplicate_request_id")


def test_schedule_decline_withdraw_record_the_fact_and_stop_the_reminders() -> None:
    state = acknowledged()
    scheduled = command(ScheduleEventRequest, state)
    assert isinstance(scheduled, Decided)
    assert isinstance(scheduled.events[0], EventRequestScheduled)
    assert scheduled.events[0].district == "district_1"
    assert scheduled.state.status == "scheduled"
    assert scheduled.state.next_reminder_at is None
    declined = command(DeclineEventRequest, state)
    assert isinstance(declined, Decided)
    assert isinstance(declined.events[0], EventRequestDeclined)
    assert declined.state.purge_after == ACK_AT + timedelta(days=31)
    withdrawn = command(WithdrawEventRequest, scheduled.state)
    assert isinstance(withdrawn, Decided)
    assert isinstance(withdrawn.events[0], EventRequestWithdrawn)


def test_a_scheduled_event_keeps_the_contact_until_after_the_event() -> None:
    state = acknowledged()
    late = date(2026, 4, 30)
    scheduled = command(ScheduleEventRequest, state, date=late)
    assert isinstance(scheduled, Decided)
    assert scheduled.state.purge_after == datetime(2026, 5, 31, 0, 0, tzinfo=ZONE)


def test_refusals_name_every_reason() -> None:
    assert refusal_codes(command(ScheduleEventRequest, None, officer_role="astronaut",
                                 date=date(2026, 1, 1))) == [
        ("request_unknown", "request_id"), ("officer_role_unknown", "officer_role"),
        ("date_in_past", "date")]
    state = acknowledged()
    assert refusal_codes(command(DeclineEventRequest, state, district_cmb="hrps-cmb-d2",
                                 reason="bored")) == [
        ("actor_not_district_cmb", "actor.agency_id"), ("decline_reason_unknown", "reason")]
    decided = command(DeclineEventRequest, state)
    assert isinstance(decided, Decided)
    assert refusal_codes(command(ScheduleEventRequest, decided.state)) == [
        ("request_already_decided", "request_id")]
    assert refusal_codes(command(WithdrawEventRequest, decided.state, reason="whim")) == [
        ("request_already_decided", "request_id"), ("withdrawal_reason_unknown", "reason")]
    chair = outcome(state, sample(DeclineEventRequest, actor=Actor(
        agency_id="hrps-cmb-d1", role="table_chair")), ACK_AT, "hrps-cmb-d1")
    assert refusal_codes(chair) == [("actor_not_cmb", "actor.role")]


def test_a_rejected_request_cannot_be_followed_up() -> None:
    rejected = submit(sample(EventRequestSubmitted, kind=None))
    assert isinstance(rejected, Decided)
    assert refusal_codes(command(ScheduleEventRequest, rejected.state)) == [
        ("request_rejected", "request_id")]


def test_today_but_already_past_is_in_the_past() -> None:
    state = acknowledged()
    now = datetime(2026, 2, 20, 20, 0, tzinfo=UTC)  # 15:00 in Toronto
    early = command(ScheduleEventRequest, state, now=now, date=date(2026, 2, 20), start=time(14))
    assert refusal_codes(early) == [("date_in_past", "date")]
    later = command(ScheduleEventRequest, state, now=now, date=date(2026, 2, 20), start=time(16))
    assert isinstance(later, Decided)


def test_reminders_fire_once_per_level_at_n_then_n_plus_m_business_days() -> None:
    state = acknowledged()
    first_due = datetime(2026, 1, 8, 10, 0, tzinfo=ZONE)
    assert due_reminder(state, first_due - timedelta(seconds=1), CONFIG) is None
    first = due_reminder(state, first_due, CONFIG)
    assert isinstance(first, Decided)
    (reminder,) = first.events
    assert isinstance(reminder, EventRequestReminderDue)
    assert (reminder.escalate_to, reminder.business_days_waiting) == ("cmb_manager", 3)
    assert reminder.due_at == first_due
    second_due = datetime(2026, 1, 12, 10, 0, tzinfo=ZONE)  # Thursday + 2 business days
    assert first.state.next_reminder_at == second_due
    assert due_reminder(first.state, second_due - timedelta(seconds=1), CONFIG) is None
    second = due_reminder(first.state, second_due + timedelta(days=9), CONFIG)
    assert isinstance(second, Decided)
    (escalation,) = second.events
    assert isinstance(escalation, EventRequestReminderDue)
    assert (escalation.escalate_to, escalation.business_days_waiting) == ("staff_sergeant", 5)
    assert due_reminder(second.state, second_due + timedelta(days=90), CONFIG) is None


def test_no_reminder_once_decided() -> None:
    scheduled = command(ScheduleEventRequest, acknowledged())
    assert isinstance(scheduled, Decided)
    assert due_reminder(scheduled.state, ACK_AT + timedelta(days=60), CONFIG) is None


def test_a_reminder_found_due_is_sent_or_none_is_to_come() -> None:
    state = acknowledged()
    assert state.next_reminder_at is not None
    first = decide_reminder(state, state.next_reminder_at, CONFIG)
    assert first == due_reminder(state, state.next_reminder_at, CONFIG)
    scheduled = command(ScheduleEventRequest, state)
    assert isinstance(scheduled, Decided)
    stale = replace(scheduled.state, next_reminder_at=state.next_reminder_at)
    assert decide_reminder(stale, state.next_reminder_at, CONFIG) == Decided(
        replace(stale, next_reminder_at=None), ())


def test_a_purge_found_due_is_done_or_none_is_to_come() -> None:
    state = replace(acknowledged(), purge_after=ACK_AT + timedelta(days=40))
    due = ACK_AT + timedelta(days=40)
    assert decide_purge(state, due) == purge_contact(state, due)
    nothing_held = replace(state, has_contact=False)
    assert decide_purge(nothing_held, due) == Decided(replace(nothing_held, purge_after=None), ())


def test_the_contact_is_purged_once_when_due() -> None:
    state = replace(acknowledged(), purge_after=ACK_AT + timedelta(days=40))
    assert purge_contact(state, ACK_AT + timedelta(days=39)) is None
    purged = purge_contact(state, ACK_AT + timedelta(days=40))
    assert isinstance(purged, Decided)
    (event,) = purged.events
    assert isinstance(event, EventRequestContactPurged)
    assert event.request_id == UUID(str(state.request_id))
    assert purge_contact(purged.state, ACK_AT + timedelta(days=400)) is None
    assert refusal_codes(command(ScheduleEventRequest, purged.state)) == [
        ("request_expired", "request_id")]


# -- a request from the public waits for its requester to confirm their address ----------------

DEADLINE = ACK_AT + timedelta(hours=48)


def awaiting(event: EventRequestSubmitted | None = None) -> Decision:
    decided = submit(event, public=True)
    assert isinstance(decided, Decided)
    return decided


def test_a_public_request_only_asks_its_requester_to_confirm_their_address() -> None:
    decided = awaiting()
    (asked,) = decided.events  # no acknowledgement: no CMB notice, no e-mail with their details
    assert isinstance(asked, EventRequestConfirmationRequested)
    event = sample(EventRequestSubmitted)
    assert (asked.requested_at, asked.expires_at) == (ACK_AT, DEADLINE)
    assert (asked.district, asked.municipality, asked.kind) == ("district_1", "milton", "speaker")
    assert asked.windows == event.windows
    assert "Sample" not in asked.model_dump_json()
    assert "example.org" not in asked.model_dump_json()
    state = decided.state
    assert state.status == "awaiting_confirmation"
    assert state.next_reminder_at is None  # nobody is reminded of an unconfirmed request
    assert state.purge_after == state.confirm_expires_at == DEADLINE
    assert isinstance(state.pending, EventRequestAcknowledged)


def test_confirming_in_time_gives_the_answer_then() -> None:
    confirm_at = ACK_AT + timedelta(hours=20)
    confirmed = decide_confirmation(awaiting().state, confirm_at, CONFIG)
    assert isinstance(confirmed, Decided)
    first, ack = confirmed.events
    assert isinstance(first, EventRequestConfirmed)
    assert first.confirmed_at == confirm_at
    assert isinstance(ack, EventRequestAcknowledged)
    assert ack.acknowledged_at == confirm_at
    assert ack.organization_request is False
    state = confirmed.state
    assert (state.status, state.confirmed_at, state.pending) == ("acknowledged", confirm_at, None)
    # the reminders count from the confirmation: Tuesday 06:00 local + 3 business days
    assert state.next_reminder_at == datetime(2026, 1, 9, 6, 0, tzinfo=ZONE)
    last = sample(EventRequestSubmitted).windows[-1].date
    assert state.purge_after == datetime.combine(last + timedelta(days=31), time(0), tzinfo=ZONE)
    assert decide_confirmation(state, confirm_at + timedelta(minutes=1), CONFIG) == Unchanged(
        "already_confirmed")
    assert isinstance(command(ScheduleEventRequest, state), Decided)


def test_a_rejected_public_request_is_mailed_its_reasons_only_once_confirmed() -> None:
    short = sample(EventRequestSubmitted, windows=(
        TimeWindow(date=date(2026, 2, 3), start=time(18), end=time(19)),))
    decided = awaiting(short)
    (asked,) = decided.events
    assert isinstance(asked, EventRequestConfirmationRequested)
    assert isinstance(decided.state.pending, EventRequestRejected)
    confirmed = decide_confirmation(decided.state, ACK_AT + timedelta(hours=1), CONFIG)
    assert isinstance(confirmed, Decided)
    _, rejected = confirmed.events
    assert isinstance(rejected, EventRequestRejected)
    assert [r.code for r in rejected.reasons] == ["notice_too_short"]
    assert rejected.earliest_acceptable_date == date(2026, 2, 4)
    assert rejected.rejected_at == ACK_AT + timedelta(hours=1)
    assert confirmed.state.status == "rejected"
    assert confirmed.state.purge_after == ACK_AT + timedelta(hours=1, days=30)


@pytest.mark.parametrize("email", [None, "not an address", "someone@localhost"])
def test_without_a_usable_address_a_public_request_is_rejected_at_once(email: str | None) -> None:
    event = sample(EventRequestSubmitted, requester=requester().model_copy(update={"email": email}))
    decided = awaiting(event)
    (rejected,) = decided.events  # nobody to ask; notifier cannot write to it either
    assert isinstance(rejected, EventRequestRejected)
    assert {r.field for r in rejected.reasons} == {"requester.email"}
    assert decided.state.status == "rejected"
    assert decide_confirmation(decided.state, ACK_AT, CONFIG) == Unchanged(
        "no_confirmation_needed")


def test_an_unconfirmed_request_expires_at_its_deadline_and_its_contact_goes() -> None:
    state = awaiting().state
    assert purge_contact(state, DEADLINE - timedelta(seconds=1)) is None
    assert decide_confirmation(state, DEADLINE, CONFIG) == Unchanged("confirmation_expired")
    expired = purge_contact(state, DEADLINE)
    assert isinstance(expired, Decided)
    gone, purged = expired.events
    assert isinstance(gone, EventRequestExpired)
    assert (gone.expired_at, gone.district) == (DEADLINE, "district_1")
    assert isinstance(purged, EventRequestContactPurged)
    assert (expired.state.status, expired.state.purged_at) == ("expired", DEADLINE)
    assert (expired.state.purge_after, expired.state.pending) == (None, None)
    assert purge_contact(expired.state, DEADLINE + timedelta(days=400)) is None
    assert decide_confirmation(expired.state, DEADLINE - timedelta(hours=1), CONFIG) == Unchanged(
        "confirmation_expired")
    assert refusal_codes(command(DeclineEventRequest, expired.state)) == [
        ("request_expired", "request_id")]


def test_nothing_to_follow_up_or_confirm_outside_the_flow() -> None:
    assert refusal_codes(command(DeclineEventRequest, awaiting().state)) == [
        ("request_unconfirmed", "request_id")]
    assert due_reminder(awaiting().state, ACK_AT + timedelta(days=30), CONFIG) is None
    assert decide_confirmation(None, ACK_AT, CONFIG) == Unchanged("unknown_request")
    assert decide_confirmation(acknowledged(), ACK_AT, CONFIG) == Unchanged(
        "no_confirmation_needed")
