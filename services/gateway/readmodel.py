"""The gateway's consumer (group ``gateway``): what it must know to answer people.

It reads ``commande.situations.v1``, ``commande.meetings.v1`` and ``commande.event-requests.v1``
(all de-identified) and keeps, in the schema ``gateway``:

* every record caused by a command issued through the gateway (``ce_causationid`` = the
  command's ``ce_id``), which is how a waiting request learns its outcome (LISTEN/NOTIFY);
* the situations' districts, meetings, timelines and tasks, the meetings, invitations and
  agendas, the event requests' districts: the queries' answers and the commands' defaults.

It emits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.event_requests import EventRequestAcknowledged
from schemas.meetings import AgendaIssued, MeetingScheduled, ParticipantInvited
from schemas.situations import (
    AgenciesAssigned,
    AssignmentResponded,
    SituationEvent,
    SituationOpened,
    SituationScheduled,
)
from services.analytics.projections.timeline import fold
from services.gateway import store
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord


class ReadModel:
    """The consumer's handler, bound to the clock it stamps rows with."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def handle(self, conn: Connection, env: Envelope[Message], rec: InRecord) -> Sequence[OutRecord]:
        """Record one record's outcome (if one of our commands caused it) and its read-model rows."""
        now = self._clock.now()
        cause = _uuid(env.causationid)
        if cause is not None:
            await store.record_outcome(conn, cause, str(env.id), env.type, rec.value.decode(), now)
        event = env.event
        if isinstance(event, SituationEvent):
            await self._situation(conn, env, event)
        elif isinstance(event, MeetingScheduled):
            await store.add_meeting(conn, event.meeting_id, event.district, event.kind,
                                    event.starts_at, event.ends_at, event.venue)
        elif isinstance(event, ParticipantInvited):
            await store.add_invitation(conn, event.invitation_id, event.meeting_id,
                                       event.agency_id, event.reason, event.situation_ids)
        elif isinstance(event, AgendaIssued):
            await store.set_agenda(conn, event.meeting_id, event.agency_id, event.revision,
                                   event.model_dump_json())
        elif isinstance(event, EventRequestAcknowledged):
            await store.add_event_request(conn, event.request_id, event.district)
        return ()

    async def _situation(self, conn: Connection, env: Envelope[Message], event: SituationEvent) -> None:
        now = self._clock.now()
        sid = event.situation_id
        if isinstance(event, SituationOpened):
            await store.situation_opened(conn, sid, event.district, event.priority, now)
        timeline = fold(None, env)
        if timeline is None or not timeline.entries:
            return
        entry = timeline.entries[0]
        await store.add_timeline(conn, sid, str(env.id), entry.at, entry.event, entry.detail)
        meeting = event.meeting_id if isinstance(event, SituationScheduled) else None
        await store.situation_moved(conn, sid, entry.event, meeting, now)
        if isinstance(event, AgenciesAssigned):
            await store.set_task(conn, sid, event.lead.agency_id, "lead", event.lead.state, now)
            for task in event.assisting:
                await store.set_task(conn, sid, task.agency_id, "assisting", task.state, now)
        elif isinstance(event, AssignmentResponded):
            await store.move_task(conn, sid, event.agency_id, event.to_state, now)


def _uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
