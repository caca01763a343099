"""The thin shell of community event requests: decode -> load state -> pure core -> save + emit.

One consumer (group ``intake-event-requests``) reads ``commande.event-request-submissions.v1``:
submissions are acknowledged or rejected (or, from the public, wait for their requester to
confirm their address), the CMB's commands applied or refused. Each runs in the consumer
runtime's transaction (inbox, our writes, outbox), so a redelivery changes nothing. The
confirmation itself comes from the link's page (:meth:`EventRequests.confirm`).
A submission is taken only from intake's own HTTP ingress and a command only from the gateway
(:data:`services.intake.provenance.EXPECTED_PRODUCERS`); anything else is logged and ignored.
Logs carry the request id, codes and counts only: never a contact detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from directory import DirectoryHolder
from schemas.base import Contract, Message
from schemas.envelope import Envelope
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestCommand,
    EventRequestRejected,
    EventRequestSubmitted,
    Requester,
    ScheduleEventRequest,
)
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.topics import EVENT_REQUEST_SUBMISSIONS
from services.intake import provenance
from services.intake.event_requests import rules, timers
from services.intake.event_requests.decide import (
    Decision,
    EventConfig,
    EventRequestState,
    decide_command,
    decide_confirmation,
    decide_submission,
    decide_undecodable,
    refusal,
)
from services.intake.event_requests.ports import EventRequestStore, EventRequestStores
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.handlers import SOURCE, contract_reasons
from services.intake.vault import CipherError, Vault
from services.runtime import events
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.decision import CommandRefused, Unchanged
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

CONTACT_CONTEXT = b"event-request-contact"
"""Associated data of the contact ciphertexts (they open only as this kind of row)."""
log = get_logger("commande.intake.event_requests")


class StoredContact(Contract):
    """What intake keeps encrypted of a request: who to call back, and the free text.

    Attributes:
        requester: the requester's details as given.
        address_or_venue: the event's address or venue (may be a home).
        topics_other: the topics in the requester's words.
    """

    requester: Requester | None = None
    address_or_venue: str | None = None
    topics_other: str | None = None

    @classmethod
    def of(cls, event: EventRequestSubmitted) -> StoredContact | None:
        """The identifying part of a submission, or ``None`` when it has none."""
        contact = cls(requester=event.requester,
                      address_or_venue=event.location.address_or_venue if event.location else None,
                      topics_other=event.topics_other)
        empty = contact.requester is None and not contact.address_or_venue \
            and not contact.topics_other
        return None if empty else contact


@dataclass
class EventRequests:
    """The event-request handlers and what they need (wired by intake's composition root,
    :func:`services.intake.main.build`).

    Each handler makes the store of its transaction's connection (``stores``) and only loads,
    asks the pure core (:mod:`.decide`), saves and returns what to emit; ``stores`` is the
    PostgreSQL store in the service and an in-memory fake in the shell's unit tests.
    """

    clock: Clock
    vault: Vault
    directory: DirectoryHolder
    reference: Reference
    rule_config: rules.EventRuleConfig
    config: EventConfig
    stores: EventRequestStores = field(default=PgEventRequestStore, kw_only=True)

    def check(self, event: EventRequestSubmitted) -> rules.EventChecked:
        """Every rule on a submission (also run by the HTTP ingress to answer at once)."""
        return rules.check(event, reference=self.reference, config=self.rule_config)

    async def on_record(self, conn: Connection, env: Envelope[Message],
                        rec: InRecord) -> Sequence[OutRecord]:
        """EventRequestSubmitted, or a CMB follow-up command, from its expected producer."""
        event = env.event
        if isinstance(event, EventRequestSubmitted | EventRequestCommand) and \
                provenance.trust(env.type, env.source) is not provenance.Trust.TRUSTED:
            log.warning("event request record from an unexpected producer ignored",
                        event_type=env.type, event_id=str(env.id), request_id=str(event.request_id))
            return []
        if isinstance(event, EventRequestSubmitted):
            return await self._submitted(conn, env, event)
        if isinstance(event, EventRequestCommand):
            return await self._command(conn, env, event)
        return []

    async def _submitted(self, conn: Connection, env: Envelope[Message],
                         event: EventRequestSubmitted) -> Sequence[OutRecord]:
        now = self.clock.now()
        store = self.stores(conn)
        state = await store.get_request(event.request_id)
        contact = StoredContact.of(event)
        decision = decide_submission(state, event, self.check(event), now, self.config,
                                     has_contact=contact is not None)
        if isinstance(decision, Unchanged):
            log.info("duplicate event request id; nothing changes",
                     request_id=str(event.request_id), code=decision.code)
            return [self._emit(e, env, now) for e in decision.events]
        await timers.save(store, decision.state, now)
        if contact is not None:
            sealed = self.vault.encrypt_record(CONTACT_CONTEXT, event.request_id,
                                               contact.model_dump_json().encode())
            await store.save_contact(event.request_id, sealed, now)
        outcome = decision.events[0]
        if isinstance(outcome, EventRequestRejected):
            log.info("event request rejected", request_id=str(event.request_id),
                     codes=sorted({r.code for r in outcome.reasons}))
        elif decision.state.status == "awaiting_confirmation":
            log.info("event request awaits its requester's confirmation",
                     request_id=str(event.request_id), district=decision.state.district,
                     expires_at=str(decision.state.confirm_expires_at))
        else:
            log.info("event request acknowledged", request_id=str(event.request_id),
                     district=decision.state.district)
        return [self._emit(e, env, now) for e in decision.events]

    async def confirm(self, conn: Connection,
                      request_id: UUID) -> tuple[Decision | Unchanged, list[OutRecord]]:
        """The requester confirmed their address: decide (the row locked for the caller's
        transaction, so a second click waits and the expiry timer leaves it to us), save (moving
        the request's timers), and return what to put in the outbox (``EventRequestConfirmed``
        and the answer)."""
        now = self.clock.now()
        store = self.stores(conn)
        state = await store.get_request(request_id)
        decision = decide_confirmation(state, now, self.config)
        if isinstance(decision, Unchanged):
            log.info("event request confirmation changed nothing", request_id=str(request_id),
                     code=decision.code)
            return decision, [events.emit(e, source=SOURCE, time=now) for e in decision.events]
        await timers.save(store, decision.state, now)
        log.info("event request confirmed", request_id=str(request_id),
                 status=decision.state.status, district=decision.state.district)
        return decision, [events.emit(e, source=SOURCE, time=now) for e in decision.events]

    async def _command(self, conn: Connection, env: Envelope[Message],
                       command: EventRequestCommand) -> Sequence[OutRecord]:
        now = self.clock.now()
        store = self.stores(conn)
        state = await store.get_request(command.request_id)
        try:
            decided = decide_command(state, command, district_cmb=self._district_cmb(state, now),
                                     reference=self.reference, now=now, config=self.config,
                                     names=await self._requester_names(store, command))
        except CommandRefused as refused:
            log.info("event request command refused", request_id=str(command.request_id),
                     command_type=command.ce_type, actor_agency_id=command.actor.agency_id,
                     codes=sorted({r.code for r in refused.reasons}))
            return [self._emit(refusal(refused, command, env.id, now), env, now)]
        await timers.save(store, decided.state, now)
        log.info("event request followed up", request_id=str(command.request_id),
                 status=decided.state.status, district=decided.state.district)
        return [self._emit(e, env, now) for e in decided.events]

    async def _requester_names(self, store: EventRequestStore,
                               command: EventRequestCommand) -> tuple[str, ...]:
        """The requester's name, which a note must not carry: the note is kept forever, the
        name only until the purge. Opened only when the command has a note; ``()`` once purged."""
        note = (command.notes if isinstance(command, ScheduleEventRequest)
                else command.note if isinstance(command, DeclineEventRequest) else None)
        sealed = None if note is None else await store.get_contact(command.request_id)
        if sealed is None:
            return ()
        try:
            clear = self.vault.decrypt_record(CONTACT_CONTEXT, command.request_id, sealed)
        except CipherError:
            log.warning("contact details did not open; the note is checked without the name",
                        request_id=str(command.request_id))
            return ()
        requester = StoredContact.model_validate_json(clear).requester
        return (requester.name,) if requester is not None and requester.name else ()

    def _district_cmb(self, state: EventRequestState | None, now: datetime) -> str | None:
        if state is None or state.district is None:
            return None
        org = self.directory.current().cmb(state.district, local_date(now))
        return None if org is None else org.agency_id

    async def on_dead_letter(self, conn: Connection, rec: InRecord,
                             error: BaseException) -> Sequence[OutRecord]:
        """An undecodable submission keyed by a new request id is rejected with the contract's
        reasons (so a Kafka submitter and the statistics learn of it); anything else only goes
        to the DLQ."""
        if rec.topic != EVENT_REQUEST_SUBMISSIONS.name or rec.key is None:
            return []
        headers = dict(rec.headers)
        if headers.get("ce_type") != EventRequestSubmitted.ce_type.encode():
            return []
        if headers.get("ce_source") != SOURCE.encode():
            return []  # only intake's own ingress submits; nobody else is answered
        try:
            request_id = UUID(rec.key.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return []
        if request_id.version != 7:
            return []
        now = self.clock.now()
        store = self.stores(conn)
        decision = decide_undecodable(await store.get_request(request_id), request_id,
                                      contract_reasons(error), now)
        if isinstance(decision, Unchanged):
            return [events.emit(e, source=SOURCE, time=now) for e in decision.events]
        await timers.save(store, decision.state, now)
        log.info("undecodable event request rejected", request_id=str(request_id),
                 codes=sorted({r.code for e in decision.events
                               if isinstance(e, EventRequestRejected) for r in e.reasons}))
        return [events.emit(e, source=SOURCE, time=now) for e in decision.events]

    def _emit(self, event: Message, cause: Envelope[Message], now: datetime) -> OutRecord:
        return events.emit(event, source=SOURCE, cause=cause, time=now)
