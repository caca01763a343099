"""``commande simulate events``: a realistic, deterministic synthetic history.

Same ``situations``, ``seed`` and ``start`` → the same records, byte for byte (ids are derived,
never random). Situations open evenly over ``months`` across the three districts; each goes
through Filter 2 (about 78 % confirmed, 12 % rejected, 10 % returned), assignment (leads accept
about 92 % of the time, else a second lead is named), first contact (a long-tailed delay with a
median near 20 h, so some breach the 48 h window and raise ``SlaWarning``/``SlaBreached``), and a
conclusion. Events after the horizon (``start`` + ``months``) are not written: the last weeks
hold open situations, as a real history does. Referral answers (accepted, and some rejected for a
municipality outside Halton) go to the referral-status topic.

Records are produced in global event-time order with their Kafka timestamp = event time, so
``replay --from`` finds them by time. This is the one analytics module that produces; ``replay``
never imports it.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import count
from uuid import UUID

from aiokafka.errors import KafkaError

from schemas.access import SANDBOX_PREFIX
from schemas.errors import ConfigurationError, TransientError
from schemas.reference import reference
from schemas.referrals import Reason, ReferralAccepted, ReferralRejected
from schemas.topics import EVENT_REQUESTS, REFERRAL_STATUS, SITUATIONS, TopicSpec
from services.analytics.event_request_simulation import event_requests
from services.analytics.projections.provincial import HALTON
from services.analytics.synthetic import Script, Stream, TimedRecord, epoch_ms, uuid7_at
from services.runtime import kafka_client
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

TOPICS_WRITTEN: tuple[TopicSpec, ...] = (SITUATIONS, REFERRAL_STATUS, EVENT_REQUESTS)

DISTRICTS: tuple[tuple[str, str, tuple[str, ...], int, float], ...] = (
    # district, chair/CMB agency, municipalities, meeting weekday (Mon=0), share of situations
    ("district_1", "hrps-cmb-d1", ("milton", "georgetown", "acton", "halton_hills"), 1, 0.4),
    ("district_2", "hrps-cmb-d2", ("oakville",), 2, 0.3),
    ("district_3", "hrps-cmb-d3", ("burlington",), 3, 0.3),
)
ORIGINATORS = ("hrps-cmb-d1", "hrps-cmb-d2", "hrps-cmb-d3", "halton-ems", "public-health",
               "youth-mental-health", "school-board", "town-milton", "regional-hospital")
RESPONDERS = ("mental-health-assoc", "housing-services", "addiction-services", "childrens-aid",
              "youth-mental-health", "public-health", "justice-services", "community-living",
              "womens-shelter")
AGE_WEIGHTS = (("age_0_5", 2), ("age_6_11", 4), ("age_12_17", 14), ("age_18_24", 18),
               ("age_25_29", 14), ("age_30_39", 18), ("age_40_59", 20), ("age_60_plus", 8),
               ("age_unknown", 2))
GENDER_WEIGHTS = (("man", 50), ("woman", 44), ("non_binary", 3), ("another_gender", 1),
                  ("unknown", 2))
CONCLUSION_WEIGHTS = (("risk_lowered_connected_to_services", 48),
                      ("risk_lowered_informed_of_services", 20), ("risk_lowered_other", 8),
                      ("still_aer_referred_elsewhere", 8), ("still_aer_other", 4))


@dataclass(frozen=True, slots=True)
class Plan:
    """What to simulate."""

    situations: int
    seed: int = 1
    start: date = date(2026, 1, 1)
    months: int = 10
    event_requests: int = 0
    """Community event requests (de-identified facts only) spread over the same months."""

    def check(self, now: datetime) -> None:
        """Refuse a history that would end in the future: brokers reject such timestamps.

        Raises:
            ConfigurationError: the horizon is after ``now``.
        """
        if self.horizon > now:
            raise ConfigurationError(
                f"a {self.months}-month history from {self.start} ends {self.horizon:%Y-%m-%d}, "
                "in the future; Kafka refuses future timestamps: choose an earlier --start or "
                "fewer --months")

    @property
    def horizon(self) -> datetime:
        """Nothing happens after this instant."""
        first = datetime(self.start.year, self.start.month, self.start.day, tzinfo=HALTON)
        return first.astimezone(UTC) + timedelta(days=round(30.44 * self.months))


def generate(plan: Plan) -> Iterator[TimedRecord]:
    """Every record of the history, in event-time order (ties in generation order)."""
    situations = _situations(plan)
    if not plan.event_requests:
        yield from situations
        return
    begin = plan.horizon - timedelta(days=round(30.44 * plan.months))
    asked = event_requests(plan.event_requests, plan.seed, begin, plan.horizon)
    yield from heapq.merge(situations, asked, key=lambda r: r.timestamp_ms)


def _situations(plan: Plan) -> Iterator[TimedRecord]:
    rng = random.Random(plan.seed)
    ref = reference()
    factors = sorted(ref.risk_factors)
    protective = sorted(ref.codes("protective_factors"))
    flags = sorted(ref.codes("study_flags"))
    begin = plan.horizon - timedelta(days=round(30.44 * plan.months))
    span = (plan.horizon - begin).total_seconds() * 0.97
    heap: list[tuple[int, int, TimedRecord]] = []
    order = count()
    for n in range(plan.situations):
        opened = begin + timedelta(seconds=span * (n + rng.random()) / max(plan.situations, 1))
        opened = opened.replace(microsecond=0)
        while heap and heap[0][0] <= epoch_ms(opened):
            yield heapq.heappop(heap)[2]
        stream = Stream(salt=(plan.seed << 32) + n)
        _situation(stream, rng, n, opened, factors, protective, flags, plan)
        for rec in stream.records:
            if rec.timestamp_ms <= epoch_ms(plan.horizon):
                heapq.heappush(heap, (rec.timestamp_ms, next(order), rec))
    while heap:
        yield heapq.heappop(heap)[2]


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def _situation(stream: Stream, rng: random.Random, n: int, opened: datetime,
               factors: list[str], protective: list[str], flags: list[str], plan: Plan) -> None:
    district, chair, towns, weekday, _ = rng.choices(DISTRICTS, [d[4] for d in DISTRICTS])[0]
    sid = uuid7_at(epoch_ms(opened), (plan.seed << 40) + n)
    originator = rng.choice(ORIGINATORS)
    kind = rng.choices(("individual", "family", "group", "location"), (75, 15, 5, 5))[0]
    people = {"individual": 1, "family": rng.randint(2, 4), "group": rng.randint(3, 5),
              "location": 1}[kind]
    s = Script(stream, sid, district, chair)
    s.opened(
        opened, originator=originator, municipality=rng.choice(towns),
        situation_type=kind,  # type: ignore[arg-type]
        priority="urgent" if rng.random() < 0.1 else "routine",
        persons=tuple((_pick(rng, AGE_WEIGHTS), _pick(rng, GENDER_WEIGHTS)) for _ in range(people)),
        risk_factors=tuple(sorted(rng.sample(factors, rng.randint(2, 4)))),
        protective=tuple(sorted(rng.sample(protective, rng.randint(0, 2)))),
        study=tuple(rng.sample(flags, 1)) if rng.random() < 0.2 else (),
    )
    stream.add(ReferralAccepted(agency_id=originator, referral_ref=f"SIM-{sid.hex[-12:]}",
                                situation_id=sid, district=district, accepted_at=opened), opened)
    if rng.random() < 0.08:
        stream.add(ReferralRejected(
            agency_id=originator, referral_ref=f"SIM-R-{sid.hex[-10:]}", rejected_at=opened,
            reasons=(Reason(code="municipality_outside_halton", field="summary.municipality",
                            message="The municipality is outside Halton: refer to its own table."),),
        ), opened)
    meeting_day = opened.date() + timedelta(days=((weekday - opened.weekday()) % 7) or 7)
    meeting_at = datetime(meeting_day.year, meeting_day.month, meeting_day.day, 15, tzinfo=UTC)
    s.scheduled(opened + timedelta(minutes=30), _meeting_id(district, meeting_at), meeting_at)
    decision = rng.choices(("confirmed", "rejected", "returned"), (78, 12, 10))[0]
    s.decision(meeting_at, decision)  # type: ignore[arg-type]
    if decision == "rejected":
        s.concluded(meeting_at + timedelta(minutes=5), "rejected_not_aer")
        s.purged(meeting_at + timedelta(minutes=10), "rejected_not_aer")
        return
    if decision == "returned":
        if rng.random() < 0.5:
            s.concluded(meeting_at + timedelta(minutes=5), "returned_to_originator")
        s.purged(meeting_at + timedelta(minutes=10), "returned")
        return
    _confirmed(s, rng, meeting_at)


def _confirmed(s: Script, rng: random.Random, confirmed: datetime) -> None:
    agencies = rng.sample(RESPONDERS, 4)
    lead, assisting = agencies[0], tuple(agencies[1:1 + rng.randint(0, 2)])
    at = confirmed + timedelta(minutes=30)
    s.assigned(at, lead, assisting)
    for agency in assisting:
        roll = rng.random()
        if roll < 0.85:
            s.responded(at + timedelta(hours=rng.uniform(0.5, 20)), agency)
        elif roll < 0.95:
            s.responded(at + timedelta(hours=rng.uniform(0.5, 20)), agency, "rejected")
    answer = at + timedelta(hours=rng.uniform(0.2, 6))
    if rng.random() >= 0.92:  # the lead declines: a second lead is named
        s.responded(answer, lead, "rejected")
        lead = agencies[3]
        s.assigned(answer + timedelta(hours=1), lead)
        answer += timedelta(hours=2)
    s.responded(answer, lead)
    delay = max(answer - confirmed, timedelta(hours=rng.lognormvariate(math.log(20), 0.7)))
    located = rng.random() >= 0.05
    if delay > timedelta(hours=24) or not located:
        s.sla(confirmed + timedelta(hours=24), "first_contact", confirmed, breached=False, agency=lead)
    if delay > timedelta(hours=48) or not located:
        s.sla(confirmed + timedelta(hours=48), "first_contact", confirmed, breached=True, agency=lead)
    contact = (confirmed + delay).replace(microsecond=0)
    if not located:
        s.contact(confirmed + timedelta(hours=72), lead, None, "unable_to_locate")
        conclusion = "still_aer_unable_to_locate"
    else:
        refused = rng.random() < 0.1
        outcome = "refused" if refused else rng.choice(("accepted_services", "accepted_information",
                                                         "accepted_referral"))
        services = () if refused else tuple(sorted(rng.sample(
            ("mental_health", "addictions", "housing", "health", "income_social_services"),
            rng.randint(1, 2))))
        s.contact(contact + timedelta(minutes=45), lead, contact, outcome,  # type: ignore[arg-type]
                  services)
        conclusion = "still_aer_refused_services" if refused else _pick(rng, CONCLUSION_WEIGHTS)
    s.concluded(confirmed + timedelta(days=rng.choice((14, 21, 28, 42))), conclusion)


def _meeting_id(district: str, starts: datetime) -> UUID:
    return uuid7_at(epoch_ms(starts), int(district.rsplit("_", 1)[1]))


async def _settle(pending: list[asyncio.Future[object]]) -> None:
    """Wait for every delivery of the batch, then raise the first failure (none left unread)."""
    results = await asyncio.gather(*pending, return_exceptions=True)
    pending.clear()
    for result in results:
        if isinstance(result, BaseException):
            raise result


def target(spec: TopicSpec, prefix: str) -> TopicSpec:
    """The copy of topic ``spec`` under ``prefix``."""
    return replace(spec, name=f"{prefix}{spec.name}")


PRINCIPAL = "simulator"
"""A development-only principal that may create and write ``sandbox.`` copies, nothing else."""


async def publish(settings: Settings, records: Iterator[TimedRecord], *, prefix: str = SANDBOX_PREFIX,
                  batch: int = 20000, principal: str = PRINCIPAL) -> dict[str, int]:
    """Create the target topics if needed and produce ``records`` with their timestamps.

    Returns:
        Records written per topic.

    Raises:
        ConfigurationError: ``prefix`` is not empty and does not end with ``.`` (replay
            recognises a copy as ``<prefix>.<registry topic>``).
    """
    if not prefix.startswith(SANDBOX_PREFIX) or not prefix.endswith("."):
        raise ConfigurationError(
            f"synthetic records go to throwaway copies only: the topic prefix starts with "
            f"{SANDBOX_PREFIX!r} and ends with '.', e.g. {SANDBOX_PREFIX}demo. (got {prefix!r}); "
            "the live topics are never a target (convening would schedule the synthetic "
            "situations and notifier mail their agendas)")
    await ensure_topics(settings, principal, tuple(target(s, prefix) for s in TOPICS_WRITTEN))
    producer = kafka_client.producer(settings, principal, client_id="commande-simulator",
                                     acks="all", linger_ms=20, max_batch_size=512 * 1024,
                                request_timeout_ms=30000)
    written: dict[str, int] = {}
    try:
        await producer.start()
        for spec in TOPICS_WRITTEN:
            await producer.partitions_for(target(spec, prefix).name)  # wait for fresh leaders
        pending: list[asyncio.Future[object]] = []
        for timed in records:
            rec = timed.record
            name = f"{prefix}{rec.topic}"
            pending.append(await producer.send(name, rec.value, key=rec.key, headers=rec.headers,
                                               timestamp_ms=timed.timestamp_ms))
            written[name] = written.get(name, 0) + 1
            if len(pending) >= batch:
                await _settle(pending)
        await _settle(pending)
    except KafkaError as exc:
        raise TransientError(f"producing to Kafka at {settings.kafka_bootstrap} failed: {exc}") from exc
    finally:
        await producer.stop()
    return dict(sorted(written.items()))

