"""Community event requests in intake on the real Kafka and PostgreSQL: acknowledgement per
municipality, short notice, missing details, duplicate ids, the CMB's commands and refusals,
reminders at N then N+M business days (ManualClock), the contact purge, and garbage to the DLQ.

The requests here come from an organization (``agency_id``: its agency token), which intake
answers at once; a request from the public first waits for its requester to confirm their
address (``test_event_request_confirmation.py``).

Every test uses its own request ids and reads only its own records; the clock only moves forward
(the timer tests come last)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from uuid6 import uuid7

from schemas.base import Actor, Message
from schemas.envelope import from_record, to_record
from schemas.event_requests import (
    DeclineEventRequest,
    EventLocation,
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestContactPurged,
    EventRequestDeclined,
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
from schemas.topics import DLQ, EVENT_REQUESTS
from services.intake import main, timer_loop
from services.intake.event_requests import timers
from services.intake.event_requests.calendar import business_deadline
from services.intake.event_requests.decide import EventConfig
from services.intake.event_requests.handlers import CONTACT_CONTEXT, StoredContact
from services.intake.provenance import GATEWAY, INTAKE
from services.intake.retention import TIMER_KINDS
from services.intake.settings import IntakeSettings
from services.intake.vault import Sealed, Vault
from services.runtime import timers as runtime
from services.runtime.clock import ManualClock
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.fakes.timers import deferred
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
EMAIL = f"events-{RUN}@example.org"
START = datetime.now(UTC).replace(microsecond=0)
D1 = Actor(agency_id="hrps-cmb-d1", role="cmb")
D2 = Actor(agency_id="hrps-cmb-d2", role="cmb")
HOLIDAYS = reference().holiday_dates
ORG = "community-living"  # an organization of the directory: its requests need no confirmation


class Harness:
    def __init__(self, svc: Service, producer: Producer, clock: ManualClock,
                 since: dict[int, int]) -> None:
        self.svc = svc
        self.producer = producer
        self.clock = clock
        self.since = since
        self.settings = svc.settings

    async def send(self, *messages: Message, source: str | None = None) -> None:
        """Publish ``messages`` from their expected producer (a submission from intake's own
        HTTP ingress, a command from the gateway) unless ``source`` says otherwise."""
        recs = [to_record(m, source=source or (
            INTAKE if isinstance(m, EventRequestSubmitted) else GATEWAY)) for m in messages]
        await self.producer.send_many([OutRecord(topic=r.topic, key=r.key, value=r.value,
                                                 headers=tuple(r.headers)) for r in recs])

    async def facts(self, request_id: UUID, count: int = 1) -> list[Message]:
        key = str(request_id).encode()

        async def found() -> list[Message]:
            recs = [r for r in await read_all(self.settings, EVENT_REQUESTS.name,
                                              since=self.since) if r.key == key]
            return [from_record(r.headers, r.value).event for r in recs] if len(recs) >= count \
                else []

        result: list[Message] = await wait_for(found)
        return result

    async def answer(self, event: EventRequestSubmitted) -> Message:
        await self.send(event)
        (fact,) = await self.facts(event.request_id)
        return fact


def window(days_ahead: int, now: datetime) -> TimeWindow:
    return TimeWindow(date=(now.astimezone(ZONE) + timedelta(days=days_ahead)).date(),
                      start=time(18, 30), end=time(20, 0))


def request(h: Harness, municipality: str = "Milton", **overrides: Any) -> EventRequestSubmitted:
    now = h.clock.now()
    fields: dict[str, Any] = {
        "request_id": uuid7(), "submitted_at": now, "kind": "speaker",
        "windows": (window(45, now), window(52, now)),
        "location": EventLocation(municipality=municipality,
                                  address_or_venue=f"{RUN} Example Community Hall"),
        "topics": ("seniors_safety",), "topics_other": "Phone scams", "expected_attendees": 40,
        "requester": Requester(name=f"Requester {RUN}", mailing_address="1 Example St, Milton",
                               daytime_phone="905 555 0101", email=EMAIL),
        "agency_id": ORG,
    }
    return EventRequestSubmitted(**{**fields, **overrides})


@pytest.fixture(scope="module")
async def h(settings: Settings) -> AsyncIterator[Harness]:
    clock = ManualClock(START)
    own = IntakeSettings(**{**settings.model_dump(), "intake_event_timer_interval_seconds": 0.2})
    since = await end_offsets(settings, EVENT_REQUESTS.name)
    svc = main.build(own, clock=clock)
    producer = Producer(settings, HARNESS, client_id=f"event-test-{RUN}")
    await svc.faststream.start()
    await producer.start()
    try:
        yield Harness(svc, producer, clock, since)
    finally:
        await producer.stop()
        await svc.faststream.stop()


async def contact_row(db: asyncpg.Pool, request_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM intake.event_request_contacts WHERE request_id = $1",
                             request_id)


@pytest.mark.parametrize(("municipality", "district", "code"), [
    ("Milton", "district_1", "milton"), ("Georgetown", "district_1", "georgetown"),
    ("Acton", "district_1", "acton"), ("Halton Hills", "district_1", "halton_hills"),
    ("Oakville", "district_2", "oakville"), ("Burlington", "district_3", "burlington"),
])
async def test_a_request_in_each_municipality_is_acknowledged_for_its_district(
        h: Harness, admin_db: asyncpg.Pool, municipality: str, district: str, code: str) -> None:
    event = request(h, municipality)
    ack = await h.answer(event)
    assert isinstance(ack, EventRequestAcknowledged), ack
    assert (ack.district, ack.municipality, ack.kind) == (district, code, "speaker")
    assert ack.windows == event.windows
    assert ack.acknowledged_at == h.clock.now()
    row = await contact_row(admin_db, event.request_id)
    assert row is not None
    assert EMAIL.encode() not in bytes(row["ciphertext"])
    clear = Vault.development().decrypt_record(CONTACT_CONTEXT, event.request_id, Sealed(
        row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])))
    assert StoredContact.model_validate_json(clear).requester == event.requester


async def test_29_days_out_is_rejected_with_the_earliest_acceptable_date(h: Harness) -> None:
    now = h.clock.now()
    event = request(h, windows=(window(29, now),))
    rejected = await h.answer(event)
    assert isinstance(rejected, EventRequestRejected), rejected
    assert [(r.code, r.field) for r in rejected.reasons] == [("notice_too_short",
                                                              "windows.0.date")]
    assert rejected.earliest_acceptable_date == now.astimezone(ZONE).date() + timedelta(days=30)
    assert (rejected.district, rejected.kind) == ("district_1", "speaker")


async def test_missing_details_are_all_named_at_once(h: Harness) -> None:
    event = EventRequestSubmitted(request_id=uuid7(), submitted_at=h.clock.now(),
                                  kind="district_tour", requester=Requester(email=EMAIL),
                                  agency_id=ORG)
    rejected = await h.answer(event)
    assert isinstance(rejected, EventRequestRejected)
    assert {r.field for r in rejected.reasons} == {
        "windows", "location.municipality", "location.address_or_venue", "topics",
        "expected_attendees", "requester.name", "requester.mailing_address",
        "requester.daytime_phone"}
    assert RUN not in rejected.model_dump_json()


async def test_a_duplicate_request_id_changes_nothing(h: Harness) -> None:
    event = request(h)
    assert isinstance(await h.answer(event), EventRequestAcknowledged)
    await h.send(event.model_copy(update={"kind": "district_tour"}))
    # a marker on the same key (same partition, so handled after the duplicate)
    await h.send(sample_decline(event.request_id, reason="not_a_reason"))
    first, marker = await h.facts(event.request_id, count=2)
    assert isinstance(first, EventRequestAcknowledged)
    assert isinstance(marker, EventRequestCommandRefused)


async def test_records_from_an_unexpected_producer_are_ignored(h: Harness,
                                                             admin_db: asyncpg.Pool) -> None:
    # a submission written straight to the topic instead of through intake's ingress, and the
    # CMB's command from anything but the gateway, take no effect and get no answer
    stray = request(h)
    await h.send(stray, source="/public")
    await h.send(sample_decline(stray.request_id), source="/commande/cli")
    event = request(h)
    await h.answer(event)
    await h.send(sample_decline(event.request_id), source="/commande/cli")
    # markers on the same keys (same partitions, so handled after the stray records)
    await h.send(sample_decline(stray.request_id))
    await h.send(sample_decline(event.request_id, reason="not_a_reason"))
    (unknown,) = await h.facts(stray.request_id)
    assert isinstance(unknown, EventRequestCommandRefused)
    assert [r.code for r in unknown.reasons] == ["request_unknown"]
    acknowledged, marker = await h.facts(event.request_id, count=2)
    assert isinstance(acknowledged, EventRequestAcknowledged)
    assert isinstance(marker, EventRequestCommandRefused)
    assert await admin_db.fetchval("SELECT status FROM intake.event_requests WHERE request_id = $1",
                                   event.request_id) == "acknowledged"
    assert await admin_db.fetchval(
        "SELECT count(*) FROM intake.event_requests WHERE request_id = $1", stray.request_id) == 0


def sample_decline(request_id: UUID, actor: Actor = D1, **fields: Any) -> DeclineEventRequest:
    values: dict[str, Any] = {"reason": "no_capacity", "note": "No officer is free that week."}
    return DeclineEventRequest(actor=actor, issued_at=datetime.now(UTC), request_id=request_id,
                               **{**values, **fields})


async def test_schedule_then_withdraw_and_refusals(h: Harness) -> None:
    event = request(h)
    await h.answer(event)
    day = event.windows[0].date
    await h.send(
        ScheduleEventRequest(actor=D2, issued_at=h.clock.now(), request_id=event.request_id,
                             date=date(2020, 1, 1), start=time(18, 30), officer_role="astronaut"),
        ScheduleEventRequest(actor=D1, issued_at=h.clock.now(), request_id=event.request_id,
                             date=day, start=time(18, 30), officer_role="community_safety_officer",
                             notes="Projector on site."),
        sample_decline(event.request_id),
        WithdrawEventRequest(actor=D1, issued_at=h.clock.now(), request_id=event.request_id,
                             reason="no_longer_needed"))
    _, refused, scheduled, late, withdrawn = await h.facts(event.request_id, count=5)
    assert isinstance(refused, EventRequestCommandRefused)
    assert [(r.code, r.field) for r in refused.reasons] == [
        ("actor_not_district_cmb", "actor.agency_id"), ("officer_role_unknown", "officer_role"),
        ("date_in_past", "date")]
    assert refused.actor_agency_id == "hrps-cmb-d2"
    assert refused.command_type == ScheduleEventRequest.ce_type
    assert isinstance(scheduled, EventRequestScheduled)
    assert (scheduled.date, scheduled.officer_role, scheduled.district) == (
        day, "community_safety_officer", "district_1")
    assert isinstance(late, EventRequestCommandRefused)
    assert [r.code for r in late.reasons] == ["request_already_decided"]
    assert isinstance(withdrawn, EventRequestWithdrawn)
    assert withdrawn.reason == "no_longer_needed"


async def test_decline_and_an_unknown_request(h: Harness) -> None:
    event = request(h, "Oakville")
    await h.answer(event)
    await h.send(sample_decline(event.request_id, actor=D2))
    _, declined = await h.facts(event.request_id, count=2)
    assert isinstance(declined, EventRequestDeclined)
    assert (declined.reason, declined.district) == ("no_capacity", "district_2")
    unknown = uuid7()
    await h.send(sample_decline(unknown, reason="bored"))
    (refused,) = await h.facts(unknown)
    assert isinstance(refused, EventRequestCommandRefused)
    assert [r.code for r in refused.reasons] == ["request_unknown", "decline_reason_unknown"]


async def test_a_note_with_the_requesters_name_or_a_phone_is_refused(h: Harness) -> None:
    """The note is kept forever on the de-identified topic; the requester's name only until the
    purge: intake opens the contact to compare, through invisible characters and dashes."""
    event = request(h, requester=Requester(name="Avery Testy", mailing_address="1 Example St, Milton",
                                           daytime_phone="905 555 0101", email=EMAIL))
    await h.answer(event)
    await h.send(sample_decline(event.request_id, note="Sorry Av\u00adery, no officer is free."),
                 sample_decline(event.request_id, note="Call 905\u2013555\u20130199 to talk."),
                 sample_decline(event.request_id))
    _, by_name, by_phone, declined = await h.facts(event.request_id, count=4)
    assert isinstance(by_name, EventRequestCommandRefused)
    assert [(r.code, r.field) for r in by_name.reasons] == [("note_contains_requester_name", "note")]
    assert isinstance(by_phone, EventRequestCommandRefused)
    assert [(r.code, r.field) for r in by_phone.reasons] == [("note_contains_phone", "note")]
    assert isinstance(declined, EventRequestDeclined)
    assert declined.note == "No officer is free that week."


async def test_garbage_goes_to_the_dlq_and_a_keyed_submission_is_answered(h: Harness) -> None:
    good = to_record(request(h), source=INTAKE)
    body = json.loads(good.value)
    body["kind"] = "barbecue"
    body["expected_attendees"] = "lots"
    garbled_key = str(uuid7()).encode()
    await h.producer.send_many([
        OutRecord(good.topic, json.dumps(body).encode(), good.key, tuple(good.headers)),
        OutRecord(good.topic, b"\xff not json", garbled_key, tuple(good.headers)),
    ])
    request_id = UUID(good.key.decode())
    (rejected,) = await h.facts(request_id)
    assert isinstance(rejected, EventRequestRejected)
    assert {(r.code, r.field) for r in rejected.reasons} == {
        ("contract_violation", "kind"), ("contract_violation", "expected_attendees")}
    keys = {good.key, garbled_key}

    async def dead() -> list[InRecord]:
        recs = [r for r in await read_all(h.settings, DLQ.name) if r.key in keys]
        return recs if len(recs) == 2 else []

    assert len(await wait_for(dead)) == 2


# -- timers: the clock moves forward from here ----------------------------------------------


async def reminders(h: Harness, request_id: UUID) -> list[EventRequestReminderDue]:
    key = str(request_id).encode()
    recs = [r for r in await read_all(h.settings, EVENT_REQUESTS.name, since=h.since)
            if r.key == key]
    found = [from_record(r.headers, r.value).event for r in recs]
    return [e for e in found if isinstance(e, EventRequestReminderDue)]


async def test_reminders_fire_at_n_then_n_plus_m_business_days_once_each(h: Harness) -> None:
    waiting, scheduled = request(h), request(h)
    ack = await h.answer(waiting)
    assert isinstance(ack, EventRequestAcknowledged)
    await h.answer(scheduled)
    await h.send(ScheduleEventRequest(
        actor=D1, issued_at=h.clock.now(), request_id=scheduled.request_id,
        date=scheduled.windows[0].date, start=time(18, 30), officer_role="cmb_officer"))
    await h.facts(scheduled.request_id, count=2)
    first_due = business_deadline(ack.acknowledged_at, 3, HOLIDAYS)
    second_due = business_deadline(first_due, 2, HOLIDAYS)

    h.clock.set(first_due - timedelta(minutes=1))
    await asyncio.sleep(1.0)  # five passes of the loop
    assert await reminders(h, waiting.request_id) == []

    h.clock.set(first_due)
    # a second instance's pass at the same moment, racing the service's own loop
    config = EventConfig(holidays=HOLIDAYS)
    fire = runtime.route({**timers.fires(config),  # the schema's other timers stay as they are
                          **{kind: deferred for kind in TIMER_KINDS}})
    await asyncio.gather(*(timer_loop.fire_due(h.svc.pool, "intake", fire, h.clock)
                           for _ in range(2)))
    (first,) = await wait_for(lambda: reminders(h, waiting.request_id))
    assert (first.escalate_to, first.business_days_waiting, first.district) == (
        "cmb_manager", 3, "district_1")
    assert first.due_at == first_due

    h.clock.set(second_due)

    async def two() -> list[EventRequestReminderDue]:
        found = await reminders(h, waiting.request_id)
        return found if len(found) >= 2 else []

    _, second = await wait_for(two)
    assert (second.escalate_to, second.business_days_waiting) == ("staff_sergeant", 5)
    h.clock.set(second_due + timedelta(days=10))
    await asyncio.sleep(1.0)
    assert len(await reminders(h, waiting.request_id)) == 2
    assert await reminders(h, scheduled.request_id) == []


async def test_the_contact_is_purged_after_the_decision(h: Harness,
                                                        admin_db: asyncpg.Pool) -> None:
    event = request(h, "Burlington")
    await h.answer(event)
    await h.send(sample_decline(event.request_id, actor=Actor(agency_id="hrps-cmb-d3",
                                                              role="cmb")))
    _, declined = await h.facts(event.request_id, count=2)
    assert isinstance(declined, EventRequestDeclined)
    assert await contact_row(admin_db, event.request_id) is not None
    h.clock.set(declined.declined_at + timedelta(days=30) - timedelta(minutes=1))
    await asyncio.sleep(1.0)
    assert await contact_row(admin_db, event.request_id) is not None
    h.clock.set(declined.declined_at + timedelta(days=30))
    *_, purged = await h.facts(event.request_id, count=3)
    assert isinstance(purged, EventRequestContactPurged)
    assert await contact_row(admin_db, event.request_id) is None
    row = await admin_db.fetchrow("SELECT * FROM intake.event_requests WHERE request_id = $1",
                                  event.request_id)
    assert row is not None
    assert row["purged_at"] == declined.declined_at + timedelta(days=30)
    assert row["purge_after"] is None
