"""What the services write on the real Kafka matches the committed JSON Schemas, formats checked.

Intake and convening run against the stack; the samples of the input types (a referral, a
rejected one, community event requests from an organization and from the public, a short-notice
one, the CMB's scheduling, a chair's decision) are produced with this run's own ids. Then every
record on every contract topic since the test began, as the services wrote it, is validated by an
independent validator (``jsonschema`` with its format checker, ``tests/contract/formats.py``)
against the committed schema of its ``ce_type``: local times such as "18:30:00" (no offset) and
RFC 3339 instants, UUIDs and dates included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
from uuid6 import uuid7

from schemas.base import Actor, Message
from schemas.commands import RecordAerDecision
from schemas.envelope import from_record, to_record
from schemas.event_requests import (
    EventLocation,
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestRejected,
    EventRequestScheduled,
    EventRequestSubmitted,
    ScheduleEventRequest,
    TimeWindow,
)
from schemas.meetings import AgendaIssued
from schemas.reference.calendar import ZONE
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.registry import MESSAGES
from schemas.signing import sign_record
from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import EVENT_REQUESTS, MEETINGS, REFERRAL_STATUS, SITUATIONS, TABLE_ACTIONS
from services.convening.main import build as build_convening
from services.convening.settings import ConveningSettings
from services.intake import main as intake_main
from services.intake import sealing
from services.intake.provenance import GATEWAY, INTAKE, partner_source
from services.intake.settings import IntakeSettings
from services.intake.signing import development_signing_key
from services.runtime.clock import ManualClock
from services.runtime.events import out_record
from services.runtime.kafka import InRecord, Producer
from services.runtime.settings import Settings
from tests.contract.formats import committed, problems
from tests.support.kafka import HARNESS, end_offsets, group_at_end, read_all, wait_for
from tests.support.samples import sample, subject

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
START = datetime.now(UTC).replace(microsecond=0)
AGENCY = "mental-health-assoc"
ORG = "community-living"  # an organization of the directory: its event requests need no link
CMB_D1 = Actor(agency_id="hrps-cmb-d1", role="cmb")
CHAIR_D1 = Actor(agency_id="hrps-cmb-d1", role="table_chair")
BY_TYPE = {m.ce_type: m for m in MESSAGES}
TOPICS = sorted({m.topic.name for m in MESSAGES})


@dataclass
class Stack:
    settings: Settings
    producer: Producer
    clock: ManualClock
    since: dict[str, dict[int, int]]

    async def publish(self, message: Message, source: str, *, signed: bool = False) -> str:
        rec = to_record(message, source=source)
        if signed:
            rec = sign_record(rec, development_signing_key(AGENCY))
        await self.producer.send_many([out_record(rec)])
        return dict(rec.headers)["ce_id"].decode()

    async def records(self, topic: str) -> list[InRecord]:
        return await read_all(self.settings, topic, since=self.since[topic])

    async def fact(self, topic: str, key: str, kind: type[Message]) -> Any:
        """The first record of type ``kind`` under ``key`` on ``topic`` since the start."""

        async def found() -> list[Message]:
            return [e for r in await self.records(topic) if r.key == key.encode()
                    for e in [from_record(r.headers, r.value).event] if isinstance(e, kind)]

        events: list[Message] = await wait_for(found)
        return events[0]

    async def agenda(self, meeting_id: UUID) -> AgendaIssued:
        """The first agenda of ``meeting_id`` issued since the start."""

        async def found() -> list[AgendaIssued]:
            return [e for r in await self.records(MEETINGS.name)
                    for e in [from_record(r.headers, r.value).event]
                    if isinstance(e, AgendaIssued) and e.meeting_id == meeting_id]

        agendas: list[AgendaIssued] = await wait_for(found)
        return agendas[0]

    async def caused_by(self, ce_id: str) -> list[InRecord]:
        """Records on any contract topic whose ``ce_causationid`` is ``ce_id``."""

        async def found() -> list[InRecord]:
            return [r for topic in TOPICS for r in await self.records(topic)
                    if dict(r.headers).get("ce_causationid") == ce_id.encode()]

        recs: list[InRecord] = await wait_for(found)
        return recs


@pytest.fixture(scope="module")
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    since = {topic: await end_offsets(settings, topic) for topic in TOPICS}
    clock = ManualClock(START)
    intake = intake_main.build(IntakeSettings(**settings.model_dump()), clock=clock)
    groups = {"situations_group": f"convening-records-{RUN}",
              "commands_group": f"convening-records-commands-{RUN}"}
    await group_at_end(settings, groups["situations_group"], [SITUATIONS.name])
    await group_at_end(settings, groups["commands_group"], [TABLE_ACTIONS.name])
    convening = build_convening(ConveningSettings(**{**settings.model_dump(), **groups,
                                                     "timer_poll_seconds": 0.1,
                                                     "agenda_update_window_seconds": 0}),
                                 clock=clock)
    producer = Producer(settings, HARNESS, client_id=f"records-test-{RUN}")
    await intake.faststream.start()
    await convening.faststream.start()
    await producer.start()
    try:
        yield Stack(settings, producer, clock, since)
    finally:
        await producer.stop()
        await convening.faststream.stop()
        await intake.faststream.stop()


def referral(name: str, municipality: str, priority: str = "routine") -> ReferralSubmitted:
    """The sample referral under this run's reference, the subject sealed to intake's key."""
    base = sample(ReferralSubmitted)
    return sample(
        ReferralSubmitted, agency_id=AGENCY, referral_ref=f"R{RUN}-{name}", submitted_at=START,
        priority=priority,
        summary=base.summary.model_copy(update={"municipality": municipality}),
        aer=base.aer.model_copy(update={"attested_at": START - timedelta(hours=1)}),
        subject=None, sealed_subject=sealing.seal_subject(
            subject(), sealing.development_private_key("intake").public_key))


def event_request(days_ahead: int, **overrides: Any) -> EventRequestSubmitted:
    """The sample event request with a fresh id, ``days_ahead`` days from now, 18:30 to 20:00."""
    day = (START.astimezone(ZONE) + timedelta(days=days_ahead)).date()
    fields: dict[str, Any] = {
        "request_id": uuid7(), "submitted_at": START,
        "windows": (TimeWindow(date=day, start=time(18, 30), end=time(20, 0)),),
        "location": EventLocation(municipality="Glen Williams",
                                  address_or_venue=f"{RUN} Example Hall"),
    }
    return sample(EventRequestSubmitted, **{**fields, **overrides})


async def test_every_record_the_services_wrote_matches_its_committed_schema(stack: Stack) -> None:
    # Referrals: two accepted (opened, then scheduled by convening: the urgent one in a meeting
    # within 24 hours, whose agenda is due), one rejected.
    accepted_ref = referral("accepted", "Acton")
    urgent_ref = referral("urgent", " burlington ", "urgent")
    await stack.publish(accepted_ref, partner_source(AGENCY), signed=True)
    await stack.publish(urgent_ref, partner_source(AGENCY), signed=True)
    await stack.publish(referral("rejected", "Hamilton"), partner_source(AGENCY), signed=True)
    accepted = await stack.fact(REFERRAL_STATUS.name, accepted_ref.key(), ReferralAccepted)
    await stack.fact(REFERRAL_STATUS.name, f"{AGENCY}/R{RUN}-rejected", ReferralRejected)
    situation = str(accepted.situation_id)
    await stack.fact(SITUATIONS.name, situation, SituationOpened)
    scheduled = await stack.fact(SITUATIONS.name, situation, SituationScheduled)
    decision = sample(RecordAerDecision, actor=CHAIR_D1, issued_at=START,
                      situation_id=accepted.situation_id, meeting_id=scheduled.meeting_id)
    decided = await stack.publish(decision, GATEWAY)
    urgent = await stack.fact(REFERRAL_STATUS.name, urgent_ref.key(), ReferralAccepted)
    soon = await stack.fact(SITUATIONS.name, str(urgent.situation_id), SituationScheduled)
    stack.clock.set(max(stack.clock.now(), soon.meeting_starts_at - timedelta(minutes=30)))
    await stack.agenda(soon.meeting_id)

    # Event requests: from an organization (acknowledged, then scheduled), from the public
    # (asked to confirm), and on short notice (rejected).
    org = event_request(45, agency_id=ORG)
    public = event_request(45, agency_id=None)
    short = event_request(10, agency_id=ORG)
    for submitted in (org, public, short):
        await stack.publish(submitted, INTAKE)
    topic = EVENT_REQUESTS.name
    ack = await stack.fact(topic, str(org.request_id), EventRequestAcknowledged)
    await stack.fact(topic, str(public.request_id), EventRequestConfirmationRequested)
    await stack.fact(topic, str(short.request_id), EventRequestRejected)
    await stack.publish(sample(ScheduleEventRequest, actor=CMB_D1, issued_at=START,
                               request_id=org.request_id, date=ack.windows[0].date,
                               start=time(18, 45)), GATEWAY)
    await stack.fact(topic, str(org.request_id), EventRequestScheduled)
    await stack.caused_by(decided)  # convening answered the chair (decided or refused)

    checked: dict[str, int] = {}
    found: list[str] = []
    for name in TOPICS:
        for rec in await stack.records(name):
            headers = dict(rec.headers)
            ce_type = headers.get("ce_type", b"").decode()
            if ce_type not in BY_TYPE or not headers.get("ce_source", b"").startswith(b"/commande/"):
                continue  # not a contract record, or a test's own hand-made one
            assert committed(ce_type)["x-kafka-topic"] == name, ce_type
            found += problems(ce_type, json.loads(rec.value))
            checked[ce_type] = checked.get(ce_type, 0) + 1
    assert found == []
    written_by_services = {m.ce_type for m in (
        ReferralAccepted, ReferralRejected, SituationOpened, SituationScheduled, AgendaIssued,
        EventRequestAcknowledged, EventRequestConfirmationRequested, EventRequestRejected,
        EventRequestScheduled)}
    assert written_by_services <= set(checked), sorted(written_by_services - set(checked))
