"""The gateway's consumer (group ``gateway``): what it must know to answer people.

It reads ``commande.situations.v1``, ``commande.meetings.v1``, ``commande.event-requests.v1``,
``commande.notices.v1`` (all de-identified) and ``commande.disclosures.v1`` (sealed packages, which
only their recipient can open) and keeps, in the schema ``gateway``:

* every record caused by a command issued through the gateway (``ce_causationid`` = the
  command's ``ce_id``), which is how a waiting request learns its outcome (LISTEN/NOTIFY);
* the situations' districts, meetings, timelines and tasks, the meetings, invitations and
  agendas, the event requests' districts: the queries' answers and the commands' defaults;
* for the console (:mod:`.console.store`): when situations were opened, confirmed and assigned,
  SLA warnings and breaches, which notices reached whom and were acknowledged, the event
  requests waiting for a CMB, and the sealed disclosure packages for their recipients (dropped
  when intake purges the situation's identity).

It emits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.envelope import Envelope
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestDeclined,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestWithdrawn,
)
from schemas.meetings import AgendaIssued, MeetingScheduled, ParticipantInvited
from schemas.notices import NoticeAcknowledged, NoticeDelivered
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    IdentityPurged,
    SituationConcluded,
    SituationEvent,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from services.analytics.projections.timeline import fold
from services.gateway import store
from services.gateway.console import store as console
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
            await console.agenda_record(conn, str(env.id), event.meeting_id, event.agency_id)
        elif isinstance(event, NoticeDelivered):
            await console.notice_delivered(conn, event.notice_id, event.recipient_agency,
                                           event.kind, str(event.cause_id), event.delivered_at)
        elif isinstance(event, NoticeAcknowledged):
            await console.notice_acknowledged(conn, event.notice_id, event.recipient_agency,
                                              event.acknowledged_at, event.via)
        elif isinstance(event, DisclosureSealed):
            await console.add_disclosure(conn, event.disclosure_id, event.situation_id,
                                         event.recipient_agency, event.sealed_at,
                                         rec.value.decode())
        else:
            await _event_request(conn, event)
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
        await _console_situation(conn, str(env.id), event)


async def _console_situation(conn: Connection, ce_id: str, event: SituationEvent) -> None:
    """The console's rows of a situation event: its clocks, its alerts, its packages."""
    sid = event.situation_id
    if isinstance(event, SituationOpened):
        await console.situation_times(conn, sid, opened=event.opened_at)
    elif isinstance(event, AerDecisionRecorded) and event.decision == "confirmed":
        await console.situation_times(conn, sid, confirmed=event.decided_at)
    elif isinstance(event, AgenciesAssigned):
        await console.situation_times(conn, sid, assigned=event.assigned_at)
    elif isinstance(event, SituationConcluded):
        await console.situation_conclusion(conn, sid, event.conclusion)
    elif isinstance(event, SituationReopened):
        await console.situation_conclusion(conn, sid, None)
    elif isinstance(event, SlaWarning):
        await console.sla_alert(conn, ce_id, sid, event.district, "warning", event.sla,
                                event.agency_id, event.started_at, event.due_at, event.warned_at)
    elif isinstance(event, SlaBreached):
        await console.sla_alert(conn, ce_id, sid, event.district, "breach", event.sla,
                                event.agency_id, event.started_at, event.due_at, event.breached_at)
    elif isinstance(event, IdentityPurged):
        await console.drop_disclosures(conn, sid)


async def _event_request(conn: Connection, event: Message) -> None:
    """An event request's standing, for the district's CMB (no requester detail exists here)."""
    if isinstance(event, EventRequestAcknowledged):
        await store.add_event_request(conn, event.request_id, event.district)
        await console.event_request_acknowledged(
            conn, event.request_id, event.district, event.municipality, event.kind,
            [w.model_dump(mode="json") for w in event.windows], str(event.expected_attendees),
            event.acknowledged_at)
    elif isinstance(event, EventRequestScheduled):
        await console.event_request_decided(conn, event.request_id, "scheduled", event.scheduled_at)
    elif isinstance(event, EventRequestDeclined):
        await console.event_request_decided(conn, event.request_id, "declined", event.declined_at)
    elif isinstance(event, EventRequestWithdrawn):
        await console.event_request_decided(conn, event.request_id, "withdrawn", event.withdrawn_at)
    elif isinstance(event, EventRequestReminderDue):
        await console.event_request_reminded(conn, event.request_id, str(event.escalate_to))


def _uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
