"""The notices an event calls for (pure): planned, rendered, signed and prioritised.

The shell loads the facts an event does not carry (:class:`Facts`), calls :meth:`Composer.notices`
and inserts what it returns; nothing here reads a clock, a database or a topic, so every notice
notifier would insert for an event can be checked without either.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from directory import Directory
from schemas.base import Actor, Message
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from services.notifier import recipients, render, tokens
from services.notifier.links import console_link
from services.notifier.model import MeetingInfo, Planned, Rendered, notice_id
from services.notifier.ports import NewNotice
from services.notifier.priority import priority
from services.notifier.settings import NotifierSettings


@dataclass(frozen=True, slots=True)
class Facts:
    """What notifier remembered for an event that does not carry it: an agenda's meeting, a
    conclusion's originating agency, a refused command's actor."""

    meeting: MeetingInfo | None = None
    originator: str | None = None
    actor: Actor | None = None


class Composer:
    """Turns an event and its facts into the rows to insert, with notifier's settings, reference
    data and acknowledgement secret."""

    def __init__(self, settings: NotifierSettings, ref: Reference, ack_secret: bytes) -> None:
        self._s = settings
        self._ref = ref
        self._secret = ack_secret

    def notices(self, event: Message, cause_id: UUID, topic: str, facts: Facts,
                directory: Directory, now: datetime) -> list[NewNotice]:
        """Every notice ``event`` (with id ``cause_id``, read from ``topic``) calls for at
        ``now``; empty when it has no recipient."""
        planned = recipients.plan(event, directory, local_date(now),
                                  originating_agency=facts.originator, actor=facts.actor)
        return [self._notice(p, cause_id, topic, event, facts, directory, now) for p in planned]

    def _notice(self, p: Planned, cause_id: UUID, topic: str, event: Message, facts: Facts,
                directory: Directory, now: datetime) -> NewNotice:
        nid = notice_id(cause_id, p.recipient.key, p.kind)
        expires = now + timedelta(hours=self._s.notifier_ack_ttl_hours)
        token = tokens.sign(self._secret, nid, expires)
        ctx = render.Context(
            notice_id=nid, ack_url=f"{self._s.notifier_public_url.rstrip('/')}/ack/{token}",
            ack_expires_at=expires, meeting=facts.meeting, actor=facts.actor,
            response_hours=self._s.notifier_response_hours,
            first_contact_hours=self._s.notifier_first_contact_hours,
            console_url=console_link(self._s.console_base, event, p.recipient.agency_id),
        )
        out = render.render(p, event, ctx, self._ref, directory)
        return NewNotice(
            notice_id=nid, cause_id=cause_id, cause_topic=topic, kind=p.kind,
            recipient_agency=p.recipient.agency_id, recipient_key=p.recipient.key,
            channel=p.recipient.channel.value, address=p.recipient.address,
            privacy=p.privacy.value, payload=payload(out),
            priority=priority(p.kind, facts.meeting),
        )


def payload(out: Rendered) -> dict[str, Any]:
    """A rendered notice as stored until it is sent (attachments in base64)."""
    return {
        "subject": out.subject, "text": out.text, "html": out.html, "body": out.body,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "content": base64.b64encode(a.content).decode()}
                        for a in out.attachments],
    }
