"""The notices an event calls for (pure): planned, rendered, signed and prioritised.

The shell loads the facts an event does not carry (:class:`Facts`), calls :meth:`Composer.notices`
and inserts what it returns; for a community event request's fact it opens the requester's
submission and calls :meth:`RequestComposer.notices`. Nothing here reads a clock, a database or a
topic, so every notice notifier would insert for an event can be checked without either.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from directory import Directory
from schemas.base import Actor, Message
from schemas.event_requests import (
    CONFIRMATION_PATH,
    CONFIRMATION_PURPOSE,
    EventRequestConfirmationRequested,
    EventRequestEvent,
    EventRequestSubmitted,
)
from schemas.notices import PUBLIC_REQUESTER, NoticeFailed
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from services.notifier import recipients, render, tokens
from services.notifier.contacts import ContactBox
from services.notifier.links import console_link
from services.notifier.model import MeetingInfo, Planned, Rendered, notice_id
from services.notifier.ports import FailedNotice, NewNotice
from services.notifier.priority import Priority, priority
from services.notifier.requests import notices
from services.notifier.settings import NotifierSettings
from services.runtime import links

NO_ADDRESS = "requester_address_unusable"
"""Why a notice to a requester whose e-mail is not usable ends unsent."""


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
        ctx = replace(_context(self._s, self._secret, nid, event, p, now),
                      meeting=facts.meeting, actor=facts.actor,
                      response_hours=self._s.notifier_response_hours,
                      first_contact_hours=self._s.notifier_first_contact_hours)
        out = render.render(p, event, ctx, self._ref, directory)
        return row(p, cause_id, topic, payload(out), priority(p.kind, facts.meeting))


@dataclass(frozen=True, slots=True)
class RequestNotices:
    """What a community event request's fact calls for: the notices to insert, and those that
    cannot be sent at all (to a requester whose e-mail is unusable: :data:`NO_ADDRESS`), kept
    without a payload."""

    send: list[NewNotice]
    unsendable: list[NewNotice]


class RequestComposer:
    """Turns a community event request's fact and its submission into notices: rendered, then
    sealed with the contact box (they quote the requester's details), each with its request id
    so they can fail together when the contact is purged."""

    def __init__(self, settings: NotifierSettings, ref: Reference, ack_secret: bytes,
                 box: ContactBox) -> None:
        self._s = settings
        self._ref = ref
        self._secret = ack_secret
        self._box = box
        self._confirm_secret = links.secret_setting(
            settings.event_confirm_secret, setting="COMMANDE_EVENT_CONFIRM_SECRET",
            purpose=CONFIRMATION_PURPOSE, development=settings.development)

    def notices(self, event: EventRequestEvent, cause_id: UUID, topic: str,
                submission: EventRequestSubmitted, directory: Directory,
                now: datetime) -> RequestNotices:
        """Every notice ``event`` (with id ``cause_id``, read from ``topic``) calls for at
        ``now``, given the request's ``submission``; both lists empty when it has no
        recipient."""
        email = notices.requester_email(submission)
        facts = notices.facts_for(event, submission)
        send: list[NewNotice] = []
        unsendable: list[NewNotice] = []
        for p in notices.plan(event, directory, local_date(now)):
            if p.recipient.agency_id == PUBLIC_REQUESTER and email is None:
                unsendable.append(request_row(p, cause_id, topic, event, {}))
                continue
            nid = notice_id(cause_id, p.recipient.key, p.kind)
            ctx = _context(self._s, self._secret, nid, event, p, now)
            if isinstance(event, EventRequestConfirmationRequested):
                out = notices.render_confirmation(
                    p, event, ctx, self.confirmation_link(event), self._ref)
            else:
                out = notices.render(p, event, facts, ctx, self._ref, directory,
                                     local_date(now))
            stored = payload(out)
            if p.recipient.agency_id == PUBLIC_REQUESTER:
                stored["to"] = email
            send.append(request_row(p, cause_id, topic, event,
                                    self._box.seal_payload(nid, stored)))
        return RequestNotices(send, unsendable)

    def confirmation_link(self, event: EventRequestConfirmationRequested) -> str:
        """The link that confirms the requester's address: intake's page, with a token naming
        the request and its deadline (never the address), signed with the secret intake
        checks."""
        token = links.sign(self._confirm_secret, CONFIRMATION_PURPOSE, event.request_id,
                           event.expires_at)
        return f"{self._s.intake_public_url.rstrip('/')}{CONFIRMATION_PATH}{token}"


def unsendable(event: EventRequestEvent, cause_id: UUID, topic: str, directory: Directory,
               now: datetime) -> list[NewNotice]:
    """Every notice ``event`` calls for, without a payload: for a fact whose requester's
    contact is gone (nothing can be rendered)."""
    return [request_row(p, cause_id, topic, event, {})
            for p in notices.plan(event, directory, local_date(now))]


def failed(f: FailedNotice, error: str, now: datetime) -> NoticeFailed:
    """The permanent :class:`NoticeFailed` of a notice that ended unsent with ``error``."""
    return NoticeFailed(notice_id=f.notice_id, recipient_agency=f.recipient_agency, kind=f.kind,
                        cause_id=f.cause_id,
                        channel="webhook" if f.channel == "webhook" else "email",
                        attempt=f.attempt, error=error, permanent=True, failed_at=now)


def first_attempt(n: NewNotice) -> FailedNotice:
    """``n`` as recorded failed at its first attempt (:meth:`insert_failed`)."""
    return FailedNotice(n.notice_id, n.cause_id, n.kind, n.recipient_agency, n.channel, 1)


def _context(s: NotifierSettings, secret: bytes, nid: UUID, event: Message, p: Planned,
             now: datetime) -> render.Context:
    """The rendering context of notice ``nid``: its signed acknowledgement link (valid for the
    configured hours) and the recipient's console link."""
    expires = now + timedelta(hours=s.notifier_ack_ttl_hours)
    return render.Context(
        notice_id=nid, ack_expires_at=expires,
        ack_url=f"{s.notifier_public_url.rstrip('/')}/ack/{tokens.sign(secret, nid, expires)}",
        console_url=console_link(s.console_base, event, p.recipient.agency_id))


def row(p: Planned, cause_id: UUID, topic: str, stored: dict[str, Any], prio: Priority,
        request_id: UUID | None = None) -> NewNotice:
    """The notice row of ``p`` caused by ``cause_id`` (its id derived from cause, recipient and
    kind, so a redelivered event gives the same rows)."""
    return NewNotice(
        notice_id=notice_id(cause_id, p.recipient.key, p.kind), cause_id=cause_id,
        cause_topic=topic, kind=p.kind, recipient_agency=p.recipient.agency_id,
        recipient_key=p.recipient.key, channel=p.recipient.channel.value,
        address=p.recipient.address, privacy=p.privacy.value, payload=stored, priority=prio,
        request_id=request_id)


def request_row(p: Planned, cause_id: UUID, topic: str, event: EventRequestEvent,
                stored: dict[str, Any]) -> NewNotice:
    """The notice row of ``p`` about ``event``'s request."""
    return row(p, cause_id, topic, stored, priority(p.kind, None), event.request_id)


def payload(out: Rendered) -> dict[str, Any]:
    """A rendered notice as stored until it is sent (attachments in base64)."""
    return {
        "subject": out.subject, "text": out.text, "html": out.html, "body": out.body,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "content": base64.b64encode(a.content).decode()}
                        for a in out.attachments],
    }
