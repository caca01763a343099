"""convening on the real Kafka and PostgreSQL, with a controlled clock.

Each test opens its own situations (fresh ids) at a random instant years ahead, so its meetings
are its own, and asserts only on its own ids: intake and other tests publish on the same topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from uuid6 import uuid7

from directory import load_directory
from schemas.base import Actor, Message
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.envelope import Envelope, from_record
from schemas.errors import ContractError
from schemas.meetings import AgendaIssued, CommandRejected, MeetingScheduled, ParticipantInvited
from schemas.referrals import SituationSummary
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from schemas.topics import MEETINGS, SITUATIONS, TABLE_ACTIONS
from services.convening.main import build
from services.convening.scheduling import regular_starts
from services.convening.settings import ConveningSettings
from services.runtime import kafka_client
from services.runtime.clock import ManualClock
from services.runtime.events import emit
from services.runtime.kafka import Producer
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.kafka import HARNESS, wait_for
from tests.support.samples import sample, summary

pytestmark = pytest.mark.integration

TEST_SOURCE = "/test/convening"
CONVENING = "/commande/convening"
CHAIR_D1 = Actor(agency_id="hrps-cmb-d1", role="table_chair")
LEAD = "mental-health-assoc"
ORIGINATOR = "justice-services"
"""Acts on none of the test situations' risk categories: it is invited only as their originator."""
ASSISTING = "housing-services"
TORONTO = ZoneInfo("America/Toronto")
M = TypeVar("M", bound=Message)


class Tail:
    """Every decodable record published on some topics after it started, as envelopes."""

    def __init__(self, settings: Settings, *topics: str) -> None:
        self._settings = settings
        self._topics = topics
        self.seen: list[Envelope[Message]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = kafka_client.consumer(self._settings, HARNESS, enable_auto_commit=False,
                                         group_id=None, client_id=f"test-tail-{uuid.uuid4()}")
        await consumer.start()
        tps = []
        for topic in self._topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)  # resolve "end" now, before anything is published
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                for rec in recs:
                    headers = [(k, bytes(v)) for k, v in rec.headers]
                    with contextlib.suppress(ContractError):
                        self.seen.append(from_record(headers, rec.value, topic=rec.topic))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def of(self, model: type[M], where: Callable[[M], bool] = lambda _: True,
           source: str = CONVENING) -> list[M]:
        """The events of type ``model`` from ``source`` matching ``where``, in arrival order."""
        return [e.event for e in self.seen
                if isinstance(e.event, model) and e.source == source and where(e.event)]

    def envelopes(self, model: type[Message], where: Callable[[Any], bool]) -> list[Envelope[Message]]:
        return [e for e in self.seen if isinstance(e.event, model) and e.source == CONVENING
                and where(e.event)]

    async def wait(self, model: type[M], where: Callable[[M], bool] = lambda _: True, *,
                   count: int = 1, within: float = 30.0) -> list[M]:
        """Wait until at least ``count`` matching events arrived; returns them."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = self.of(model, where)
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{count} {model.__name__} expected, {len(found)} seen")
            await asyncio.sleep(0.1)


def _command_is(command_id: UUID) -> Callable[[CommandRejected], bool]:
    return lambda e: e.command_id == command_id


def _meeting_is(meeting_id: UUID) -> Callable[[ParticipantInvited | AgendaIssued], bool]:
    return lambda e: e.meeting_id == meeting_id


def new_clock(weekday: int | None = None) -> ManualClock:
    """A clock at a random instant years ahead: this test's meetings are its own.

    With ``weekday`` (0 = Monday), at noon in Halton on such a day.
    """
    # Beyond 2100 and spread over thousands of years: runs never share a meeting.
    start = datetime.now(UTC) + timedelta(days=random.randint(30_000, 2_500_000),
                                          minutes=random.randint(0, 1440))
    if weekday is not None:
        local = start.astimezone(TORONTO)
        day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
        start = datetime(day.year, day.month, day.day, 12, tzinfo=TORONTO)
    return ManualClock(start.replace(microsecond=0))


async def fresh_groups(settings: Settings) -> dict[str, str]:
    """Consumer groups of this test's own, committed at the topics' ends now.

    The real groups (``convening``, ``convening-commands``) may have a backlog that others
    published (a replay, a load test); a test reads only what is published while it runs.
    """
    groups = {"situations_group": f"convening-test-{uuid.uuid4().hex[:10]}",
              "commands_group": f"convening-commands-test-{uuid.uuid4().hex[:10]}"}
    for group, topic in ((groups["situations_group"], SITUATIONS.name),
                         (groups["commands_group"], TABLE_ACTIONS.name)):
        consumer = kafka_client.consumer(settings, HARNESS, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()
    return groups


def convening_settings(settings: Settings, groups: dict[str, str],
                       **overrides: Any) -> ConveningSettings:
    return ConveningSettings(**{**settings.model_dump(), "timer_poll_seconds": 0.1, **groups,
                                **overrides})


@pytest.fixture
async def tail(settings: Settings) -> AsyncIterator[Tail]:
    t = Tail(settings, SITUATIONS.name, MEETINGS.name)
    await t.start()
    yield t
    await t.stop()


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[Producer]:
    p = Producer(settings, HARNESS, client_id="test-convening")
    await p.start()
    yield p
    await p.stop()


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: ManualClock, **overrides: Any) -> AsyncIterator[Service]:
    svc = build(convening_settings(settings, await fresh_groups(settings), **overrides), clock=clock)
    await svc.faststream.start()
    try:
        yield svc
    finally:
        await svc.faststream.stop()


async def send(producer: Producer, message: Message) -> UUID:
    """Publish ``message`` as a partner or chair client would; returns its ``ce_id``."""
    rec = emit(message, source=TEST_SOURCE)
    await producer.send_many([rec])
    return UUID(dict(rec.headers)["ce_id"].decode())


def opened(clock: ManualClock, *, municipality: str = "milton", district: str = "district_1",
           priority: str = "routine", **summary_fields: Any) -> SituationOpened:
    sid = uuid7()
    fields = {**summary().model_dump(), "municipality": municipality, **summary_fields}
    return sample(SituationOpened, situation_id=sid, referral_ref=f"TEST-{sid.hex[:12]}",
                  originating_agency=ORIGINATOR, district=district, priority=priority,
                  opened_at=clock.now(),
                  summary=SituationSummary(**fields))


async def timer_states(admin_db: asyncpg.Pool, situation_id: UUID) -> dict[str, str]:
    rows = await admin_db.fetch(
        "SELECT kind, state FROM convening.durable_timers WHERE aggregate_id = $1", situation_id)
    return {r["kind"]: r["state"] for r in rows}


# -- scheduling, participants, agendas --------------------------------------------------------


async def test_opened_situation_is_scheduled_with_its_districts_participants(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock()
    async with running(settings, clock):
        event = opened(clock, municipality="oakville", district="district_2")
        sid = event.situation_id
        await send(producer, event)

        [scheduled] = await tail.wait(SituationScheduled, lambda e: e.situation_id == sid)
        assert scheduled.district == "district_2"
        assert scheduled.slot == "regular"
        assert scheduled.meeting_starts_at - event.opened_at >= timedelta(hours=24)
        assert scheduled.meeting_starts_at.astimezone(TORONTO).strftime("%a %H:%M") == "Wed 10:00"
        meeting_id = scheduled.meeting_id
        [meeting] = await tail.wait(MeetingScheduled, lambda e: e.meeting_id == meeting_id)
        assert meeting.ends_at - meeting.starts_at == timedelta(hours=2)
        assert meeting.starts_at == scheduled.meeting_starts_at

        # Other situations (intake's, other tests') may share the meeting: invitations are per
        # meeting and participant, so assert on what concerns this situation.
        expected = {"hrps-cmb-d2", event.originating_agency, "youth-mental-health",
                    "housing-services", "mental-health-assoc", "halton-ems", "regional-hospital"}
        await tail.wait(ParticipantInvited, lambda e: e.meeting_id == meeting_id
                        and e.agency_id in expected, count=len(expected))
        await asyncio.sleep(0.5)
        invited = tail.of(ParticipantInvited, lambda e: e.meeting_id == meeting_id)
        assert Counter(i.agency_id for i in invited if i.agency_id in expected) == Counter(
            expected), "one invitation per participant and meeting"
        assert not {i.agency_id for i in invited} & {"hrps-cmb-d1", "hrps-cmb-d3", "town-milton"}
        # Whoever's situation first invited them, the reason is the participant's own.
        reasons = {i.agency_id: i.reason for i in invited}
        assert reasons["hrps-cmb-d2"] == "district_cmb"
        mine = {i.agency_id: i for i in invited if sid in i.situation_ids}
        if ORIGINATOR in mine:
            assert mine[ORIGINATOR].reason == "originating_agency"
        if "housing-services" in mine:
            assert mine["housing-services"].reason == "sector_match"
            assert "housing" in mine["housing-services"].matched_sectors
        # A regular meeting's agendas wait for their lead time.
        assert tail.of(AgendaIssued, lambda e: e.meeting_id == meeting_id) == []

        # At the lead time (24 h before), each participant gets one first agenda; this
        # situation is on exactly the agendas of the participants it needs.
        clock.set(meeting.starts_at - timedelta(hours=23))
        first = await tail.wait(AgendaIssued, lambda e: e.meeting_id == meeting_id
                                and e.revision == 1, count=len(expected))
        await asyncio.sleep(0.3)
        with_mine = tail.of(AgendaIssued, lambda e: e.meeting_id == meeting_id
                            and sid in {i.situation_id for i in e.items})
        assert {a.agency_id for a in with_mine} == expected
        assert all(a.kind == "first" for a in first)
        assert Counter(a.agency_id for a in tail.of(
            AgendaIssued, lambda e: e.meeting_id == meeting_id and e.revision == 1)).most_common(
            1)[0][1] == 1, "one first agenda per participant"

        # An urgent situation joining the same meeting later: a newcomer's first agenda at once;
        # the updates of those whose agenda grew wait for the update window (coalesced).
        late = opened(clock, municipality="oakville", district="district_2", priority="urgent",
                      risk_factors=("housing.eviction_risk", "drugs.substance_misuse"))
        await send(producer, late)
        [joined] = await tail.wait(SituationScheduled, lambda e: e.situation_id == late.situation_id)
        assert joined.meeting_id == meeting_id

        def listing_late(e: AgendaIssued) -> bool:
            return e.meeting_id == meeting_id and late.situation_id in {i.situation_id for i in e.items}

        await tail.wait(AgendaIssued, lambda e: listing_late(e) and e.agency_id == "addiction-services")
        await asyncio.sleep(0.5)
        at_once = tail.of(AgendaIssued, listing_late)
        assert {a.kind for a in at_once} == {"first"}, "only newcomers' first agendas at once"
        assert "housing-services" not in {a.agency_id for a in at_once}
        clock.advance(timedelta(seconds=60))
        await tail.wait(AgendaIssued, lambda e: listing_late(e) and e.agency_id == "housing-services")
        await asyncio.sleep(0.5)
        updates = tail.of(AgendaIssued, listing_late)
        housing = next(a for a in updates if a.agency_id == "housing-services")
        assert housing.kind == "update"
        assert housing.revision >= 2
        assert housing.added == (late.situation_id,), "the update says what it adds"
        assert housing.meeting is not None
        assert (housing.meeting.starts_at, housing.meeting.ends_at, housing.meeting.venue,
                housing.meeting.district) == (meeting.starts_at, meeting.ends_at, meeting.venue,
                                              meeting.district)
        order = [i.situation_id for i in housing.items]
        assert order.index(late.situation_id) < order.index(sid), "urgent first"
        assert "youth-mental-health" not in {a.agency_id for a in updates}
        newcomer = next(a for a in updates if a.agency_id == "addiction-services")
        assert late.situation_id in {i.situation_id for i in newcomer.items}
        assert not tail.of(MeetingScheduled, lambda e: e.meeting_id != meeting_id
                           and e.district == "district_2" and e.starts_at == meeting.starts_at)


async def test_urgent_situation_gets_an_ad_hoc_meeting_with_agendas_at_once(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock(weekday=4)  # a Friday: district 3 meets on Thursdays
    async with running(settings, clock):
        event = opened(clock, municipality="burlington", district="district_3", priority="urgent")
        await send(producer, event)
        [scheduled] = await tail.wait(SituationScheduled,
                                      lambda e: e.situation_id == event.situation_id)
        assert scheduled.slot == "ad_hoc"
        assert scheduled.meeting_starts_at == event.opened_at + timedelta(hours=4)
        [meeting] = await tail.wait(MeetingScheduled,
                                    lambda e: e.meeting_id == scheduled.meeting_id)
        assert meeting.kind == "ad_hoc"
        invited = await tail.wait(ParticipantInvited,
                                  lambda e: e.meeting_id == scheduled.meeting_id, count=3)
        agendas = await tail.wait(AgendaIssued, lambda e: e.meeting_id == scheduled.meeting_id,
                                  count=len(invited))
        assert {a.agency_id for a in agendas} == {i.agency_id for i in invited}
        assert {"hrps-cmb-d3", event.originating_agency} <= {a.agency_id for a in agendas}
        assert all((a.kind, a.revision) == ("first", 1) for a in agendas)
        assert all([i.situation_id for i in a.items] == [event.situation_id] for a in agendas)


async def test_a_situation_seen_late_is_placed_on_a_meeting_still_ahead(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock()
    async with running(settings, clock):
        event = opened(clock, municipality="oakville", district="district_2")
        event = event.model_copy(update={"opened_at": clock.now() - timedelta(days=30)})
        await send(producer, event)
        [scheduled] = await tail.wait(SituationScheduled,
                                      lambda e: e.situation_id == event.situation_id)
        # The next meeting after now and its cut-off (or a later one if that one is full).
        assert scheduled.meeting_starts_at - clock.now() >= timedelta(hours=24)


async def test_a_full_meeting_sends_the_next_situation_to_the_following_one(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock()
    async with running(settings, clock, meeting_capacity=2):
        events = [opened(clock, municipality="burlington", district="district_3")
                  for _ in range(3)]
        for event in events:
            await send(producer, event)
        ids = [e.situation_id for e in events]
        found = await tail.wait(SituationScheduled, lambda e: e.situation_id in ids, count=3)
        starts = sorted(e.meeting_starts_at for e in found)
        assert starts[0] == starts[1]
        # The table's next regular meeting: a week later at the same local time, unless a
        # statutory holiday or the table's end-of-year closure falls on that day.
        [table] = [t for t in load_directory(ConveningSettings().directory_path).tables
                   if t.district == "district_3"]
        assert starts[2] == next(regular_starts(table.cadence, starts[0]))
        first, following = (starts[0].astimezone(TORONTO), starts[2].astimezone(TORONTO))
        assert following.time() == first.time()
        assert (following.date() - first.date()).days % 7 == 0
        assert len({e.meeting_id for e in found}) == 2


async def test_situations_arriving_together_fill_a_meeting_in_turn_and_grow_its_agendas(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock(weekday=4)  # a Friday: district 3 meets on Thursdays, nothing within 24 h
    async with running(settings, clock, meeting_capacity=3):
        events = [opened(clock, municipality="burlington", district="district_3",
                         priority="urgent") for _ in range(5)]
        await producer.send_many([emit(e, source=TEST_SOURCE) for e in events])  # one batch
        ids = {e.situation_id for e in events}
        found = await tail.wait(SituationScheduled, lambda e: e.situation_id in ids, count=5)
        held = Counter((e.meeting_id, e.slot) for e in found)
        (adhoc, _), (second, _) = sorted(held, key=lambda k: -held[k])
        assert held[adhoc, "ad_hoc"] == 3, "the first one's ad-hoc meeting takes the others in"
        assert held[second, "ad_hoc"] == 2, (
            "once it is full, the next opens an ad-hoc meeting of its own (within 24 hours, not "
            "the next regular meeting, days away) and the last joins it")
        meetings = await tail.wait(MeetingScheduled, lambda e: e.meeting_id in (adhoc, second),
                                   count=2)
        assert [m.kind for m in meetings] == ["ad_hoc", "ad_hoc"]
        assert all(m.starts_at - clock.now() <= timedelta(hours=24) for m in meetings)
        # The chair's first agenda goes out at once; the two that joined in the same moment
        # are folded into one update at the end of the update window.
        await tail.wait(AgendaIssued, lambda e: e.meeting_id == adhoc
                        and e.agency_id == "hrps-cmb-d3")
        await asyncio.sleep(0.5)
        assert len(tail.of(AgendaIssued, lambda e: e.meeting_id == adhoc
                           and e.agency_id == "hrps-cmb-d3")) == 1
        clock.advance(timedelta(seconds=60))
        chair = await tail.wait(AgendaIssued, lambda e: e.meeting_id == adhoc
                                and e.agency_id == "hrps-cmb-d3", count=2)
        chair.sort(key=lambda a: a.revision)
        assert [(a.kind, a.revision, len(a.items)) for a in chair] == [
            ("first", 1, 1), ("update", 2, 3)]
        assert set(chair[1].added) == {i.situation_id for i in chair[1].items} - {
            i.situation_id for i in chair[0].items}
        assert len(chair[1].added) == 2
        assert chair[0].added == ()
        on_adhoc = {e.situation_id for e in found if e.meeting_id == adhoc}
        assert {i.situation_id for i in chair[-1].items} == on_adhoc
        assert [i.position for i in chair[-1].items] == [1, 2, 3]


# -- Filter 2 to conclusion -------------------------------------------------------------------


async def test_filter_2_runs_to_conclusion_and_cancels_its_timers(
        settings: Settings, tail: Tail, producer: Producer, admin_db: asyncpg.Pool) -> None:
    clock = new_clock()
    async with running(settings, clock):
        event = opened(clock)
        sid = event.situation_id
        await send(producer, event)
        [scheduled] = await tail.wait(SituationScheduled, lambda e: e.situation_id == sid)
        meeting_id = scheduled.meeting_id

        def command(model: type[M], **fields: Any) -> M:
            return sample(model, situation_id=sid, issued_at=clock.now(), **fields)

        # Before the meeting starts the situation has not been presented: refused as stale.
        early = await send(producer, command(RecordAerDecision, actor=CHAIR_D1,
                                             meeting_id=meeting_id, decision="confirmed"))
        [refused] = await tail.wait(CommandRejected, lambda e: e.command_id == early)
        assert [r.code for r in refused.reasons] == ["meeting_not_started"]

        clock.set(scheduled.meeting_starts_at + timedelta(minutes=5))
        await send(producer, command(RecordAerDecision, actor=CHAIR_D1, meeting_id=meeting_id,
                                     decision="confirmed"))
        [decided] = await tail.wait(AerDecisionRecorded, lambda e: e.situation_id == sid)
        assert decided.decision == "confirmed"
        assert decided.decided_at == clock.now()

        await send(producer, command(AssignAgencies, actor=CHAIR_D1, meeting_id=meeting_id,
                                     lead=LEAD, assisting=(ASSISTING,),
                                     identity_release="filter_3"))
        [assigned] = await tail.wait(AgenciesAssigned, lambda e: e.situation_id == sid)
        assert (assigned.lead.agency_id, assigned.lead.state) == (LEAD, "requested")
        assert await timer_states(admin_db, sid) == {
            "lead_acceptance": "pending", "sla_warning": "pending", "sla_breach": "pending"}

        clock.advance(timedelta(hours=2))
        lead_actor = Actor(agency_id=LEAD, role="lead_agency")
        await send(producer, command(RespondToAssignment, actor=lead_actor, agency_id=LEAD,
                                     answer="accepted"))
        [accepted] = await tail.wait(AssignmentResponded, lambda e: e.situation_id == sid)
        assert (accepted.from_state, accepted.to_state) == ("requested", "accepted")

        clock.advance(timedelta(hours=10))
        contact = clock.now() - timedelta(hours=1)
        await send(producer, command(RecordIntervention, actor=lead_actor, agency_id=LEAD,
                                     first_contact_at=contact, outcome="accepted_services"))
        [intervention] = await tail.wait(InterventionRecorded, lambda e: e.situation_id == sid)
        assert intervention.first_contact_at == contact
        assert await timer_states(admin_db, sid) == {
            "lead_acceptance": "cancelled", "sla_warning": "cancelled", "sla_breach": "cancelled"}

        await send(producer, command(ConcludeSituation, actor=CHAIR_D1,
                                     conclusion="risk_lowered_connected_to_services",
                                     meeting_id=meeting_id))
        [concluded] = await tail.wait(SituationConcluded, lambda e: e.situation_id == sid)
        assert concluded.conclusion == "risk_lowered_connected_to_services"
        # Concluding closes every open task, with the reason FHIR requires.
        closed = tail.of(AssignmentResponded, lambda e: e.situation_id == sid
                         and e.to_state == "cancelled")
        assert {(c.agency_id, c.from_state) for c in closed} == {(LEAD, "accepted"),
                                                                  (ASSISTING, "requested")}
        assert all(c.reason == "situation concluded" for c in closed)

        # A command for a concluded situation is refused; the timers stay quiet.
        late = await send(producer, command(RespondToAssignment, actor=lead_actor, agency_id=LEAD,
                                            answer="completed"))
        [stale] = await tail.wait(CommandRejected, lambda e: e.command_id == late)
        assert [r.code for r in stale.reasons] == ["situation_concluded"]
        clock.advance(timedelta(hours=60))
        await asyncio.sleep(1.0)
        assert tail.of(SlaWarning, lambda e: e.situation_id == sid) == []
        assert tail.of(SlaBreached, lambda e: e.situation_id == sid) == []
        # Everything the situation went through, once each, in order.
        kinds = [type(e.event).__name__ for e in tail.envelopes(Message, lambda e: getattr(
            e, "situation_id", None) == sid and e.topic == SITUATIONS)]
        assert kinds == ["SituationScheduled", "AerDecisionRecorded", "AgenciesAssigned",
                         "AssignmentResponded", "InterventionRecorded", "AssignmentResponded",
                         "AssignmentResponded", "SituationConcluded"]


async def test_commands_from_anyone_but_the_districts_chair_are_rejected(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock()
    async with running(settings, clock):
        event = opened(clock)
        sid = event.situation_id
        await send(producer, event)
        [scheduled] = await tail.wait(SituationScheduled, lambda e: e.situation_id == sid)
        clock.set(scheduled.meeting_starts_at)
        other_chair = await send(producer, sample(
            RecordAerDecision, situation_id=sid, meeting_id=scheduled.meeting_id,
            actor=Actor(agency_id="hrps-cmb-d2", role="table_chair"), issued_at=clock.now()))
        member = await send(producer, sample(
            RecordAerDecision, situation_id=sid, meeting_id=scheduled.meeting_id,
            actor=Actor(agency_id=LEAD, role="member"), issued_at=clock.now()))
        for command_id in (other_chair, member):
            [rejected] = await tail.wait(CommandRejected, _command_is(command_id))
            assert rejected.target == "situation"
            assert rejected.target_id == sid
            assert rejected.command_type == RecordAerDecision.ce_type
            assert [r.code for r in rejected.reasons] == ["not_table_chair"]
        rejections = tail.envelopes(CommandRejected, lambda e: e.target_id == sid)
        assert all(env.subject == sid for env in rejections)
        assert tail.of(AerDecisionRecorded, lambda e: e.situation_id == sid) == []

        # An invitation answered by another agency is refused too (target: the meeting).
        [invitation] = await tail.wait(ParticipantInvited, lambda e: e.agency_id == LEAD
                                       and sid in e.situation_ids)
        clock.set(scheduled.meeting_starts_at - timedelta(days=1))
        wrong = await send(producer, sample(
            RespondToInvitation, meeting_id=scheduled.meeting_id,
            invitation_id=invitation.invitation_id, issued_at=clock.now(),
            actor=Actor(agency_id=ASSISTING, role="member")))
        [refused] = await tail.wait(CommandRejected, lambda e: e.command_id == wrong)
        assert (refused.target, refused.target_id) == ("meeting", scheduled.meeting_id)
        assert [r.code for r in refused.reasons] == ["not_own_invitation"]

        # The chair of the district is heard.
        clock.set(scheduled.meeting_starts_at)
        await send(producer, sample(RecordAerDecision, situation_id=sid, actor=CHAIR_D1,
                                    meeting_id=scheduled.meeting_id, decision="rejected",
                                    issued_at=clock.now()))
        [concluded] = await tail.wait(SituationConcluded, lambda e: e.situation_id == sid)
        assert concluded.conclusion == "rejected_not_aer"


# -- timers -----------------------------------------------------------------------------------


async def confirm_and_assign(tail: Tail, producer: Producer, clock: ManualClock,
                             event: SituationOpened) -> SituationScheduled:
    sid = event.situation_id
    [scheduled] = await tail.wait(SituationScheduled, lambda e: e.situation_id == sid)
    if clock.now() < scheduled.meeting_starts_at:
        clock.set(scheduled.meeting_starts_at)
    await send(producer, sample(RecordAerDecision, situation_id=sid, actor=CHAIR_D1,
                                meeting_id=scheduled.meeting_id, issued_at=clock.now()))
    await send(producer, sample(AssignAgencies, situation_id=sid, actor=CHAIR_D1,
                                meeting_id=scheduled.meeting_id, lead=LEAD,
                                assisting=(ASSISTING,), identity_release="filter_3",
                                issued_at=clock.now()))
    await tail.wait(AgenciesAssigned, lambda e: e.situation_id == sid)
    return scheduled


async def test_sla_timers_fire_once_as_the_clock_moves(
        settings: Settings, tail: Tail, producer: Producer, admin_db: asyncpg.Pool) -> None:
    clock = new_clock()
    async with running(settings, clock):
        event = opened(clock)
        sid = event.situation_id
        await send(producer, event)
        await confirm_and_assign(tail, producer, clock, event)
        [decided] = tail.of(AerDecisionRecorded, lambda e: e.situation_id == sid)
        confirmed = decided.decided_at

        clock.advance(timedelta(hours=11, minutes=59))
        await asyncio.sleep(0.6)
        assert tail.of(SlaBreached, lambda e: e.situation_id == sid) == []

        clock.advance(timedelta(minutes=2))
        [overdue] = await tail.wait(SlaBreached, lambda e: e.situation_id == sid)
        assert (overdue.sla, overdue.agency_id) == ("lead_acceptance", LEAD)
        assert overdue.due_at == confirmed + timedelta(hours=12)
        assert overdue.district == "district_1"

        clock.set(confirmed + timedelta(hours=24, minutes=1))
        [warning] = await tail.wait(SlaWarning, lambda e: e.situation_id == sid)
        assert (warning.sla, warning.agency_id) == ("first_contact", LEAD)
        assert (warning.started_at, warning.due_at) == (confirmed, confirmed + timedelta(hours=48))

        clock.set(confirmed + timedelta(hours=48, minutes=1))
        await tail.wait(SlaBreached, lambda e: e.situation_id == sid and e.sla == "first_contact")
        clock.advance(timedelta(days=3))
        await asyncio.sleep(1.0)
        timed: list[SlaWarning | SlaBreached] = [
            *tail.of(SlaWarning, lambda e: e.situation_id == sid),
            *tail.of(SlaBreached, lambda e: e.situation_id == sid)]
        assert Counter((e.sla, type(e).__name__) for e in timed) == {
            ("lead_acceptance", "SlaBreached"): 1, ("first_contact", "SlaWarning"): 1,
            ("first_contact", "SlaBreached"): 1}
        assert await timer_states(admin_db, sid) == {
            "lead_acceptance": "fired", "sla_warning": "fired", "sla_breach": "fired"}


async def test_timers_survive_a_restart(
        settings: Settings, tail: Tail, producer: Producer, admin_db: asyncpg.Pool) -> None:
    clock = new_clock()
    event = opened(clock)
    sid = event.situation_id
    async with running(settings, clock):
        await send(producer, event)
        await confirm_and_assign(tail, producer, clock, event)
    # Stopped: time passes; the next instance finds the due timers in PostgreSQL.
    clock.advance(timedelta(hours=25))
    assert await timer_states(admin_db, sid) == {
        "lead_acceptance": "pending", "sla_warning": "pending", "sla_breach": "pending"}
    async with running(settings, clock):
        await tail.wait(SlaWarning, lambda e: e.situation_id == sid)
        await tail.wait(SlaBreached, lambda e: e.situation_id == sid and e.sla == "lead_acceptance")
        await asyncio.sleep(0.5)
    assert len(tail.of(SlaWarning, lambda e: e.situation_id == sid)) == 1
    assert len(tail.of(SlaBreached, lambda e: e.situation_id == sid)) == 1


async def test_a_timer_that_fails_for_good_is_parked(
        settings: Settings, admin_db: asyncpg.Pool) -> None:
    """A timer whose situation cannot be read (a state no release wrote) fails the same way at
    every poll: after three tries it is parked, with the error, instead of a traceback a poll."""
    clock = new_clock()
    sid, key = uuid7(), f"sla_warning:{uuid7()}"
    async with running(settings, clock):
        await admin_db.execute(
            "INSERT INTO convening.situations (situation_id, district, priority, opened_at, "
            "summary, state, version, updated_at) VALUES ($1, 'district_1', 'routine', $2, '{}', "
            "'{\"not\": \"a situation state\"}', 1, $2)", sid, clock.now())
        await admin_db.execute(
            "INSERT INTO convening.durable_timers (timer_key, kind, aggregate_id, due_at, created_at) "
            "VALUES ($1, 'sla_warning', $2, $3, $3)", key, sid, clock.now() - timedelta(minutes=1))

        async def parked() -> asyncpg.Record | None:
            row = await admin_db.fetchrow(
                "SELECT state, failures, last_error FROM convening.durable_timers WHERE timer_key = $1",
                key)
            return row if row is not None and row["state"] == "parked" else None

        row = await wait_for(parked, timeout=30)
        assert row["failures"] == 3
        assert row["last_error"] == "ValidationError"
        await asyncio.sleep(1.0)  # parked: never taken again
        assert (await admin_db.fetchval(
            "SELECT failures FROM convening.durable_timers WHERE timer_key = $1", key)) == 3


# -- two instances, one group, a rebalance in the middle --------------------------------------


async def test_two_instances_with_a_rebalance_publish_each_event_once_and_fire_each_timer_once(
        settings: Settings, tail: Tail, producer: Producer) -> None:
    clock = new_clock()
    towns = [("milton", "district_1"), ("halton_hills", "district_1"),
             ("oakville", "district_2"), ("burlington", "district_3")]
    events = [opened(clock, municipality=t, district=d) for t, d in (towns * 8)]
    ids = {e.situation_id for e in events}
    groups = await fresh_groups(settings)
    instances = [build(convening_settings(settings, groups), clock=clock) for _ in range(3)]
    started: list[Service] = []

    async def start(svc: Service) -> None:
        await svc.faststream.start()
        started.append(svc)

    async def stop(svc: Service) -> None:
        started.remove(svc)
        await svc.faststream.stop()

    try:
        await start(instances[0])
        for event in events[:16]:
            await send(producer, event)
        await tail.wait(SituationScheduled, lambda e: e.situation_id in ids, count=4)
        await start(instances[1])  # a rebalance while situations are flowing
        for event in events[16:]:
            await send(producer, event)
        await tail.wait(SituationScheduled, lambda e: e.situation_id in ids, count=len(events),
                        within=60)
        scheduled = {e.situation_id: e for e in tail.of(SituationScheduled,
                                                        lambda e: e.situation_id in ids)}
        starts = {e.meeting_id: e.meeting_starts_at for e in scheduled.values()}
        meetings = set(starts)

        # Each meeting's agendas at its lead time, with both instances' timer loops competing.
        for meeting_id in sorted(meetings, key=starts.__getitem__):
            clock.set(starts[meeting_id] - timedelta(hours=1))
            invited = {e.agency_id for e in tail.of(ParticipantInvited, _meeting_is(meeting_id))}
            await tail.wait(AgendaIssued, _meeting_is(meeting_id), count=len(invited))

        # The chair of district 1 confirms its situations; the first instance leaves in the
        # middle (another rebalance), a third joins before the SLA timers are due.
        d1 = [e for e in events if e.district == "district_1"]
        clock.set(max(starts.values()))
        for n, event in enumerate(d1):
            sid = event.situation_id
            await send(producer, sample(RecordAerDecision, situation_id=sid, actor=CHAIR_D1,
                                        meeting_id=scheduled[sid].meeting_id,
                                        issued_at=clock.now()))
            if n == len(d1) // 2:
                await stop(instances[0])
        await tail.wait(AerDecisionRecorded, lambda e: e.situation_id in ids, count=len(d1),
                        within=60)
        await start(instances[2])
        clock.advance(timedelta(hours=24, minutes=1))
        await tail.wait(SlaWarning, lambda e: e.situation_id in ids, count=len(d1), within=60)
        await asyncio.sleep(1.5)
    finally:
        for svc in list(started):
            await stop(svc)

    def once(counter: Counter[Any]) -> bool:
        return bool(counter) and set(counter.values()) == {1}

    assert len(scheduled) == len(events)
    assert once(Counter(e.situation_id for e in tail.of(SituationScheduled,
                                                        lambda e: e.situation_id in ids)))
    assert once(Counter(e.meeting_id for e in tail.of(MeetingScheduled,
                                                      lambda e: e.meeting_id in meetings)))
    assert {e.meeting_id for e in tail.of(MeetingScheduled,
                                          lambda e: e.meeting_id in meetings)} == meetings
    assert once(Counter((e.meeting_id, e.agency_id) for e in tail.of(
        ParticipantInvited, lambda e: e.meeting_id in meetings)))
    assert once(Counter((e.meeting_id, e.agency_id, e.revision) for e in tail.of(
        AgendaIssued, lambda e: e.meeting_id in meetings)))
    assert once(Counter(e.situation_id for e in tail.of(AerDecisionRecorded,
                                                        lambda e: e.situation_id in ids)))
    warnings = Counter(e.situation_id for e in tail.of(SlaWarning, lambda e: e.situation_id in ids))
    assert once(warnings)
    assert set(warnings) == {e.situation_id for e in d1}
