"""Synthetic community event requests for ``commande simulate events --event-requests N``.

Only intake's de-identified facts (``commande.event-requests.v1``): no submission, so no requester,
is ever generated. Deterministic for a seed, with its own random stream, so adding requests leaves
the situations of a history byte-identical. About 12 % are rejected (too short a notice, with the
earliest acceptable date, or details missing); the rest are acknowledged, some get a reminder
(and a few an escalation), and most are scheduled, declined or withdrawn within a few weeks.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import TypeVar

from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestDeclined,
    EventRequestKind,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestWithdrawn,
    TimeWindow,
)
from schemas.reference import reference
from schemas.referrals import Reason
from services.analytics.synthetic import Stream, TimedRecord, epoch_ms, uuid7_at

PLACES: tuple[tuple[str, str, float], ...] = (
    ("district_1", "milton", 0.25), ("district_1", "halton_hills", 0.15),
    ("district_2", "oakville", 0.3), ("district_3", "burlington", 0.3),
)
KINDS: tuple[tuple[EventRequestKind, float], ...] = (
    ("speaker", 0.55), ("district_tour", 0.15), ("event_participation", 0.3))
SALT = 0xE7E0_0000
T = TypeVar("T")


def event_requests(n: int, seed: int, begin: datetime, horizon: datetime) -> list[TimedRecord]:
    """``n`` requests received evenly between ``begin`` and ``horizon``, sorted by time."""
    rng = random.Random(seed * 7919 + 17)
    topics = sorted(t.code for t in getattr(reference(), "event_topics", ())) or ["safety_awareness"]
    declines = ("no_capacity", "date_unavailable", "outside_mandate")
    withdrawals = ("no_longer_needed", "event_cancelled")
    span = (horizon - begin).total_seconds() * 0.97
    out: list[TimedRecord] = []
    for i in range(n):
        at = (begin + timedelta(seconds=span * (i + rng.random()) / n)).replace(microsecond=0)
        stream = Stream(salt=SALT + (seed << 20) + i)
        rid = uuid7_at(epoch_ms(at), SALT + (seed << 24) + i)
        district, municipality = _pick(rng, [((d, m), w) for d, m, w in PLACES])
        kind = _pick(rng, list(KINDS))
        answered = at + timedelta(minutes=1)
        if rng.random() < 0.12:
            short = rng.random() < 0.6
            reason = (Reason(code="notice_too_short", field="windows",
                             message="Every preferred date must be at least 30 days away.")
                      if short else
                      Reason(code="detail_missing", field="expected_attendees",
                             message="Say how many people are expected."))
            stream.add(EventRequestRejected(
                request_id=rid, rejected_at=answered, reasons=(reason,), kind=kind,
                municipality=municipality, district=district,
                earliest_acceptable_date=(at + timedelta(days=30)).date() if short else None),
                answered)
        else:
            day = (at + timedelta(days=rng.randint(31, 120))).date()
            windows = (TimeWindow(date=day, start=time(18, 30), end=time(20, 0)),)
            stream.add(EventRequestAcknowledged(
                request_id=rid, district=district, municipality=municipality, kind=kind,
                windows=windows, topics=tuple(sorted(rng.sample(topics, rng.randint(1, 2)))),
                expected_attendees=rng.randint(10, 300), acknowledged_at=answered), answered)
            decided = answered + timedelta(days=rng.randint(1, 20))
            if rng.random() < 0.25:
                due = answered + timedelta(days=5)
                stream.add(EventRequestReminderDue(
                    request_id=rid, district=district, escalate_to="cmb_manager",
                    business_days_waiting=3, due_at=due), due)
                decided = due + timedelta(days=rng.randint(1, 10))
                if rng.random() < 0.3:
                    later = due + timedelta(days=3)
                    stream.add(EventRequestReminderDue(
                        request_id=rid, district=district, escalate_to="staff_sergeant",
                        business_days_waiting=5, due_at=later), later)
                    decided = max(decided, later + timedelta(days=1))
            roll = rng.random()
            if roll < 0.7:
                stream.add(EventRequestScheduled(
                    request_id=rid, district=district, date=day, start=time(18, 30),
                    officer_role="community_safety_officer", scheduled_at=decided), decided)
            elif roll < 0.9:
                stream.add(EventRequestDeclined(
                    request_id=rid, district=district, reason=rng.choice(declines),
                    declined_at=decided), decided)
            else:
                stream.add(EventRequestWithdrawn(
                    request_id=rid, district=district, reason=rng.choice(withdrawals),
                    withdrawn_at=decided), decided)
        out += [r for r in stream.records if r.timestamp_ms <= epoch_ms(horizon)]
    return sorted(out, key=lambda r: r.timestamp_ms)


def _pick(rng: random.Random, weighted: list[tuple[T, float]]) -> T:
    roll = rng.random() * sum(w for _, w in weighted)
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]
