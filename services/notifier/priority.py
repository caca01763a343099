"""Which notices go out first (pure): urgent ones are never queued behind routine ones.

A notice is **urgent** when a person is waiting on it now or a deadline of hours hangs on it:

* the invitation or agenda of an *ad-hoc* meeting (an urgent situation: the table meets within
  24 hours);
* the chair's notice of an urgent situation added to a meeting (docs/agendas.md);
* an escalation (a Filter's deadline has passed; the Staff Sergeant acts on it);
* a refused command (the chair or officer who issued it is looking at the console);
* the e-mail that confirms a member of the public's address (they are at their browser).

Everything else is **routine**: still sent as soon as nothing urgent is due. See
``docs/adr/0006-urgent-lane.md``.
"""

from __future__ import annotations

from enum import IntEnum

from schemas.notices import NoticeKind
from services.notifier.model import MeetingInfo


class Priority(IntEnum):
    """The order due notices are taken in (lower first); stored as ``notices.priority``."""

    URGENT = 0
    ROUTINE = 1


URGENT_KINDS: frozenset[NoticeKind] = frozenset(
    {"escalation", "command_rejected", "event_request_confirmation", "urgent_situation"})
MEETING_KINDS: frozenset[NoticeKind] = frozenset({"invitation", "agenda"})


def priority(kind: NoticeKind, meeting: MeetingInfo | None) -> Priority:
    """The priority of a notice of ``kind``; ``meeting`` is the agenda's meeting, if any."""
    if kind in URGENT_KINDS:
        return Priority.URGENT
    if kind in MEETING_KINDS and meeting is not None and meeting.kind == "ad_hoc":
        return Priority.URGENT
    return Priority.ROUTINE
