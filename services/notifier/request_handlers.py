"""The shell for community event requests: submissions in, facts in, notices out.

The submission (restricted topic) and intake's de-identified facts (another topic) may arrive in
either order. A fact whose submission notifier has not seen yet is parked and notified when the
submission arrives; nothing is dropped and nothing is sent without the requester's details. Once
intake purges the contact, notifier deletes its copy, and every notice that can no longer be sent
ends as a permanent ``NoticeFailed`` with the error ``contact_purged``.

Logs name request ids, event types and counts only; the submission is stored sealed, and so is
every rendered notice about a request (it quotes the requester's details).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from directory import DirectoryHolder
from schemas.envelope import Envelope
from schemas.event_requests import (
    CONFIRMATION_PATH,
    CONFIRMATION_PURPOSE,
    EventRequestConfirmationRequested,
    EventRequestContactPurged,
    EventRequestEvent,
    EventRequestSubmitted,
)
from schemas.notices import PUBLIC_REQUESTER, NoticeFailed
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.registry import model_for
from services.notifier import event_requests, render, request_store, tokens
from services.notifier.contacts import ContactBox
from services.notifier.links import console_link
from services.notifier.model import Planned, notice_id
from services.notifier.priority import priority
from services.notifier.request_store import Waiting
from services.notifier.settings import NotifierSettings
from services.notifier.store import NewNotice
from services.runtime import links
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.events import emit
from services.runtime.kafka import OutRecord
from services.runtime.logging import get_logger

SOURCE = "/commande/notifier"
CONTACT_PURGED = "contact_purged"
NO_ADDRESS = "requester_address_unusable"
log = get_logger("commande.notifier.event_requests")


class EventRequestHandlers:
    """Handles submissions and facts of community event requests inside the consumer's
    transaction; returns the records to publish (only ``NoticeFailed`` for notices that end
    without a send)."""

    def __init__(self, settings: NotifierSettings, clock: Clock, directory: DirectoryHolder,
                 ref: Reference, ack_secret: bytes, box: ContactBox) -> None:
        self._s = settings
        self._clock = clock
        self._directory = directory
        self._ref = ref
        self._secret = ack_secret
        self._box = box
        self._confirm_secret = links.secret_setting(
            settings.event_confirm_secret, setting="COMMANDE_EVENT_CONFIRM_SECRET",
            purpose=CONFIRMATION_PURPOSE, development=settings.development)

    async def submitted(self, conn: Connection, event: EventRequestSubmitted) -> list[OutRecord]:
        """Keep the submission sealed and notify the facts that waited for it."""
        rid = event.request_id
        await request_store.lock(conn, rid)
        now = self._clock.now()
        if await request_store.is_purged(conn, rid):
            log.info("submission of a purged request not kept", request_id=str(rid))
            return []
        if not await request_store.save_contact(conn, rid, self._box.seal_submission(event), now):
            return []  # the same request submitted again changes nothing
        out: list[OutRecord] = []
        waiting = await request_store.pop_waiting(conn, rid)
        for w in waiting:
            out += await self._notify(conn, w.cause_id, w.cause_topic, _fact(w), event)
        log.info("event request contact kept", request_id=str(rid), released=len(waiting))
        return out

    async def fact(self, conn: Connection, env: Envelope[Any], topic: str,
                   event: EventRequestEvent) -> list[OutRecord]:
        """Notify a de-identified fact, or park it until its submission arrives."""
        if isinstance(event, EventRequestContactPurged):
            return await self._purged(conn, event)
        if not isinstance(event, event_requests.NOTIFIABLE):
            return []
        rid = event.request_id
        await request_store.lock(conn, rid)
        sealed = await request_store.get_contact(conn, rid)
        if sealed is not None:
            submission = self._box.open_submission(rid, sealed)
            return await self._notify(conn, env.id, topic, event, submission)
        if await request_store.is_purged(conn, rid):
            return await self._fail(conn, env.id, topic, event, CONTACT_PURGED)
        await request_store.park(conn, rid, Waiting(env.id, topic, event.ce_type,
                                                    event.model_dump_json()), self._clock.now())
        log.info("event request fact waits for its submission", request_id=str(rid),
                 event_type=event.ce_type)
        return []

    async def _purged(self, conn: Connection,
                      event: EventRequestContactPurged) -> list[OutRecord]:
        rid = event.request_id
        await request_store.lock(conn, rid)
        now = self._clock.now()
        deleted = await request_store.purge(conn, rid, now)
        out: list[OutRecord] = []
        for w in await request_store.pop_waiting(conn, rid):
            out += await self._fail(conn, w.cause_id, w.cause_topic, _fact(w), CONTACT_PURGED)
        for f in await request_store.fail_pending(conn, rid, CONTACT_PURGED, now):
            out.append(emit(NoticeFailed(
                notice_id=f.notice_id, recipient_agency=f.recipient_agency, kind=f.kind,
                cause_id=f.cause_id, channel="webhook" if f.channel == "webhook" else "email",
                attempt=f.attempt, error=CONTACT_PURGED, permanent=True, failed_at=now),
                source=SOURCE))
        log.info("event request contact purged", request_id=str(rid), had_contact=deleted,
                 notices_failed=len(out))
        return out

    async def _notify(self, conn: Connection, cause_id: UUID, topic: str,
                      event: EventRequestEvent,
                      submission: EventRequestSubmitted) -> list[OutRecord]:
        now = self._clock.now()
        directory = self._directory.current()
        planned = event_requests.plan(event, directory, local_date(now))
        if not planned:
            log.warning("no recipient for event request fact", request_id=str(event.request_id),
                        event_type=event.ce_type)
            return []
        email = event_requests.requester_email(submission)
        facts = event_requests.facts_for(event, submission)
        rows: list[NewNotice] = []
        out: list[OutRecord] = []
        for p in planned:
            if p.recipient.agency_id == PUBLIC_REQUESTER and email is None:
                out += await self._fail_one(conn, cause_id, topic, event, p, NO_ADDRESS, now)
                continue
            rows.append(self._row(p, cause_id, topic, event, facts, email, now))
        added = await request_store.insert_notices(conn, event.request_id, rows, now)
        log.info("notices planned", request_id=str(event.request_id), event_type=event.ce_type,
                 notices=added)
        return out

    def _row(self, p: Planned, cause_id: UUID, topic: str, event: EventRequestEvent,
             facts: event_requests.RequestFacts, email: str | None, now: datetime) -> NewNotice:
        nid = notice_id(cause_id, p.recipient.key, p.kind)
        expires = now + timedelta(hours=self._s.notifier_ack_ttl_hours)
        ctx = render.Context(
            notice_id=nid, ack_expires_at=expires,
            ack_url=f"{self._s.notifier_public_url.rstrip('/')}/ack/"
                    f"{tokens.sign(self._secret, nid, expires)}",
            console_url=console_link(self._s.console_base, event, p.recipient.agency_id))
        if isinstance(event, EventRequestConfirmationRequested):
            out = event_requests.render_confirmation(p, event, ctx, self.confirmation_link(event),
                                                     self._ref)
        else:
            out = event_requests.render(p, event, facts, ctx, self._ref,
                                        self._directory.current(), local_date(now))
        payload: dict[str, Any] = {"subject": out.subject, "text": out.text, "html": out.html,
                                   "body": out.body, "attachments": []}
        if p.recipient.agency_id == PUBLIC_REQUESTER:
            payload["to"] = email
        return self._new(p, nid, cause_id, topic, self._box.seal_payload(nid, payload))

    def confirmation_link(self, event: EventRequestConfirmationRequested) -> str:
        """The link that confirms the requester's address: intake's page, with a token naming
        the request and its deadline (never the address), signed with the secret intake
        checks."""
        token = links.sign(self._confirm_secret, CONFIRMATION_PURPOSE, event.request_id,
                           event.expires_at)
        return f"{self._s.intake_public_url.rstrip('/')}{CONFIRMATION_PATH}{token}"

    def _new(self, p: Planned, nid: UUID, cause_id: UUID, topic: str,
             payload: dict[str, Any]) -> NewNotice:
        return NewNotice(
            notice_id=nid, cause_id=cause_id, cause_topic=topic, kind=p.kind,
            recipient_agency=p.recipient.agency_id, recipient_key=p.recipient.key,
            channel=p.recipient.channel.value, address=p.recipient.address,
            privacy=p.privacy.value, payload=payload, priority=priority(p.kind, None))

    async def _fail(self, conn: Connection, cause_id: UUID, topic: str, event: EventRequestEvent,
                    error: str) -> list[OutRecord]:
        """Every notice ``event`` would cause, recorded as failed (nothing rendered)."""
        now = self._clock.now()
        out: list[OutRecord] = []
        for p in event_requests.plan(event, self._directory.current(), local_date(now)):
            out += await self._fail_one(conn, cause_id, topic, event, p, error, now)
        log.info("event request notices cannot be sent", request_id=str(event.request_id),
                 event_type=event.ce_type, error=error, notices=len(out))
        return out

    async def _fail_one(self, conn: Connection, cause_id: UUID, topic: str,
                        event: EventRequestEvent, p: Planned, error: str,
                        now: datetime) -> list[OutRecord]:
        nid = notice_id(cause_id, p.recipient.key, p.kind)
        row = self._new(p, nid, cause_id, topic, {})
        if not await request_store.insert_failed(conn, event.request_id, row, error, now):
            return []
        failed = NoticeFailed(notice_id=nid, recipient_agency=p.recipient.agency_id, kind=p.kind,
                              cause_id=cause_id, channel=p.recipient.channel.value, attempt=1,
                              error=error, permanent=True, failed_at=now)
        return [emit(failed, source=SOURCE)]


def _fact(w: Waiting) -> EventRequestEvent:
    model = model_for(w.event_type)
    fact = model.model_validate_json(w.event_json)
    assert isinstance(fact, EventRequestEvent)
    return fact
