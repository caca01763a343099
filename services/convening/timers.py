"""The situation timers (pure): which to start after some events, which still apply, what fires.

* ``lead_acceptance``: the lead agency has not accepted ``lead_acceptance`` after assignment;
* ``sla_warning`` / ``sla_breach``: no first contact ``warning`` / ``breach`` after AER
  confirmation (the 24/48-hour window of the Four Filter Approach).

A timer is keyed so that starting it twice is one timer (the store inserts with ``ON CONFLICT DO
NOTHING``); the keys include the confirmation instant, so a reopened and re-confirmed situation
gets fresh timers. A timer that no longer applies is cancelled; one that fires checks again, so a
missed cancellation never produces a wrong warning.

They are rows of the runtime's durable timers (:mod:`services.runtime.timers`): :func:`as_row`
and :func:`from_row` carry the window and the agency in the row's payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    SituationEvent,
    SlaBreached,
    SlaWarning,
)
from services.convening.situation import SituationState
from services.runtime import timers as runtime

TimerKind = Literal["agenda", "lead_acceptance", "sla_warning", "sla_breach"]
SITUATION_TIMERS: tuple[TimerKind, ...] = ("lead_acceptance", "sla_warning", "sla_breach")
_KINDS: dict[str, TimerKind] = {k: k for k in ("agenda", *SITUATION_TIMERS)}
_LIVE = ("confirmed", "assigned", "intervention")


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The windows, from settings."""

    lead_acceptance: timedelta = timedelta(hours=12)
    warning: timedelta = timedelta(hours=24)
    breach: timedelta = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable timer.

    Attributes:
        key: unique; starting the same timer twice is a no-op.
        kind: what it is for.
        aggregate_id: the situation (or, for ``agenda``, the meeting).
        due_at: when it fires.
        started_at: when its window opened (AER confirmation, or assignment).
        window_due_at: when its window closes (the contract's ``due_at``).
        agency_id: the agency expected to act, for ``lead_acceptance``.
    """

    key: str
    kind: TimerKind
    aggregate_id: UUID
    due_at: datetime
    started_at: datetime | None = None
    window_due_at: datetime | None = None
    agency_id: str | None = None


def as_row(timer: Timer) -> runtime.Timer:
    """``timer`` as a runtime timer row: the window and the agency in its payload."""
    payload = {name: value.isoformat() if isinstance(value, datetime) else value
               for name, value in (("started_at", timer.started_at),
                                   ("window_due_at", timer.window_due_at),
                                   ("agency_id", timer.agency_id)) if value is not None}
    return runtime.Timer(key=timer.key, kind=timer.kind, aggregate_id=timer.aggregate_id,
                         due_at=timer.due_at, payload=payload)


def from_row(row: runtime.Timer) -> Timer:
    """The convening timer a runtime timer row holds.

    Raises:
        KeyError: a kind convening does not know (a row no release wrote).
    """
    started, window = row.payload.get("started_at"), row.payload.get("window_due_at")
    return Timer(key=row.key, kind=_KINDS[row.kind], aggregate_id=row.aggregate_id,
                 due_at=row.due_at,
                 started_at=None if started is None else datetime.fromisoformat(started),
                 window_due_at=None if window is None else datetime.fromisoformat(window),
                 agency_id=row.payload.get("agency_id"))


def agenda_timer(meeting_id: UUID, due_at: datetime) -> Timer:
    """The timer that issues a meeting's agendas at their lead time."""
    return Timer(key=f"agenda/{meeting_id}", kind="agenda", aggregate_id=meeting_id, due_at=due_at)


def timers_to_start(events: Sequence[SituationEvent], state: SituationState,
                    policy: SlaPolicy) -> list[Timer]:
    """The timers ``events`` start; ``state`` is the situation after them."""
    out: list[Timer] = []
    for event in events:
        if isinstance(event, AerDecisionRecorded) and event.decision == "confirmed":
            start = event.decided_at
            cycle = start.isoformat()
            close = start + policy.breach
            out.append(Timer(f"sla_warning/{event.situation_id}/{cycle}", "sla_warning",
                             event.situation_id, start + policy.warning, start, close))
            out.append(Timer(f"sla_breach/{event.situation_id}/{cycle}", "sla_breach",
                             event.situation_id, close, start, close))
        elif isinstance(event, AgenciesAssigned) and event.lead.state == "requested":
            cycle = state.confirmed_at.isoformat() if state.confirmed_at else "none"
            start = event.assigned_at
            close = start + policy.lead_acceptance
            out.append(Timer(
                f"lead_acceptance/{event.situation_id}/{cycle}/{event.lead.agency_id}",
                "lead_acceptance", event.situation_id, close, start, close,
                event.lead.agency_id))
    return out


def applies(timer: Timer, state: SituationState) -> bool:
    """Whether ``timer`` still has something to say about ``state``."""
    if state.status not in _LIVE:
        return False
    if timer.kind in ("sla_warning", "sla_breach"):
        return state.first_contact_at is None and state.confirmed_at == timer.started_at
    if timer.kind == "lead_acceptance":
        task = state.task(timer.agency_id or "")
        return task is not None and task.role == "lead" and task.state == "requested"
    return False


def fire(timer: Timer, state: SituationState, now: datetime) -> SituationEvent | None:
    """The event ``timer`` raises at ``now``, or ``None`` if it no longer applies."""
    if not applies(timer, state) or state.situation_id is None or state.district is None:
        return None
    assert timer.started_at is not None
    assert timer.window_due_at is not None
    if timer.kind == "sla_warning":
        return SlaWarning(situation_id=state.situation_id, sla="first_contact",
                          agency_id=_lead(state), district=state.district,
                          started_at=timer.started_at, due_at=timer.window_due_at, warned_at=now)
    if timer.kind == "sla_breach":
        return SlaBreached(situation_id=state.situation_id, sla="first_contact",
                           agency_id=_lead(state), district=state.district,
                           started_at=timer.started_at, due_at=timer.window_due_at,
                           breached_at=now)
    return SlaBreached(situation_id=state.situation_id, sla="lead_acceptance",
                       agency_id=timer.agency_id, district=state.district,
                       started_at=timer.started_at, due_at=timer.window_due_at, breached_at=now)


def _lead(state: SituationState) -> str | None:
    return next((t.agency_id for t in state.tasks if t.role == "lead"), None)
