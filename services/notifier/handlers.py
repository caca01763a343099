"""The thin shell of consumption: decode → load the facts the event needs → compose its notices
(pure, :mod:`services.notifier.compose`) → insert them. Community event requests take the same
store to :mod:`services.notifier.requests.handlers`.

Handlers never send anything: they insert notices in the consumer's transaction (with its inbox
row), so a notice exists if and only if its event was handled. The delivery loop sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from directory import DirectoryHolder
from schemas.base import Actor, Command, Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope
from schemas.event_requests import EventRequestEvent, EventRequestSubmitted
from schemas.meetings import (
    AgendaIssued,
    AgendaMeeting,
    CommandRejected,
    MeetingScheduled,
    UrgentSituationAdded,
)
from schemas.reference import Reference
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    IdentityPurged,
    SituationConcluded,
    SituationOpened,
    SlaBreached,
    SlaWarning,
)
from services.notifier.compose import Composer, Facts
from services.notifier.contacts import ContactBox
from services.notifier.model import MeetingInfo
from services.notifier.ports import NotifierStore, Stores
from services.notifier.requests.handlers import EventRequestHandlers
from services.notifier.settings import NotifierSettings
from services.notifier.store import PgNotifierStore
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

log = get_logger("commande.notifier")

NOTIFIABLE = (AgendaIssued, UrgentSituationAdded, AgenciesAssigned, DisclosureSealed, SlaWarning, SlaBreached,
              SituationConcluded, CommandRejected, ReferralRejected, IdentityPurged)
"""The events that cause notices; notifier ignores the other events of its topics."""


class Handlers:
    """Notifier's consumer handler, with its settings, clock, directory and reference data;
    ``stores`` binds its state to the consumer's connection (PostgreSQL unless a test says)."""

    def __init__(self, settings: NotifierSettings, clock: Clock, directory: DirectoryHolder,
                 ref: Reference, ack_secret: bytes, box: ContactBox,
                 stores: Stores = PgNotifierStore) -> None:
        self._clock = clock
        self._directory = directory
        self._stores = stores
        self._composer = Composer(settings, ref, ack_secret)
        self._requests = EventRequestHandlers(settings, clock, directory, ref, ack_secret, box)

    async def handle(self, conn: Connection, env: Envelope[Message],
                     rec: InRecord) -> Sequence[OutRecord]:
        """Handle one event of any consumed topic; notifier emits nothing here."""
        event = env.event
        store = self._stores(conn)
        if isinstance(event, EventRequestSubmitted):
            return await self._requests.submitted(store, event)
        if isinstance(event, EventRequestEvent):
            return await self._requests.fact(store, env, rec.topic, event)
        if isinstance(event, MeetingScheduled):
            await store.save_meeting(event.meeting_id, MeetingInfo(
                event.district, event.kind, event.starts_at, event.ends_at, event.venue))
            return ()
        if isinstance(event, SituationOpened):
            await store.save_situation(event.situation_id, event.originating_agency,
                                       event.district)
            return ()
        if isinstance(event, Command):
            await self._command_seen(store, env.id, event.actor)
            return ()
        if isinstance(event, NOTIFIABLE):
            await self._notify(store, env.id, rec.topic, event)
        return ()

    async def _command_seen(self, store: NotifierStore, command_id: UUID, actor: Actor) -> None:
        await store.save_actor(command_id, actor)
        pending = await store.pop_pending_refusal(command_id)
        if pending is not None:
            cause_id, raw = pending
            refusal = CommandRejected.model_validate_json(raw)
            await self._notify(store, cause_id, CommandRejected.topic.name, refusal, actor=actor)

    async def _notify(self, store: NotifierStore, cause_id: UUID, topic: str, event: Message,
                      actor: Actor | None = None) -> None:
        facts = await _facts(store, event, actor)
        if facts is None:
            assert isinstance(event, CommandRejected)
            await store.save_pending_refusal(event.command_id, cause_id, event.model_dump_json())
            log.info("refusal waits for its command", event_type=event.ce_type)
            return
        now = self._clock.now()
        rows = self._composer.notices(event, cause_id, topic, facts, self._directory.current(),
                                      now)
        if not rows:
            log.info("no recipient for event", event_type=event.ce_type)
            return
        added = await store.insert_notices(rows, now)
        log.info("notices planned", event_type=event.ce_type, notices=added)


async def _facts(store: NotifierStore, event: Message, actor: Actor | None) -> Facts | None:
    """What ``event`` needs besides itself; ``None`` for a refusal whose actor is not known yet
    (it waits for its command)."""
    if isinstance(event, AgendaIssued):
        # The agenda carries its meeting's facts; the mirror of MeetingScheduled serves
        # agendas issued before it did (the meetings topic is kept forever).
        return Facts(meeting=_meeting(event.meeting) if event.meeting is not None
                     else await store.get_meeting(event.meeting_id))
    if isinstance(event, UrgentSituationAdded):
        return Facts(meeting=_meeting(event.meeting))
    if isinstance(event, SituationConcluded):
        return Facts(originator=await store.get_originator(event.situation_id))
    if isinstance(event, CommandRejected):
        # A refusal names its actor since the gateway; older ones are matched to their command.
        actor = actor or event.actor or await store.get_actor(event.command_id)
        return None if actor is None else Facts(actor=actor)
    return Facts(actor=actor)


def _meeting(m: AgendaMeeting) -> MeetingInfo:
    """The meeting facts an event carries, as notifier renders them."""
    return MeetingInfo(m.district, m.kind, m.starts_at, m.ends_at, m.venue)
