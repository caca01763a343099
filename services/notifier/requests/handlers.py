"""The shell for community event requests: submissions in, facts in, notices out.

The submission (restricted topic) and intake's de-identified facts (another topic) may arrive in
either order. A fact whose submission notifier has not seen yet is parked and notified when the
submission arrives; nothing is dropped and nothing is sent without the requester's details. Once
intake purges the contact, notifier deletes its copy, and every notice that can no longer be sent
ends as a permanent ``NoticeFailed`` with the error ``contact_purged``.

A thin shell: the handlers take the store the consumer's shell bound to its transaction
(:class:`~services.notifier.ports.EventRequestState` and the notices of
:class:`~services.notifier.ports.NotifierStore`), load, let
:class:`~services.notifier.compose.RequestComposer` (pure) decide the notices, save them and emit
the ``NoticeFailed`` of those that end unsent.

Logs name request ids, event types and counts only; the submission is stored sealed, and so is
every rendered notice about a request (it quotes the requester's details).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from directory import DirectoryHolder
from schemas.envelope import Envelope
from schemas.event_requests import EventRequestContactPurged, EventRequestEvent, EventRequestSubmitted
from schemas.reference import Reference
from schemas.registry import model_for
from services.notifier import compose
from services.notifier.compose import RequestComposer
from services.notifier.contacts import ContactBox
from services.notifier.ports import NewNotice, NotifierStore, Waiting
from services.notifier.requests import notices
from services.notifier.settings import NotifierSettings
from services.runtime.clock import Clock
from services.runtime.events import emit
from services.runtime.kafka import OutRecord
from services.runtime.logging import get_logger

SOURCE = "/commande/notifier"
CONTACT_PURGED = "contact_purged"
log = get_logger("commande.notifier.event_requests")


class EventRequestHandlers:
    """Handles submissions and facts of community event requests inside the consumer's
    transaction, on the store bound to it; returns the records to publish (only
    ``NoticeFailed`` for notices that end without a send)."""

    def __init__(self, settings: NotifierSettings, clock: Clock, directory: DirectoryHolder,
                 ref: Reference, ack_secret: bytes, box: ContactBox) -> None:
        self._clock = clock
        self._directory = directory
        self._box = box
        self._composer = RequestComposer(settings, ref, ack_secret, box)

    async def submitted(self, store: NotifierStore,
                        event: EventRequestSubmitted) -> list[OutRecord]:
        """Keep the submission sealed and notify the facts that waited for it."""
        rid = event.request_id
        await store.lock_request(rid)
        now = self._clock.now()
        if await store.is_purged(rid):
            log.info("submission of a purged request not kept", request_id=str(rid))
            return []
        if not await store.save_contact(rid, self._box.seal_submission(event), now):
            return []  # the same request submitted again changes nothing
        out: list[OutRecord] = []
        waiting = await store.pop_waiting(rid)
        for w in waiting:
            out += await self._notify(store, w.cause_id, w.cause_topic, _fact(w), event)
        log.info("event request contact kept", request_id=str(rid), released=len(waiting))
        return out

    async def fact(self, store: NotifierStore, env: Envelope[Any], topic: str,
                   event: EventRequestEvent) -> list[OutRecord]:
        """Notify a de-identified fact, or park it until its submission arrives."""
        if isinstance(event, EventRequestContactPurged):
            return await self._purged(store, event)
        if not isinstance(event, notices.NOTIFIABLE):
            return []
        rid = event.request_id
        await store.lock_request(rid)
        sealed = await store.get_contact(rid)
        if sealed is not None:
            submission = self._box.open_submission(rid, sealed)
            return await self._notify(store, env.id, topic, event, submission)
        if await store.is_purged(rid):
            return await self._fail(store, env.id, topic, event)
        await store.park(rid, Waiting(env.id, topic, event.ce_type, event.model_dump_json()),
                         self._clock.now())
        log.info("event request fact waits for its submission", request_id=str(rid),
                 event_type=event.ce_type)
        return []

    async def _purged(self, store: NotifierStore,
                      event: EventRequestContactPurged) -> list[OutRecord]:
        rid = event.request_id
        await store.lock_request(rid)
        now = self._clock.now()
        deleted = await store.purge_contact(rid, now)
        out: list[OutRecord] = []
        for w in await store.pop_waiting(rid):
            out += await self._fail(store, w.cause_id, w.cause_topic, _fact(w))
        out += [emit(compose.failed(f, CONTACT_PURGED, now), source=SOURCE)
                for f in await store.fail_pending(rid, CONTACT_PURGED, now)]
        log.info("event request contact purged", request_id=str(rid), had_contact=deleted,
                 notices_failed=len(out))
        return out

    async def _notify(self, store: NotifierStore, cause_id: UUID, topic: str,
                      event: EventRequestEvent,
                      submission: EventRequestSubmitted) -> list[OutRecord]:
        now = self._clock.now()
        planned = self._composer.notices(event, cause_id, topic, submission,
                                         self._directory.current(), now)
        if not planned.send and not planned.unsendable:
            log.warning("no recipient for event request fact", request_id=str(event.request_id),
                        event_type=event.ce_type)
            return []
        out = await self._insert_failed(store, planned.unsendable,
                                       compose.NO_ADDRESS)
        added = await store.insert_notices(planned.send, now)
        log.info("notices planned", request_id=str(event.request_id), event_type=event.ce_type,
                 notices=added)
        return out

    async def _fail(self, store: NotifierStore, cause_id: UUID, topic: str,
                    event: EventRequestEvent) -> list[OutRecord]:
        """Every notice ``event`` would cause, recorded as failed (nothing rendered): its
        requester's contact was purged."""
        rows = compose.unsendable(event, cause_id, topic, self._directory.current(),
                                  self._clock.now())
        out = await self._insert_failed(store, rows, CONTACT_PURGED)
        log.info("event request notices cannot be sent", request_id=str(event.request_id),
                 event_type=event.ce_type, error=CONTACT_PURGED, notices=len(out))
        return out

    async def _insert_failed(self, store: NotifierStore, rows: list[NewNotice],
                             error: str) -> list[OutRecord]:
        """Record ``rows`` as failed; the ``NoticeFailed`` of each that was not already there."""
        now = self._clock.now()
        return [emit(compose.failed(compose.first_attempt(n), error, now), source=SOURCE)
                for n in rows if await store.insert_failed(n, error, now)]


def _fact(w: Waiting) -> EventRequestEvent:
    model = model_for(w.event_type)
    fact = model.model_validate_json(w.event_json)
    assert isinstance(fact, EventRequestEvent)
    return fact
