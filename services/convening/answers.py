"""Who may answer an invitation, and until when (pure): the rules of ``RespondToInvitation``.

The store says what it knows of the meeting and the invitation (:data:`Found`); these rules
raise the refusal, with the reason a ``CommandRejected`` (target ``meeting``) carries, as every
core refuses a command (ADR 0012).
"""

from __future__ import annotations

from datetime import datetime

from services.convening.refusals import reason
from services.runtime.decision import CommandRefused, CommandStale

Found = tuple[datetime, str | None] | None
"""``(meeting start, invited agency or None when the meeting has no such invitation)``, or
``None`` when there is no such meeting (:meth:`ConveningStore.invitation`)."""


def check_answer(found: Found, agency_id: str, now: datetime) -> None:
    """Return if ``agency_id`` may answer the invitation at ``now``.

    Only the invited agency answers its own invitation, and only before the meeting starts
    (after that, it tells the chair).

    Raises:
        CommandRefused: the invitation is another agency's.
        CommandStale: no such meeting or invitation, or the meeting has started.
    """
    if found is None:
        raise CommandStale(reason("unknown_meeting", "no meeting has this id", "meeting_id"))
    starts_at, invited_agency = found
    if invited_agency is None:
        raise CommandStale(reason("unknown_invitation",
                                  "this meeting has no invitation with this id",
                                  "invitation_id"))
    if invited_agency != agency_id:
        raise CommandRefused(reason("not_own_invitation",
                                    "an agency may answer only its own invitation", "actor"))
    if now >= starts_at:
        raise CommandStale(reason("meeting_started",
                                  "the meeting has started; tell the chair instead"))
