"""The thin shell of convening: decode → load state → pure core → save + emit (outbox).

Two consumers call in here, each inside the runtime's transaction (inbox row, our writes and the
outbox rows commit together):

* :meth:`Handlers.situation_event` (group ``convening``, ``commande.situations.v1``): a
  ``SituationOpened`` is routed, placed on a meeting, its participants invited, agendas issued
  when due; a ``SituationConcluded`` from another service (a withdrawal) closes our view.
* :meth:`Handlers.command` (group ``convening-commands``, ``commande.table-actions.v1``): the
  situation state machine decides; the facts go to the situations topic, a refusal is a
  ``CommandRejected`` on the meetings topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from schemas.base import Message, Priority
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.envelope import Envelope
from schemas.errors import RuleViolation
from schemas.meetings import AgendaIssued, AgendaItem, InvitationReason, MeetingScheduled, ParticipantInvited
from schemas.reference import Reference
from schemas.referrals import SituationSummary
from schemas.situations import SituationConcluded, SituationEvent, SituationOpened
from services.convening import store
from services.convening.agenda import AgendaEntry, agenda_due_at, agenda_for, agendas_to_issue
from services.convening.invitations import join
from services.convening.model import InviteReason, MeetingKind, MeetingSlot, SituationBrief
from services.convening.participants import select_participants
from services.convening.refusals import CommandRefused, CommandStale, command_rejected, reason
from services.convening.routing import Unroutable, risk_categories, route
from services.convening.scheduling import URGENT_WINDOW, local_date, overflow, place
from services.convening.settings import ConveningSettings
from services.convening.situation import (
    INITIAL,
    SituationState,
    TableContext,
    decide,
    decide_schedule,
    evolve,
    fold,
)
from services.convening.timers import SlaPolicy, agenda_timer, applies, timers_to_start
from services.directory import DirectoryHolder
from services.directory.model import Directory, TableSettings
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.events import emit
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

SOURCE = "/commande/convening"
SITUATION_COMMANDS = (RecordAerDecision, AssignAgencies, RespondToAssignment, RecordIntervention,
                      ConcludeSituation)
_INVITATION_REASON: Mapping[InviteReason, InvitationReason] = {
    InviteReason.DISTRICT_CMB: "district_cmb",
    InviteReason.ORIGINATING_AGENCY: "originating_agency",
    InviteReason.SECTOR_MATCH: "sector_match",
}
_NO_TABLE = TableContext(district="", chair_agency_id="", members=frozenset(),
                         identity_release="filter_4", conclusions=frozenset())
_VENUE_MAX = 280
_MAX_OVERFLOW = 60
"""Full meetings skipped before giving up (a configuration problem, not a busy table)."""

log = get_logger("commande.convening")


@dataclass(frozen=True, slots=True)
class Deps:
    """What the handlers and the timer loop need: settings, clock, directory, reference data."""

    settings: ConveningSettings
    clock: Clock
    directory: DirectoryHolder
    reference: Reference
    category_sectors: Mapping[str, frozenset[str]]

    @property
    def policy(self) -> SlaPolicy:
        """The SLA windows from settings."""
        s = self.settings
        return SlaPolicy(lead_acceptance=timedelta(hours=s.lead_acceptance_overdue_hours),
                         warning=timedelta(hours=s.sla_warning_hours),
                         breach=timedelta(hours=s.sla_breach_hours))


def table_context(directory: Directory, reference: Reference, district: str,
                  now: datetime) -> TableContext:
    """What the state machine needs to know of ``district``'s table at ``now``.

    Raises:
        CommandRefused: the district has no table or no active CMB (nobody can chair).
    """
    on = local_date(now)
    table = directory.table(district)
    cmb = directory.cmb(district, on)
    if table is None or cmb is None:
        raise CommandRefused(reason(
            "table_unavailable",
            f"the {district} table has no active chair in directory version {directory.version}"))
    return TableContext(
        district=district,
        chair_agency_id=cmb.agency_id,
        members=frozenset(o.agency_id for o in directory.members(district, on)),
        identity_release=table.identity_release_stage,
        conclusions=reference.codes("conclusions"),
    )


async def issue_agendas(conn: Connection, meeting: MeetingSlot, table: TableSettings,
                        changed: Iterable[str], now: datetime) -> list[AgendaIssued]:
    """Issue the agendas due at ``now`` (first issues and updates) and remember their revisions.

    Hold the placement lock: invitations must not grow meanwhile.
    """
    if now < agenda_due_at(meeting, table) or now >= meeting.starts_at:
        return []  # what agendas_to_issue would say, without reading the whole meeting
    invitations = await store.load_invitations(conn, meeting.meeting_id)
    issued = await store.issued_revisions(conn, meeting.meeting_id)
    issues = agendas_to_issue(meeting, table, invitations, issued, changed, now)
    if not issues:
        return []
    wanted = {sid for inv in invitations.invitations for sid in inv.situation_ids()}
    rows = {r.situation_id: r for r in await store.agenda_rows(conn, sorted(wanted, key=str))}
    entries = {sid: AgendaEntry(situation_id=sid, priority=cast(Priority, r.priority),
                                arrived_at=r.opened_at) for sid, r in rows.items()}
    out: list[AgendaIssued] = []
    for issue in issues:
        ordered = agenda_for(invitations, issue.agency_id, entries)
        items = tuple(
            AgendaItem(position=i, situation_id=e.situation_id, priority=e.priority,
                       summary=SituationSummary.model_validate_json(rows[e.situation_id].summary_json))
            for i, e in enumerate(ordered, 1))
        out.append(AgendaIssued(
            meeting_id=meeting.meeting_id, agency_id=issue.agency_id,
            kind="update" if issue.is_update else "first", revision=issue.revision,
            items=items, issued_at=now))
        await store.record_issued(conn, meeting.meeting_id, issue.agency_id, issue.revision, now)
    return out


class Handlers:
    """The two consumers' handlers, bound to their dependencies."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _emit(self, events: Sequence[Message], cause: Envelope[Message] | None,
              now: datetime) -> list[OutRecord]:
        return [emit(e, source=SOURCE, cause=cause, time=now) for e in events]

    # -- commande.situations.v1 ------------------------------------------------------------

    async def situation_event(self, conn: Connection, env: Envelope[Message],
                              rec: InRecord) -> Sequence[OutRecord]:
        """Handle one record of the situations stream (our own events are skipped)."""
        if env.source == SOURCE:
            return []
        event = env.event
        if isinstance(event, SituationOpened):
            return await self._opened(conn, env, event)
        if isinstance(event, SituationConcluded):
            await self._concluded_elsewhere(conn, event)
        return []

    async def _opened(self, conn: Connection, env: Envelope[Message],
                      event: SituationOpened) -> list[OutRecord]:
        deps = self.deps
        now = deps.clock.now()
        sid = event.situation_id
        directory = deps.directory.current()
        routed = route(event.summary.municipality, deps.reference, directory)
        if isinstance(routed, Unroutable):
            raise RuleViolation(f"situation {sid} cannot be routed: {routed.code}: {routed.message}")
        if routed.district != event.district:
            raise RuleViolation(f"situation {sid} says {event.district} but its municipality is "
                                f"served by {routed.district}")
        table = routed.table
        # Placed from when convening sees it: after an outage, never on a meeting already past.
        arrival = max(event.opened_at, now)
        brief = SituationBrief(
            situation_id=sid, district=event.district, originating_agency=event.originating_agency,
            priority=event.priority, arrived_at=arrival,
            risk_categories=risk_categories(event.summary.risk_factors))
        state = evolve(INITIAL, event)

        if await store.lock_placement(conn, sid):
            log.info("situation already placed", situation_id=str(sid))
            return []
        # A routine situation's meeting has a deterministic id: no need to look for it.
        existing = [] if event.priority == "routine" else await store.meetings_between(
            conn, table.district, arrival, arrival + URGENT_WINDOW)
        candidate = place(table, brief, existing).meeting
        full: set[UUID] | None = None
        for _ in range(_MAX_OVERFLOW):
            if full is not None and candidate.meeting_id in full:
                candidate = overflow(table, brief, candidate)  # known to be full: no round trip
                continue
            stored = await store.upsert_meeting(
                conn, candidate, candidate.starts_at + deps.settings.meeting_length)
            if stored.situations < deps.settings.meeting_capacity:
                break
            if full is None:  # the first full one: learn which of the next are full too
                full = await store.full_meetings(conn, table.district, stored.slot.starts_at,
                                                 deps.settings.meeting_capacity, _MAX_OVERFLOW)
            candidate = overflow(table, brief, stored.slot)
        else:
            raise RuleViolation(f"no meeting of the {table.district} table has room for {sid}")
        meeting, created = stored.slot, stored.created

        scheduled = decide_schedule(state, meeting, now)
        state = fold(scheduled, state)
        await store.insert_situation(conn, state, event.summary.model_dump_json())
        out: list[Message] = [*scheduled]
        if created:
            ends_at = meeting.starts_at + deps.settings.meeting_length
            out.append(MeetingScheduled(
                meeting_id=meeting.meeting_id, district=meeting.district,
                kind="ad_hoc" if meeting.kind is MeetingKind.ADHOC else "regular",
                starts_at=meeting.starts_at, ends_at=ends_at,
                venue=meeting.location[:_VENUE_MAX], scheduled_at=now))
            await store.insert_timers(
                conn, [agenda_timer(meeting.meeting_id, agenda_due_at(meeting, table))], now)

        participants = select_participants(directory, brief, local_date(meeting.starts_at),
                                           deps.category_sectors)
        joining = join(meeting.meeting_id, stored.invited, sid, participants, now)
        await store.add_situation(conn, meeting.meeting_id, sid, joining)
        by_agency = {p.agency_id: p for p in participants}
        for inv in joining.new:
            p = by_agency[inv.agency_id]
            out.append(ParticipantInvited(
                meeting_id=meeting.meeting_id, invitation_id=inv.invitation_id,
                agency_id=inv.agency_id, reason=_INVITATION_REASON[p.reason],
                situation_ids=inv.situation_ids(), matched_sectors=p.matched_sectors,
                invited_at=now))
        out.extend(await issue_agendas(conn, meeting, table, joining.changed, now))
        log.info("situation scheduled", situation_id=str(sid), meeting_id=str(meeting.meeting_id),
                 new_meeting=created, invited=len(joining.new), events=len(out))
        return self._emit(out, env, now)

    async def _concluded_elsewhere(self, conn: Connection, event: SituationConcluded) -> None:
        state = await store.lock_situation(conn, event.situation_id)
        if state is None or state.status == "concluded":
            return
        try:
            after = evolve(state, event)
        except CommandStale:
            log.warning("conclusion does not fit the situation", situation_id=str(event.situation_id))
            return
        now = self.deps.clock.now()
        await store.save_situation(conn, after, state.version, now)
        await self._settle_timers(conn, [event], after, now)

    # -- commande.table-actions.v1 ---------------------------------------------------------

    async def command(self, conn: Connection, env: Envelope[Message],
                      rec: InRecord) -> Sequence[OutRecord]:
        """Decide one command: its facts, or a ``CommandRejected`` with every reason."""
        cmd = env.event
        now = self.deps.clock.now()
        if isinstance(cmd, RespondToInvitation):
            return await self._answer(conn, env, cmd, now)
        if not isinstance(cmd, SITUATION_COMMANDS):
            return []
        state = await store.lock_situation(conn, cmd.situation_id) or INITIAL
        try:
            table = _NO_TABLE if state.district is None else table_context(
                self.deps.directory.current(), self.deps.reference, state.district, now)
            events = decide(state, cmd, now, table)
        except (CommandRefused, CommandStale) as refused:
            log.info("command rejected", command_type=env.type, situation_id=str(cmd.situation_id),
                     reasons=[r.code for r in refused.reasons])
            return self._emit([command_rejected(
                refused, command_id=env.id, command_type=env.type, target="situation",
                target_id=cmd.situation_id, now=now)], env, now)
        after = fold(events, state)
        await store.save_situation(conn, after, state.version, now)
        await self._settle_timers(conn, events, after, now)
        log.info("command applied", command_type=env.type, situation_id=str(cmd.situation_id),
                 status=after.status, events=len(events))
        return self._emit(events, env, now)

    async def _settle_timers(self, conn: Connection, events: Sequence[SituationEvent],
                             state: SituationState, now: datetime) -> None:
        """Start the timers ``events`` start; cancel the situation's timers that no longer apply."""
        assert state.situation_id is not None
        await store.insert_timers(conn, timers_to_start(events, state, self.deps.policy), now)
        stale = [t.key for t in await store.pending_timers(conn, state.situation_id)
                 if not applies(t, state)]
        await store.settle_timers(conn, stale, "cancelled", now)

    async def _answer(self, conn: Connection, env: Envelope[Message], cmd: RespondToInvitation,
                      now: datetime) -> list[OutRecord]:
        """Record an invited agency's answer (no event: the contracts have none for it)."""
        problem = await self._answer_problem(conn, cmd, now)
        if problem is not None:
            return self._emit([command_rejected(
                problem, command_id=env.id, command_type=env.type, target="meeting",
                target_id=cmd.meeting_id, now=now)], env, now)
        await store.record_answer(conn, cmd.invitation_id, cmd.meeting_id, cmd.actor.agency_id,
                                  cmd.answer, cmd.attendance, now)
        return []

    async def _answer_problem(self, conn: Connection, cmd: RespondToInvitation,
                              now: datetime) -> CommandRefused | CommandStale | None:
        found = await store.invitation(conn, cmd.meeting_id, cmd.invitation_id)
        if found is None:
            return CommandStale(reason("unknown_meeting", "no meeting has this id", "meeting_id"))
        starts_at, invited_agency = found
        if invited_agency is None:
            return CommandStale(reason("unknown_invitation",
                                       "this meeting has no invitation with this id",
                                       "invitation_id"))
        if invited_agency != cmd.actor.agency_id:
            return CommandRefused(reason("not_own_invitation",
                                         "an agency may answer only its own invitation", "actor"))
        if now >= starts_at:
            return CommandStale(reason("meeting_started",
                                       "the meeting has started; tell the chair instead"))
        return None

