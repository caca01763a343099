"""Community event requests, folded from intake's de-identified stream (``commande.event-requests.v1``).

Never the restricted submissions topic: what identifies a requester is not needed to count
requests. ``fold(facts, envelope) -> facts`` is pure, per request id (the stream's key);
:func:`summarize` counts, order-independent. Definitions (also in the data dictionary):

* every table counts **requests** (one per request id that intake answered in the range);
* ``answer``: acknowledged or rejected (a request acknowledged counts as acknowledged even if a
  duplicate submission was rejected later); a request from the public whose requester has not
  confirmed their address yet counts as ``pending``, and one nobody confirmed in time as
  ``expired`` (both are counted by answer, district, kind and month only);
* ``district``, ``kind``: from the acknowledgement, else from the rejection when intake recognised
  them (``unknown`` otherwise);
* ``month``: the Halton local month of intake's first answer (the confirmation asked for, else
  the acknowledgement or rejection), i.e. when the request was received; ``event_month``: the
  month of the earliest preferred date, acknowledged requests only (a rejection carries no
  dates);
* ``topic``: acknowledged requests naming the topic (a request with two topics counts in both);
* ``outcome``: over acknowledged requests, the last of scheduled, declined or withdrawn, else
  ``pending``; ``decline_reason`` / ``withdrawal_reason`` count those outcomes by reason code;
* ``rejection_reason``: rejected requests naming the reason code (every reason counts);
* ``reminded`` / ``escalated``: acknowledged requests with at least one reminder to the CMB
  manager / to the Staff Sergeant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from schemas.base import Message
from schemas.decoder import Fact
from schemas.envelope import Envelope
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestWithdrawn,
)
from schemas.views import View

HALTON = ZoneInfo("America/Toronto")
UNKNOWN = "unknown"
PENDING = "pending"
EXPIRED = "expired"

TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("answer", ("answer",)),
    ("district", ("district",)),
    ("kind", ("kind",)),
    ("month", ("month",)),
    ("month_district", ("month", "district")),
    ("event_month", ("event_month",)),
    ("topic", ("topic",)),
    ("outcome", ("outcome",)),
    ("outcome_district", ("outcome", "district")),
    ("decline_reason", ("decline_reason",)),
    ("withdrawal_reason", ("withdrawal_reason",)),
    ("rejection_reason", ("rejection_reason",)),
    ("follow_up", ("follow_up",)),
)
"""Every event-request count table: its name and the names of its key columns."""


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The de-identified facts of one community event request."""

    request_id: UUID
    answer: str | None = None
    """``acknowledged`` or ``rejected``; ``pending`` while the requester's address is not
    confirmed, ``expired`` when it never was."""
    answered_at: datetime | None = None
    district: str | None = None
    kind: str | None = None
    topics: tuple[str, ...] = ()
    first_date: date | None = None
    """The earliest preferred date (acknowledged requests)."""
    rejection_reasons: tuple[str, ...] = ()
    outcome: str | None = None
    """``scheduled``, ``declined`` or ``withdrawn`` (the last recorded)."""
    outcome_reason: str | None = None
    reminded: bool = False
    escalated: bool = False


def fold(facts: RequestFacts | None, envelope: Envelope[Message]) -> RequestFacts | None:
    """The facts after ``envelope``; other events change nothing."""
    return _fold(facts, envelope.event)


def _fold(facts: RequestFacts | None, event: Message | View) -> RequestFacts | None:
    if not isinstance(event, EventRequestEvent):
        return facts
    f = facts if facts is not None else RequestFacts(request_id=event.request_id)
    if isinstance(event, EventRequestConfirmationRequested):
        if f.answer is not None:
            return f
        return replace(f, answer=PENDING, answered_at=event.requested_at,
                       district=event.district, kind=event.kind)
    if isinstance(event, EventRequestExpired):
        if f.answer not in (None, PENDING):
            return f
        return replace(f, answer=EXPIRED, district=f.district or event.district)
    received = f.answered_at if f.answer == PENDING else None
    if isinstance(event, EventRequestAcknowledged):
        return replace(f, answer="acknowledged", answered_at=received or event.acknowledged_at,
                       district=event.district, kind=event.kind, topics=event.topics,
                       first_date=min(w.date for w in event.windows))
    if isinstance(event, EventRequestRejected):
        if f.answer == "acknowledged":
            return f  # a rejected duplicate does not undo the acknowledgement
        return replace(f, answer="rejected", answered_at=received or event.rejected_at,
                       district=event.district or f.district, kind=event.kind or f.kind,
                       rejection_reasons=tuple(sorted({r.code for r in event.reasons})))
    if isinstance(event, EventRequestScheduled):
        return replace(f, outcome="scheduled", outcome_reason=None,
                       district=f.district or event.district)
    if isinstance(event, EventRequestDeclined):
        return replace(f, outcome="declined", outcome_reason=event.reason,
                       district=f.district or event.district)
    if isinstance(event, EventRequestWithdrawn):
        return replace(f, outcome="withdrawn", outcome_reason=event.reason,
                       district=f.district or event.district)
    if isinstance(event, EventRequestReminderDue):
        if event.escalate_to == "staff_sergeant":
            return replace(f, escalated=True)
        return replace(f, reminded=True)
    return f if facts is not None else None


FOLDED: frozenset[str] = frozenset(model.ce_type for model in (
    EventRequestConfirmationRequested, EventRequestExpired, EventRequestAcknowledged,
    EventRequestRejected, EventRequestScheduled, EventRequestDeclined, EventRequestWithdrawn,
    EventRequestReminderDue))
"""The ``ce_type`` values :func:`fold` reads: every other event leaves the facts as they are."""


class ByRequest:
    """The keyed store of a replay: request id -> facts (events of other streams ignored)."""

    def __init__(self) -> None:
        self._states: dict[UUID, RequestFacts] = {}

    def apply(self, record: Envelope[Message] | Fact) -> None:
        """Fold one event (of an envelope, or a decoder's fact) into its request's facts."""
        event = record.event
        if not isinstance(event, EventRequestEvent):
            return
        new = _fold(self._states.get(event.request_id), event)
        if new is not None:
            self._states[event.request_id] = new

    def keys(self) -> set[UUID]:
        """The requests folded."""
        return set(self._states)

    def states(self) -> Iterator[RequestFacts]:
        """Every request's facts, in request-id order."""
        for key in sorted(self._states):
            yield self._states[key]


@dataclass(frozen=True, slots=True)
class RequestStatistics:
    """Counts of community event requests (raw: suppress before showing them)."""

    requests: int
    counts: Mapping[str, Mapping[tuple[str, ...], int]]


def _month(moment: datetime | None) -> str:
    return UNKNOWN if moment is None else moment.astimezone(HALTON).strftime("%Y-%m")


def summarize(facts: Iterable[RequestFacts]) -> RequestStatistics:
    """The counts over every request intake answered (requests seen only through a reminder or
    an outcome, without their answer in the range, are not counted)."""
    counts: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name, _ in TABLES}
    total = 0
    for f in facts:
        if f.answer is None:
            continue
        total += 1
        district = f.district or UNKNOWN
        month = _month(f.answered_at)
        counts["answer"][(f.answer,)] += 1
        counts["district"][(district,)] += 1
        counts["kind"][(f.kind or UNKNOWN,)] += 1
        counts["month"][(month,)] += 1
        counts["month_district"][(month, district)] += 1
        if f.answer == "rejected":
            for reason in f.rejection_reasons:
                counts["rejection_reason"][(reason,)] += 1
            continue
        if f.answer in (PENDING, EXPIRED):
            continue
        if f.first_date is not None:
            counts["event_month"][(f.first_date.strftime("%Y-%m"),)] += 1
        for topic in sorted(set(f.topics)):
            counts["topic"][(topic,)] += 1
        outcome = f.outcome or PENDING
        counts["outcome"][(outcome,)] += 1
        counts["outcome_district"][(outcome, district)] += 1
        if f.outcome == "declined" and f.outcome_reason:
            counts["decline_reason"][(f.outcome_reason,)] += 1
        if f.outcome == "withdrawn" and f.outcome_reason:
            counts["withdrawal_reason"][(f.outcome_reason,)] += 1
        if f.reminded:
            counts["follow_up"][("reminded",)] += 1
        if f.escalated:
            counts["follow_up"][("escalated",)] += 1
    return RequestStatistics(
        requests=total, counts={name: dict(sorted(c.items())) for name, c in counts.items()})
