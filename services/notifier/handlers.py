"""The thin shell of consumption: decode → look up facts → plan and render (pure) → insert.

Handlers never send anything: they insert notices in the consumer's transaction (with its inbox
row), so a notice exists if and only if its event was handled. The delivery loop sends them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from directory import DirectoryHolder
from schemas.base import Actor, Command, Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope
from schemas.event_requests import EventRequestEvent, EventRequestSubmitted
from schemas.meetings import AgendaIssued, CommandRejected, MeetingScheduled
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    IdentityPurged,
    SituationConcluded,
    SituationOpened,
    SlaBreached,
    SlaWarning,
)
from services.notifier import recipients, render, store, tokens
from services.notifier.contacts import ContactBox
from services.notifier.links import console_link
from services.notifier.model import MeetingInfo, Planned, notice_id
from services.notifier.priority import priority
from services.notifier.request_handlers import EventRequestHandlers
from services.notifier.settings import NotifierSettings
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

log = get_logger("commande.notifier")

NOTIFIABLE = (AgendaIssued, AgenciesAssigned, DisclosureSealed, SlaWarning, SlaBreached,
              SituationConcluded, CommandRejected, ReferralRejected, IdentityPurged)
"""The events that cause notices; notifier ignores the other events of its topics."""


class Handlers:
    """Notifier's consumer handler, with its settings, clock, directory and reference data."""

    def __init__(self, settings: NotifierSettings, clock: Clock, directory: DirectoryHolder,
                 ref: Reference, ack_secret: bytes, box: ContactBox) -> None:
        self._s = settings
        self._clock = clock
        self._directory = directory
        self._ref = ref
        self._secret = ack_secret
        self._requests = EventRequestHandlers(settings, clock, directory, ref, ack_secret, box)

    async def handle(self, conn: Connection, env: Envelope[Message],
                     rec: InRecord) -> Sequence[OutRecord]:
        """Handle one event of any consumed topic; notifier emits nothing here."""
        event = env.event
        if isinstance(event, EventRequestSubmitted):
            return await self._requests.submitted(conn, event)
        if isinstance(event, EventRequestEvent):
            return await self._requests.fact(conn, env, rec.topic, event)
        if isinstance(event, MeetingScheduled):
            await store.save_meeting(conn, event.meeting_id, MeetingInfo(
                event.district, event.kind, event.starts_at, event.ends_at, event.venue))
            return ()
        if isinstance(event, SituationOpened):
            await store.save_situation(conn, event.situation_id, event.originating_agency,
                                       event.district)
            return ()
        if isinstance(event, Command):
            await self._command_seen(conn, env.id, event.actor)
            return ()
        if isinstance(event, NOTIFIABLE):
            await self._notify(conn, env.id, rec.topic, event)
        return ()

    async def _command_seen(self, conn: Connection, command_id: UUID, actor: Actor) -> None:
        await store.save_actor(conn, command_id, actor)
        pending = await store.pop_pending_refusal(conn, command_id)
        if pending is not None:
            cause_id, raw = pending
            refusal = CommandRejected.model_validate_json(raw)
            await self._notify(conn, cause_id, CommandRejected.topic.name, refusal, actor=actor)

    async def _notify(self, conn: Connection, cause_id: UUID, topic: str, event: Message,
                      actor: Actor | None = None) -> None:
        meeting = originator = None
        if isinstance(event, AgendaIssued):
            # The agenda carries its meeting's facts; the mirror of MeetingScheduled serves
            # agendas issued before it did (the meetings topic is kept forever).
            meeting = (MeetingInfo(event.meeting.district, event.meeting.kind,
                                   event.meeting.starts_at, event.meeting.ends_at,
                                   event.meeting.venue)
                       if event.meeting is not None
                       else await store.get_meeting(conn, event.meeting_id))
        elif isinstance(event, SituationConcluded):
            originator = await store.get_originator(conn, event.situation_id)
        elif isinstance(event, CommandRejected) and actor is None:
            # A refusal names its actor since the gateway; older ones are matched to their command.
            actor = event.actor or await store.get_actor(conn, event.command_id)
            if actor is None:
                await store.save_pending_refusal(conn, event.command_id, cause_id,
                                                 event.model_dump_json())
                log.info("refusal waits for its command", event_type=event.ce_type)
                return
        now = self._clock.now()
        directory = self._directory.current()
        planned = recipients.plan(event, directory, local_date(now), originating_agency=originator,
                                  actor=actor)
        if not planned:
            log.info("no recipient for event", event_type=event.ce_type)
            return
        rows = [self._row(p, cause_id, topic, event, meeting, actor) for p in planned]
        added = await store.insert_notices(conn, rows, now)
        log.info("notices planned", event_type=event.ce_type, notices=added)

    def _row(self, p: Planned, cause_id: UUID, topic: str, event: Message,
             meeting: MeetingInfo | None, actor: Actor | None) -> store.NewNotice:
        nid = notice_id(cause_id, p.recipient.key, p.kind)
        expires = self._clock.now() + timedelta(hours=self._s.notifier_ack_ttl_hours)
        token = tokens.sign(self._secret, nid, expires)
        ctx = render.Context(
            notice_id=nid, ack_url=f"{self._s.notifier_public_url.rstrip('/')}/ack/{token}",
            ack_expires_at=expires, meeting=meeting, actor=actor,
            response_hours=self._s.notifier_response_hours,
            first_contact_hours=self._s.notifier_first_contact_hours,
            console_url=console_link(self._s.console_base, event, p.recipient.agency_id),
        )
        out = render.render(p, event, ctx, self._ref, self._directory.current())
        payload = {
            "subject": out.subject, "text": out.text, "html": out.html, "body": out.body,
            "attachments": [{"filename": a.filename, "content_type": a.content_type,
                             "content": base64.b64encode(a.content).decode()}
                            for a in out.attachments],
        }
        return store.NewNotice(
            notice_id=nid, cause_id=cause_id, cause_topic=topic, kind=p.kind,
            recipient_agency=p.recipient.agency_id, recipient_key=p.recipient.key,
            channel=p.recipient.channel.value, address=p.recipient.address,
            privacy=p.privacy.value, payload=payload, priority=priority(p.kind, meeting),
        )
