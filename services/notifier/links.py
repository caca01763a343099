"""Where a notice's reader acts (pure): the table console's page of its meeting, situation,
disclosure or the CMB's follow-up list, under ``COMMANDE_PUBLIC_URL``.

The link carries opaque ids only; the console asks its reader to sign in and shows them only what
their agency may see. A notice with no page to act on (a partner's referral answer, anything to a
member of the public) gets no link.
"""

from __future__ import annotations

from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.event_requests import EventRequestEvent
from schemas.meetings import AgendaIssued, CommandRejected, UrgentSituationAdded
from schemas.notices import PUBLIC_REQUESTER
from schemas.situations import SituationEvent


def console_link(base: str, event: Message, recipient_agency: str) -> str | None:
    """The console page for a notice about ``event`` to ``recipient_agency``, or ``None``."""
    root = f"{base.rstrip('/')}/console"
    if recipient_agency == PUBLIC_REQUESTER:
        return None
    if isinstance(event, AgendaIssued | UrgentSituationAdded):
        return f"{root}/meetings/{event.meeting_id}"
    if isinstance(event, DisclosureSealed):
        return f"{root}/disclosures/{event.disclosure_id}"
    if isinstance(event, SituationEvent):
        return f"{root}/situations/{event.situation_id}"
    if isinstance(event, CommandRejected):
        if event.target == "situation":
            return f"{root}/situations/{event.target_id}"
        return f"{root}/"
    if isinstance(event, EventRequestEvent):
        return f"{root}/oversight"
    return None
