"""The shell of community event requests on the in-memory store: each handler's load -> decide ->
save -> emit, what only the integration tests reached before (no Kafka, no PostgreSQL, no sleep).

The submissions consumer (acknowledged, rejected, waiting for the public requester's
confirmation, duplicates, records from an unexpected producer), the confirmation, the CMB's
commands and their refusals (the requester's name in a note, read from the sealed contact), the
dead-letter answer, and the reminder and purge timers (the runtime's timer loop on the fake's
durable timers). Every emitted record is
decoded with the envelope helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

import pytest
from uuid6 import uuid7

from directory import DirectoryHolder, reference_codes
from schemas.base import Actor, Message
from schemas.envelope import Envelope, from_record, to_record
from schemas.errors import InvalidBody
from schemas.event_requests import (
    DeclineEventRequest,
    EventLocation,
    EventRequestAcknowledged,
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
    Requester,
    ScheduleEventRequest,
    TimeWindow,
    WithdrawEventRequest,
)
from schemas.reference import reference
from schemas.reference.calendar import ZONE
from schemas.topics import DLQ, EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS
from services.intake import timer_loop
from services.intake.event_requests import timers
from services.intake.event_requests.calendar import business_deadline
from services.intake.event_requests.decide import EventConfig, EventRequestState
from services.intake.event_requests.handlers import CONTACT_CONTEXT, EventRequests, StoredContact
from services.intake.event_requests.rules import EventRuleConfig
from services.intake.provenance import GATEWAY, INTAKE
from services.intake.vault import Sealed, Vault
from services.runtime import events
from services.runtime import timers as runtime
from services.runtime.clock import ManualClock
from services.runtime.db import Connection
from services.runtime.decision import Decided, Unchanged
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.settings import PROJECT_ROOT
from tests.support.fakes.event_requests import InMemoryEventRequestStore
from tests.support.fakes.pool import OutboxPool

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 in Toronto
ORG = "community-living"  # an organization of the directory: answered at once
D1 = Actor(agency_id="hrps-cmb-d1", role="cmb")
D2 = Actor(agency_id="hrps-cmb-d2", role="cmb")
REF = reference()
DIRECTORY = DirectoryHolder(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml",
                            reference_codes(REF))
CONFIG = EventConfig(holidays=REF.holiday_dates)
CONN = cast(Connection, object())
"""The connection the runtime would pass: the fake's factory never looks at it."""
EMAIL = "events@example.org"


class Shell:
    """The handlers over one in-memory store, and a clock the tests move."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.store = InMemoryEventRequestStore()
        self.vault = Vault.development()
        self.handlers = EventRequests(
            clock=self.clock, vault=self.vault, directory=DIRECTORY, reference=REF,
            rule_config=EventRuleConfig(), config=CONFIG, stores=self.store.bound)

    async def send(self, message: Message, source: str | None = None) -> list[Envelope[Message]]:
        """Hand ``message`` to the consumer as the runtime does (from its expected producer
        unless ``source`` says otherwise); the records it returns, decoded."""
        source = source or (INTAKE if isinstance(message, EventRequestSubmitted) else GATEWAY)
        rec = in_record(to_record(message, source=source).headers, message)
        env = events.decode(rec)
        out = await self.handlers.on_record(CONN, env, rec)
        found = decoded(out)
        assert all(e.causationid == str(env.id) for e in found)
        return found

    async def answer(self, message: Message) -> Message:
        (found,) = await self.send(message)
        return found.event

    async def fire(self, at: datetime) -> tuple[int, list[OutRecord]]:
        """One look of the timer worker at ``at``: how many timers emitted, and what."""
        self.clock.set(at)
        pool = OutboxPool()
        fire = runtime.route(timers.fires(CONFIG, self.store.bound))
        fired = await timer_loop.fire_due(pool.as_pool(), "intake", fire, self.clock,
                                          timer_stores=self.store.timers)
        return fired, pool.published

    def timer(self, kind: str, request_id: UUID) -> tuple[str, datetime]:
        """The state and due time of a request's timer of ``kind``."""
        row = self.store.timers.rows[timers.timer_key(kind, request_id)]
        return row.state, row.timer.due_at

    def state(self, request_id: UUID) -> EventRequestState:
        return self.store.requests[request_id]

    def contact(self, request_id: UUID) -> StoredContact:
        sealed = self.store.contacts[request_id][0]
        clear = self.vault.decrypt_record(CONTACT_CONTEXT, request_id, sealed)
        return StoredContact.model_validate_json(clear)


def in_record(headers: Sequence[tuple[str, bytes]], message: Message,
              value: bytes | None = None) -> InRecord:
    return InRecord(topic=EVENT_REQUEST_SUBMISSIONS.name, partition=0, offset=0,
                    key=message.key().encode(),
                    value=value if value is not None else message.model_dump_json().encode(),
                    headers=tuple(headers))


def decoded(records: Sequence[OutRecord]) -> list[Envelope[Message]]:
    """Each record decoded as a reader of its topic would; every one is a fact of
    ``commande.event-requests.v1`` keyed by its request id."""
    found = [from_record(r.headers, r.value, topic=r.topic) for r in records]
    for rec, env in zip(records, found, strict=True):
        assert rec.topic == EVENT_REQUESTS.name
        assert rec.key == env.event.key().encode()
        assert env.source == INTAKE
    return found


def window(days_ahead: int) -> TimeWindow:
    return TimeWindow(date=(START.astimezone(ZONE) + timedelta(days=days_ahead)).date(),
                      start=time(18, 30), end=time(20, 0))


def request(municipality: str = "Milton", **overrides: Any) -> EventRequestSubmitted:
    fields: dict[str, Any] = {
        "request_id": uuid7(), "submitted_at": START, "kind": "speaker",
        "windows": (window(45), window(52)),
        "location": EventLocation(municipality=municipality,
                                  address_or_venue="Sample Community Hall"),
        "topics": ("seniors_safety",), "topics_other": "Phone scams", "expected_attendees": 40,
        "requester": Requester(name="Avery Testy", mailing_address="1 Example St, Milton",
                               daytime_phone="905 555 0101", email=EMAIL),
        "agency_id": ORG,
    }
    return EventRequestSubmitted(**{**fields, **overrides})


def decline(request_id: UUID, actor: Actor = D1, **fields: Any) -> DeclineEventRequest:
    values: dict[str, Any] = {"reason": "no_capacity", "note": "No officer is free that week."}
    return DeclineEventRequest(actor=actor, issued_at=START, request_id=request_id,
                               **{**values, **fields})


def schedule(request_id: UUID, day: date, actor: Actor = D1,
             **fields: Any) -> ScheduleEventRequest:
    values: dict[str, Any] = {"start": time(18, 30), "officer_role": "community_safety_officer"}
    return ScheduleEventRequest(actor=actor, issued_at=START, request_id=request_id, date=day,
                                **{**values, **fields})


@pytest.fixture
def shell() -> Shell:
    return Shell()


# -- submissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("municipality", "district", "code"), [
    ("Georgetown", "district_1", "georgetown"), ("Oakville", "district_2", "oakville"),
    ("Burlington", "district_3", "burlington"),
])
async def test_an_organizations_request_is_acknowledged_and_its_contact_sealed(
        shell: Shell, municipality: str, district: str, code: str) -> None:
    event = request(municipality)
    ack = await shell.answer(event)
    assert isinstance(ack, EventRequestAcknowledged)
    assert (ack.district, ack.municipality, ack.kind) == (district, code, "speaker")
    assert (ack.windows, ack.acknowledged_at, ack.organization_request) == (
        event.windows, START, True)
    state = shell.state(event.request_id)
    assert (state.status, state.district, state.agency_id, state.has_contact) == (
        "acknowledged", district, ORG, True)
    assert state.next_reminder_at == business_deadline(START, 3, REF.holiday_dates)
    sealed, stored_at = shell.store.contacts[event.request_id]
    assert stored_at == START
    assert EMAIL.encode() not in sealed.ciphertext
    assert shell.contact(event.request_id) == StoredContact(
        requester=event.requester, address_or_venue="Sample Community Hall",
        topics_other="Phone scams")


async def test_short_notice_is_rejected_with_the_earliest_date_and_the_contact_kept(
        shell: Shell) -> None:
    event = request(windows=(window(29),))
    rejected = await shell.answer(event)
    assert isinstance(rejected, EventRequestRejected)
    assert [(r.code, r.field) for r in rejected.reasons] == [("notice_too_short",
                                                              "windows.0.date")]
    assert rejected.earliest_acceptable_date == START.astimezone(ZONE).date() + timedelta(days=30)
    state = shell.state(event.request_id)
    assert (state.status, state.decided_at, state.next_reminder_at) == ("rejected", START, None)
    assert state.purge_after == START + timedelta(days=30)
    assert event.request_id in shell.store.contacts


async def test_missing_details_are_all_named_and_nothing_identifying_is_kept(
        shell: Shell) -> None:
    event = EventRequestSubmitted(request_id=uuid7(), submitted_at=START, kind="district_tour",
                                  agency_id=ORG)
    rejected = await shell.answer(event)
    assert isinstance(rejected, EventRequestRejected)
    assert {r.field for r in rejected.reasons} == {
        "windows", "location.municipality", "location.address_or_venue", "topics",
        "expected_attendees", "requester.name", "requester.mailing_address",
        "requester.daytime_phone", "requester.email"}
    state = shell.state(event.request_id)
    assert (state.status, state.has_contact, state.purge_after) == ("rejected", False, None)
    assert shell.store.contacts == {}


async def test_a_duplicate_request_id_changes_nothing(shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    before = shell.state(event.request_id)
    sealed = shell.store.contacts[event.request_id]
    shell.clock.advance(timedelta(minutes=5))
    assert await shell.send(event.model_copy(update={"kind": "district_tour"})) == []
    assert shell.state(event.request_id) == before
    assert shell.store.contacts[event.request_id] == sealed


async def test_records_from_an_unexpected_producer_are_ignored(shell: Shell) -> None:
    stray = request()
    assert await shell.send(stray, source="/public") == []
    assert shell.store.requests == {}
    event = request()
    await shell.answer(event)
    assert await shell.send(decline(event.request_id), source="/commande/cli") == []
    assert shell.state(event.request_id).status == "acknowledged"


# -- the public: confirmation first ---------------------------------------------------------


async def test_a_public_request_waits_for_its_confirmation_then_is_answered(
        shell: Shell) -> None:
    event = request(agency_id=None)
    asked = await shell.answer(event)
    assert isinstance(asked, EventRequestConfirmationRequested)
    assert (asked.district, asked.expires_at) == ("district_1", START + timedelta(hours=48))
    state = shell.state(event.request_id)
    assert (state.status, state.purge_after) == ("awaiting_confirmation", asked.expires_at)
    assert isinstance(state.pending, EventRequestAcknowledged)
    assert event.request_id in shell.store.contacts

    shell.clock.advance(timedelta(hours=3))
    decision, records = await shell.handlers.confirm(CONN, event.request_id)
    assert isinstance(decision, Decided)
    confirmed, ack = [e.event for e in decoded(records)]
    assert isinstance(confirmed, EventRequestConfirmed)
    assert isinstance(ack, EventRequestAcknowledged)
    assert confirmed.confirmed_at == ack.acknowledged_at == shell.clock.now()
    assert ack.organization_request is False
    state = shell.state(event.request_id)
    assert (state.status, state.confirmed_at, state.pending) == (
        "acknowledged", shell.clock.now(), None)

    again, none = await shell.handlers.confirm(CONN, event.request_id)
    assert (again, none) == (Unchanged("already_confirmed"), [])
    assert shell.state(event.request_id) == state


async def test_a_confirmation_changes_nothing_when_unknown_late_or_not_needed(
        shell: Shell) -> None:
    unknown, records = await shell.handlers.confirm(CONN, uuid7())
    assert (unknown, records) == (Unchanged("unknown_request"), [])
    org = request()
    await shell.answer(org)
    needless, records = await shell.handlers.confirm(CONN, org.request_id)
    assert (needless, records) == (Unchanged("no_confirmation_needed"), [])
    public = request(agency_id=None)
    await shell.answer(public)
    before = shell.state(public.request_id)
    shell.clock.advance(timedelta(hours=48))
    late, records = await shell.handlers.confirm(CONN, public.request_id)
    assert (late, records) == (Unchanged("confirmation_expired"), [])
    assert shell.state(public.request_id) == before


# -- the CMB's commands -----------------------------------------------------------------------


async def test_schedule_is_refused_with_every_reason_then_done_then_withdrawn(
        shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    day = event.windows[0].date
    (refused,) = [e.event for e in await shell.send(
        schedule(event.request_id, date(2020, 1, 1), actor=D2, officer_role="astronaut"))]
    assert isinstance(refused, EventRequestCommandRefused)
    assert [(r.code, r.field) for r in refused.reasons] == [
        ("actor_not_district_cmb", "actor.agency_id"), ("officer_role_unknown", "officer_role"),
        ("date_in_past", "date")]
    assert (refused.actor_agency_id, refused.command_type) == (
        "hrps-cmb-d2", ScheduleEventRequest.ce_type)
    assert shell.state(event.request_id).status == "acknowledged"

    scheduled = await shell.answer(schedule(event.request_id, day, notes="Projector on site."))
    assert isinstance(scheduled, EventRequestScheduled)
    assert (scheduled.date, scheduled.district, scheduled.notes) == (
        day, "district_1", "Projector on site.")
    state = shell.state(event.request_id)
    assert (state.status, state.scheduled_date, state.next_reminder_at) == ("scheduled", day, None)

    late = await shell.answer(decline(event.request_id))
    assert isinstance(late, EventRequestCommandRefused)
    assert [r.code for r in late.reasons] == ["request_already_decided"]
    withdrawn = await shell.answer(WithdrawEventRequest(
        actor=D1, issued_at=START, request_id=event.request_id, reason="no_longer_needed"))
    assert isinstance(withdrawn, EventRequestWithdrawn)
    assert shell.state(event.request_id).status == "withdrawn"


async def test_a_decline_and_an_unknown_request(shell: Shell) -> None:
    event = request("Oakville")
    await shell.answer(event)
    declined = await shell.answer(decline(event.request_id, actor=D2))
    assert isinstance(declined, EventRequestDeclined)
    assert (declined.reason, declined.district, declined.declined_at) == (
        "no_capacity", "district_2", START)
    assert shell.state(event.request_id).purge_after == START + timedelta(days=30)
    unknown = uuid7()
    refused = await shell.answer(decline(unknown, reason="bored"))
    assert isinstance(refused, EventRequestCommandRefused)
    assert [r.code for r in refused.reasons] == ["request_unknown", "decline_reason_unknown"]
    assert unknown not in shell.store.requests


async def test_a_note_with_the_requesters_name_is_refused(shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    by_name = await shell.answer(decline(event.request_id, note="Sorry Av\u00adery, no."))
    assert isinstance(by_name, EventRequestCommandRefused)
    assert [(r.code, r.field) for r in by_name.reasons] == [("note_contains_requester_name",
                                                             "note")]
    assert shell.state(event.request_id).status == "acknowledged"


async def test_a_contact_that_does_not_open_leaves_the_note_checked_without_the_name(
        shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    sealed, at = shell.store.contacts[event.request_id]
    shell.store.contacts[event.request_id] = (
        Sealed(sealed.key_id, sealed.nonce, bytes(len(sealed.ciphertext))), at)
    declined = await shell.answer(decline(event.request_id, note="Sorry Avery, no officer."))
    assert isinstance(declined, EventRequestDeclined)


# -- dead letters ---------------------------------------------------------------------------


async def test_an_undecodable_keyed_submission_is_rejected_once(shell: Shell) -> None:
    event = request()
    headers = to_record(event, source=INTAKE).headers
    rec = in_record(headers, event, value=b'{"kind": "barbecue"}')
    error = InvalidBody(EventRequestSubmitted.ce_type, (("kind", "not a kind"),))
    records = await shell.handlers.on_dead_letter(CONN, rec, error)
    (rejected,) = [e.event for e in decoded(records)]
    assert isinstance(rejected, EventRequestRejected)
    assert rejected.request_id == event.request_id
    assert [(r.code, r.field) for r in rejected.reasons] == [("contract_violation", "kind")]
    assert shell.state(event.request_id).status == "rejected"
    assert await shell.handlers.on_dead_letter(CONN, rec, error) == []


async def test_other_dead_letters_are_not_answered(shell: Shell) -> None:
    event = request()
    headers = to_record(event, source=INTAKE).headers
    error = ValueError("anything")
    elsewhere = InRecord(topic=DLQ.name, partition=0, offset=0, key=event.key().encode(),
                         value=b"", headers=tuple(headers))
    foreign = in_record(to_record(event, source="/public").headers, event)
    command = decline(event.request_id)
    not_a_submission = in_record(to_record(command, source=INTAKE).headers, command)
    old_id = in_record(headers, event.model_copy(
        update={"request_id": UUID("12345678-1234-4234-8234-123456789abc")}))
    for rec in (elsewhere, foreign, not_a_submission, old_id,
                InRecord(EVENT_REQUEST_SUBMISSIONS.name, 0, 0, None, b"", tuple(headers))):
        assert await shell.handlers.on_dead_letter(CONN, rec, error) == []
    assert shell.store.requests == {}


# -- timers ---------------------------------------------------------------------------------


async def test_reminders_fall_due_at_n_then_n_plus_m_business_days_once_each(
        shell: Shell) -> None:
    waiting, scheduled = request(), request()
    await shell.answer(waiting)
    await shell.answer(scheduled)
    await shell.answer(schedule(scheduled.request_id, scheduled.windows[0].date))
    first_due = business_deadline(START, 3, REF.holiday_dates)
    second_due = business_deadline(first_due, 2, REF.holiday_dates)
    assert shell.timer(timers.REMINDER, waiting.request_id) == ("pending", first_due)
    assert shell.timer(timers.REMINDER, scheduled.request_id)[0] == "cancelled"
    assert await shell.fire(first_due - timedelta(minutes=1)) == (0, [])

    due, records = await shell.fire(first_due)
    (first,) = [e.event for e in decoded(records)]
    assert due == 1
    assert isinstance(first, EventRequestReminderDue)
    assert (first.request_id, first.escalate_to, first.business_days_waiting, first.due_at) == (
        waiting.request_id, "cmb_manager", 3, first_due)
    assert shell.timer(timers.REMINDER, waiting.request_id) == ("pending", second_due)
    assert await shell.fire(first_due) == (0, [])

    due, records = await shell.fire(second_due + timedelta(days=10))
    (second,) = [e.event for e in decoded(records)]
    assert due == 1
    assert isinstance(second, EventRequestReminderDue)
    assert (second.escalate_to, second.business_days_waiting) == ("staff_sergeant", 5)
    assert shell.state(waiting.request_id).next_reminder_at is None
    assert shell.timer(timers.REMINDER, waiting.request_id)[0] == "fired"
    assert await shell.fire(second_due + timedelta(days=10)) == (0, [])


async def test_both_levels_due_fire_one_look_apart(shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    late = business_deadline(START, 5, REF.holiday_dates) + timedelta(days=10)
    levels: list[str] = []
    for _ in range(2):
        due, records = await shell.fire(late)
        assert due == 1
        levels.extend(cast(EventRequestReminderDue, e.event).escalate_to
                      for e in decoded(records))
    assert levels == ["cmb_manager", "staff_sergeant"]
    assert await shell.fire(late) == (0, [])


async def test_a_request_no_longer_acknowledged_stops_reminding(shell: Shell) -> None:
    event = request()
    await shell.answer(event)
    state = shell.state(event.request_id)
    shell.store.requests[event.request_id] = replace(state, status="declined")
    assert state.next_reminder_at is not None
    assert await shell.fire(state.next_reminder_at) == (0, [])
    assert shell.state(event.request_id).next_reminder_at is None
    assert shell.timer(timers.REMINDER, event.request_id) == ("cancelled", state.next_reminder_at)


async def test_the_contact_is_purged_after_the_decision(shell: Shell) -> None:
    event = request("Burlington")
    await shell.answer(event)
    await shell.answer(decline(event.request_id, actor=Actor(agency_id="hrps-cmb-d3",
                                                             role="cmb")))
    due_at = START + timedelta(days=30)
    assert shell.timer(timers.PURGE, event.request_id) == ("pending", due_at)
    assert shell.timer(timers.REMINDER, event.request_id)[0] == "cancelled"
    assert await shell.fire(due_at - timedelta(minutes=1)) == (0, [])
    assert event.request_id in shell.store.contacts
    due, records = await shell.fire(due_at)
    (purged,) = [e.event for e in decoded(records)]
    assert due == 1
    assert isinstance(purged, EventRequestContactPurged)
    assert event.request_id not in shell.store.contacts
    state = shell.state(event.request_id)
    assert (state.purged_at, state.purge_after) == (due_at, None)
    assert shell.timer(timers.PURGE, event.request_id) == ("fired", due_at)
    assert await shell.fire(due_at + timedelta(days=400)) == (0, [])


async def test_a_confirmation_moves_the_purge_later_and_starts_the_reminders(
        shell: Shell) -> None:
    event = request(agency_id=None)
    await shell.answer(event)
    assert shell.timer(timers.PURGE, event.request_id) == ("pending", START + timedelta(hours=48))
    shell.clock.advance(timedelta(hours=1))
    await shell.handlers.confirm(CONN, event.request_id)
    state = shell.state(event.request_id)
    assert state.purge_after is not None
    assert state.next_reminder_at is not None
    assert state.purge_after > START + timedelta(days=30)
    assert shell.timer(timers.PURGE, event.request_id) == ("pending", state.purge_after)
    assert shell.timer(timers.REMINDER, event.request_id) == ("pending", state.next_reminder_at)
    assert await shell.fire(START + timedelta(hours=48)) == (0, []), "no expiry: confirmed"
    assert shell.state(event.request_id).status == "acknowledged"


async def test_an_unconfirmed_request_expires_at_its_deadline_and_its_contact_goes(
        shell: Shell) -> None:
    event = request(agency_id=None)
    await shell.answer(event)
    deadline = START + timedelta(hours=48)
    due, records = await shell.fire(deadline)
    expired, purged = [e.event for e in decoded(records)]
    assert due == 1
    assert isinstance(expired, EventRequestExpired)
    assert isinstance(purged, EventRequestContactPurged)
    assert (expired.expired_at, expired.district) == (deadline, "district_1")
    state = shell.state(event.request_id)
    assert (state.status, state.pending, state.purged_at) == ("expired", None, deadline)
    assert shell.store.contacts == {}
    late, none = await shell.handlers.confirm(CONN, event.request_id)
    assert (late, none) == (Unchanged("confirmation_expired"), [])
