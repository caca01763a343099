"""What a page shows and offers (pure): a situation's stage, its clocks, the forms a person is
offered, and the words for times and durations.

Offering a form is a convenience, never a permission: every form posts a command that convening
(or intake) decides, and the page shows that decision. A 2 District chair is not offered a 3
District situation's forms (they cannot even read it), and if they forge the post anyway,
convening refuses it on record, naming them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.reference import Reference
from schemas.reference.calendar import ZONE
from services.gateway.identity import Identity


class Stage(StrEnum):
    """Where a situation stands in the Four Filters (from its timeline)."""

    OPENED = "opened"
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    ASSIGNED = "assigned"
    INTERVENTION = "intervention"
    CONCLUDED = "concluded"


STAGE_WORDS: Mapping[Stage, str] = {
    Stage.OPENED: "Opened; waiting for a meeting",
    Stage.SCHEDULED: "On a meeting's agenda; waiting for the table's Filter 2 decision",
    Stage.CONFIRMED: "AER confirmed; waiting for the lead and assisting agencies",
    Stage.ASSIGNED: "Agencies assigned; waiting for their answers and the first contact",
    Stage.INTERVENTION: "Intervention recorded; the table concludes at a later meeting",
    Stage.CONCLUDED: "Concluded",
}
FILTER2_CODES = frozenset({"rejected_not_aer", "returned_to_originator", "withdrawn"})
"""Conclusions convening records itself (a Filter 2 rejection or return, a withdrawal)."""
WORKING = frozenset({"accepted", "in-progress", "on-hold"})
"""Task states in which an agency records its intervention."""


def stage(events: Iterable[tuple[str, str]]) -> Stage:
    """The stage after a timeline's ``(event, detail)`` entries, in order (SLA and purge
    entries change nothing, as in convening's state machine)."""
    current = Stage.OPENED
    for event, detail in events:
        if event == "opened" or event == "reopened":
            current = Stage.OPENED
        elif event == "scheduled":
            current = Stage.SCHEDULED
        elif event == "aer_decision_recorded" and "decision=confirmed" in detail.split():
            current = Stage.CONFIRMED
        elif event == "agencies_assigned":
            current = Stage.ASSIGNED
        elif event == "intervention_recorded":
            current = Stage.INTERVENTION
        elif event == "concluded":
            current = Stage.CONCLUDED
    return current


@dataclass(frozen=True, slots=True)
class Offer:
    """The forms a person is offered on a situation's page."""

    decide: bool = False
    assign: bool = False
    conclude: bool = False
    reopen: bool = False
    respond: tuple[str, ...] = ()
    """The answers the person's agency may give from its task's state."""
    intervene: bool = False
    agency_id: str | None = None
    """The agency answering (lead or assisting)."""

    @property
    def anything(self) -> bool:
        """Whether any form is offered."""
        return any((self.decide, self.assign, self.conclude, self.reopen, self.respond,
                    self.intervene))


def offer(identity: Identity, district: str, current: Stage, tasks: Mapping[str, str],
          transitions: Mapping[str, Sequence[str]]) -> Offer:
    """What ``identity`` is offered on a situation of ``district`` at ``current`` stage, given
    the agencies' task states (``tasks``: agency → state)."""
    chairs = any(c.chairs and district in c.districts for c in identity.capacities)
    mine = next((c.agency_id for c in identity.capacities if c.agency_id in tasks), None)
    answers: tuple[str, ...] = ()
    intervene = False
    if mine is not None and current in (Stage.ASSIGNED, Stage.INTERVENTION):
        answers = tuple(transitions.get(tasks[mine], ()))
        intervene = tasks[mine] in WORKING
    return Offer(
        decide=chairs and current is Stage.SCHEDULED,
        assign=chairs and current in (Stage.CONFIRMED, Stage.ASSIGNED),
        conclude=chairs and current in (Stage.CONFIRMED, Stage.ASSIGNED, Stage.INTERVENTION),
        reopen=chairs and current is Stage.CONCLUDED,
        respond=answers, intervene=intervene, agency_id=mine)


def conclusions(ref: Reference, current: Stage) -> list[tuple[str, str]]:
    """The conclusion codes a chair may choose (``(code, name)``): never the ones convening
    records itself; "risk lowered" only once an intervention is recorded."""
    return [(c.code, c.name) for c in ref.conclusions if c.code not in FILTER2_CODES
            and (current is Stage.INTERVENTION or c.outcome != "risk_lowered")]


# -- time --------------------------------------------------------------------------------------


def local(moment: datetime | None) -> str:
    """``Tue 13 Jan 2026, 09:30`` in America/Toronto (``—`` when unknown)."""
    if moment is None:
        return "—"
    at = moment.astimezone(ZONE)
    return f"{at:%a} {at.day} {at:%b %Y, %H:%M}"


def local_input(moment: datetime) -> str:
    """A ``datetime-local`` input's value for ``moment`` in America/Toronto."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def duration(span: timedelta) -> str:
    """A span in words a person reads at a glance: ``2 days 3 h``, ``5 h 10 min``, ``4 min``."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


@dataclass(frozen=True, slots=True)
class Clock:
    """One response window: what is due, by when, and where it stands now."""

    label: str
    due_at: datetime
    state: str
    """``running``, ``warning`` (past the warning time), ``passed`` or ``met``."""
    words: str


def clocks(confirmed_at: datetime | None, assigned_at: datetime | None, first_contact: bool,
           lead_accepted: bool, now: datetime, *, warning: timedelta, breach: timedelta,
           lead_acceptance: timedelta) -> list[Clock]:
    """The 24/48-hour windows of a situation: the lead's acceptance after assignment, and the
    first contact after AER confirmation (warning, then breach)."""
    out: list[Clock] = []
    if assigned_at is not None:
        due = assigned_at + lead_acceptance
        out.append(_clock("Lead agency accepts", due, lead_accepted, now, None))
    if confirmed_at is not None:
        due = confirmed_at + breach
        out.append(_clock("First contact (door knock)", due, first_contact, now,
                          confirmed_at + warning))
    return out


def _clock(label: str, due: datetime, met: bool, now: datetime, warn_at: datetime | None) -> Clock:
    if met:
        return Clock(label, due, "met", f"done (was due {local(due)})")
    if now >= due:
        return Clock(label, due, "passed", f"overdue by {duration(now - due)} (due {local(due)})")
    state = "warning" if warn_at is not None and now >= warn_at else "running"
    return Clock(label, due, state, f"{duration(due - now)} left (due {local(due)})")
