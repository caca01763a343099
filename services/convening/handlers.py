"""The thin shell of convening: decode → load state → pure core → save + emit (outbox).

Two consumers call in here, each inside the runtime's transaction (inbox row, our writes and the
outbox rows commit together):

* :meth:`Handlers.situation_events` (group ``convening``, ``commande.situations.v1``, a whole
  consumer batch at once): each ``SituationOpened`` is routed, placed on a meeting, its
  participants invited, agendas issued when due, set-wise for the batch; a
  ``SituationConcluded`` from another service (a withdrawal) closes our view.
* :meth:`Handlers.command` (group ``convening-commands``, ``commande.table-actions.v1``): the
  situation state machine decides; the facts go to the situations topic, a refusal is a
  ``CommandRejected`` on the meetings topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from directory import DirectoryHolder
from directory.model import Directory, TableSettings
from schemas.base import Message, Priority
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.envelope import Envelope
from schemas.errors import RuleViolation
from schemas.meetings import (
    AgendaIssued,
    AgendaItem,
    AgendaMeeting,
    InvitationReason,
    MeetingScheduled,
    ParticipantInvited,
)
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.referrals import SituationSummary
from schemas.situations import SituationConcluded, SituationEvent, SituationOpened
from services.convening import store
from services.convening.agenda import (
    AgendaEntry,
    AgendaIssue,
    Issued,
    agenda_due_at,
    agenda_for,
    agendas_to_issue,
)
from services.convening.invitations import MeetingInvitations, invite
from services.convening.model import InviteReason, MeetingKind, MeetingSlot, Participant, SituationBrief
from services.convening.participants import select_participants
from services.convening.placement import Calendar, Missing, NoRoom, Participants, Placed, place_all
from services.convening.refusals import CommandRefused, CommandStale, command_rejected, reason
from services.convening.routing import Unroutable, risk_categories, route
from services.convening.scheduling import URGENT_WINDOW, next_regular_meeting
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
from services.convening.timers import SlaPolicy, Timer, agenda_timer, applies, timers_to_start
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.events import emit_all
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

SOURCE = "/commande/convening"
SITUATION_COMMANDS = (RecordAerDecision, AssignAgencies, RespondToAssignment, RecordIntervention,
                      ConcludeSituation, ReopenSituation)
_INVITATION_REASON: Mapping[InviteReason, InvitationReason] = {
    InviteReason.DISTRICT_CMB: "district_cmb",
    InviteReason.ORIGINATING_AGENCY: "originating_agency",
    InviteReason.SECTOR_MATCH: "sector_match",
}
_NO_TABLE = TableContext(district="", chair_agency_id="", members=frozenset(),
                         identity_release="filter_4", conclusions=frozenset())
_VENUE_MAX = 280
_WIDEN = timedelta(days=28)
"""How much further the calendar is read when placement needs a meeting beyond it."""

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
                        window: timedelta, now: datetime) -> tuple[list[AgendaIssued], datetime | None]:
    """Issue the agendas due at ``now`` (first issues, and the updates whose window has ended);
    returns them and when the agenda timer must look again (``None``: nothing waits).

    Hold the placement lock: invitations must not grow meanwhile.
    """
    if now < agenda_due_at(meeting, table) or now >= meeting.starts_at:
        return [], None  # what agendas_to_issue would say, without reading the whole meeting
    invitations = await store.load_invitations(conn, meeting.meeting_id)
    issued = (await store.issued_of(conn, [meeting.meeting_id]))[meeting.meeting_id]
    plan = agendas_to_issue(meeting, table, invitations, issued, (), now, window)
    if not plan.issues:
        return [], plan.wake_at
    wanted = {sid for inv in invitations.invitations for sid in inv.situation_ids()}
    rows = {r.situation_id: r for r in await store.agenda_rows(conn, sorted(wanted, key=str))}
    ends = await store.meeting_ends(conn, [meeting.meeting_id])
    out = agendas(meeting, ends[meeting.meeting_id], plan.issues, invitations, issued, rows, now)
    await store.record_issued_many(conn, {(meeting.meeting_id, e.agency_id): (e.revision, _ids(e))
                                          for e in out}, now)
    return out, plan.wake_at


def _ids(agenda: AgendaIssued) -> tuple[UUID, ...]:
    return tuple(i.situation_id for i in agenda.items)


def agendas(meeting: MeetingSlot, ends_at: datetime, issues: Iterable[AgendaIssue],
            invitations: MeetingInvitations, had: Mapping[str, Issued],
            rows: Mapping[UUID, store.AgendaRow], now: datetime) -> list[AgendaIssued]:
    """The ``AgendaIssued`` of ``issues``: each participant's ordered agenda, the meeting's time
    and place, and on an update what it adds to the revision the participant ``had`` (pure)."""
    facts = AgendaMeeting(
        district=meeting.district,
        kind="ad_hoc" if meeting.kind is MeetingKind.ADHOC else "regular",
        starts_at=meeting.starts_at, ends_at=ends_at, venue=meeting.location[:_VENUE_MAX])
    wanted = {sid for inv in invitations.invitations for sid in inv.situation_ids()}
    entries = {sid: AgendaEntry(situation_id=sid, priority=cast(Priority, rows[sid].priority),
                                arrived_at=rows[sid].opened_at) for sid in wanted if sid in rows}
    out: list[AgendaIssued] = []
    for issue in issues:
        ordered = agenda_for(invitations, issue.agency_id, entries)
        items = tuple(
            AgendaItem(position=i, situation_id=e.situation_id, priority=e.priority,
                       summary=SituationSummary.model_validate_json(rows[e.situation_id].summary_json))
            for i, e in enumerate(ordered, 1))
        before = had[issue.agency_id].items if issue.is_update and issue.agency_id in had else None
        out.append(AgendaIssued(
            meeting_id=meeting.meeting_id, agency_id=issue.agency_id,
            kind="update" if issue.is_update else "first", revision=issue.revision,
            items=items, issued_at=now, meeting=facts,
            added=() if before is None else tuple(i.situation_id for i in items
                                                  if i.situation_id not in before)))
    return out


class Handlers:
    """The two consumers' handlers, bound to their dependencies."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _emit(self, events: Sequence[Message], cause: Envelope[Message] | None,
              now: datetime) -> list[OutRecord]:
        return emit_all(events, source=SOURCE, cause=cause, time=now)

    # -- commande.situations.v1 ------------------------------------------------------------

    async def situation_event(self, conn: Connection, env: Envelope[Message],
                              rec: InRecord) -> Sequence[OutRecord]:
        """Handle one record of the situations stream (our own events are skipped)."""
        return await self.situation_events(conn, [(env, rec)])

    async def situation_events(self, conn: Connection,
                               items: Sequence[tuple[Envelope[Message], InRecord]]
                               ) -> Sequence[OutRecord]:
        """The situations consumer's batch handler (one transaction): the ``SituationOpened`` of
        situations that occur once in the batch are placed together (:meth:`_opened`); the
        other records then go one by one, in order, so a situation's records stay in order
        (they are all in one of the two groups). Our own events are skipped."""
        theirs = [env for env, _ in items if env.source != SOURCE]
        counts = Counter(getattr(env.event, "situation_id", None) for env in theirs)

        def together(env: Envelope[Message]) -> bool:
            return isinstance(env.event, SituationOpened) and counts[env.event.situation_id] == 1

        out = await self._opened(conn, [env for env in theirs if together(env)])
        for env in theirs:
            if together(env):
                continue
            if isinstance(env.event, SituationOpened):
                out.extend(await self._opened(conn, [env]))
            elif isinstance(env.event, SituationConcluded):
                await self._concluded_elsewhere(conn, env.event)
        return out

    def _brief(self, event: SituationOpened, directory: Directory,
               now: datetime) -> tuple[TableSettings, SituationBrief]:
        sid = event.situation_id
        routed = route(event.summary.municipality, self.deps.reference, directory)
        if isinstance(routed, Unroutable):
            raise RuleViolation(f"situation {sid} cannot be routed: {routed.code}: {routed.message}")
        if routed.district != event.district:
            raise RuleViolation(f"situation {sid} says {event.district} but its municipality is "
                                f"served by {routed.district}")
        # Placed from when convening sees it: after an outage, never on a meeting already past.
        return routed.table, SituationBrief(
            situation_id=sid, district=event.district, originating_agency=event.originating_agency,
            priority=event.priority, arrived_at=max(event.opened_at, now),
            risk_categories=risk_categories(event.summary.risk_factors))

    async def _opened(self, conn: Connection, envs: Sequence[Envelope[Message]]) -> list[OutRecord]:
        """Place distinct situations in order, under the placement lock, set-wise: one read of
        the calendar, the pure placement (:func:`place_all`), one write per table."""
        if not envs:
            return []
        deps = self.deps
        now = deps.clock.now()
        directory = deps.directory.current()
        opened = [(env, cast(SituationOpened, env.event)) for env in envs]
        briefs = {e.situation_id: self._brief(e, directory, now) for _, e in opened}

        await store.lock_placement(conn)
        known = await store.known_situations(conn, list(briefs))
        for sid in known:
            log.info("situation already placed", situation_id=str(sid))
        todo = [(env, e) for env, e in opened if e.situation_id not in known]
        if not todo:
            return []
        tables = {t.district: t for t, _ in briefs.values()}

        def participants(brief: SituationBrief, slot: MeetingSlot) -> Sequence[Participant]:
            return select_participants(directory, brief, local_date(slot.starts_at),
                                       deps.category_sectors)

        placed = await self._place(conn, tables, [briefs[e.situation_id][1] for _, e in todo],
                                   participants, now)
        return await self._book(conn, todo, placed, tables, now)

    async def _place(self, conn: Connection, tables: Mapping[str, TableSettings],
                     briefs: Sequence[SituationBrief], participants: Participants,
                     now: datetime) -> list[Placed]:
        """Read the calendar the briefs need (more if placement asks) and place them."""
        windows: dict[str, tuple[datetime, datetime]] = {}
        for b in briefs:
            table = tables[b.district]
            last = max(b.arrived_at + URGENT_WINDOW, next_regular_meeting(table, b.arrived_at))
            lo, hi = windows.get(b.district, (b.arrived_at, last))
            windows[b.district] = (min(lo, b.arrived_at), max(hi, last))
        while True:
            booked = await store.meetings_in(conn, [(d, lo, hi) for d, (lo, hi) in windows.items()])
            calendar = Calendar(dict(windows), {b.slot.meeting_id: b for b in booked})
            result = place_all(calendar, tables, briefs, self.deps.settings.meeting_capacity,
                               participants, now)
            if isinstance(result, Missing):  # read a wider window, place again from the start
                lo, hi = windows[result.district]
                windows[result.district] = (min(lo, result.at),
                                            max(hi, result.at) + max(hi - lo, _WIDEN))
                continue
            if isinstance(result, NoRoom):
                district = next(b.district for b in briefs if b.situation_id == result.situation_id)
                raise RuleViolation(
                    f"no meeting of the {district} table has room for {result.situation_id}")
            return result[0]

    async def _book(self, conn: Connection, todo: Sequence[tuple[Envelope[Message], SituationOpened]],
                    placed: Sequence[Placed], tables: Mapping[str, TableSettings],
                    now: datetime) -> list[OutRecord]:
        """Write the placements set-wise and emit, per situation in order, what it decided."""
        deps = self.deps
        due = list(dict.fromkeys(
            p.meeting.meeting_id for p in placed
            if agenda_due_at(p.meeting, tables[p.meeting.district]) <= now < p.meeting.starts_at))
        invitations = await store.load_invitations_of(conn, due) if due else {}
        issued = await store.issued_of(conn, due) if due else {}
        ends = await store.meeting_ends(conn, due) if due else {}
        window = deps.settings.agenda_update_window
        rows = {r.situation_id: r for r in await store.agenda_rows_of(conn, due)} if due else {}
        situations: list[store.NewSituation] = []
        meetings: list[store.NewMeeting] = []
        timers: list[Timer] = []
        revisions: dict[tuple[UUID, str], tuple[int, tuple[UUID, ...]]] = {}
        out: list[OutRecord] = []
        for (env, event), p in zip(todo, placed, strict=True):
            meeting, table, sid = p.meeting, tables[p.meeting.district], event.situation_id
            state = evolve(INITIAL, event)
            scheduled = decide_schedule(state, meeting, now)
            state = fold(scheduled, state)
            summary_json = event.summary.model_dump_json()
            situations.append(store.NewSituation(state, summary_json))
            events: list[Message] = [*scheduled]
            if p.created:
                ends_at = ends[meeting.meeting_id] = meeting.starts_at + deps.settings.meeting_length
                meetings.append(store.NewMeeting(meeting, ends_at))
                timers.append(agenda_timer(meeting.meeting_id, agenda_due_at(meeting, table)))
                events.append(MeetingScheduled(
                    meeting_id=meeting.meeting_id, district=meeting.district,
                    kind="ad_hoc" if meeting.kind is MeetingKind.ADHOC else "regular",
                    starts_at=meeting.starts_at, ends_at=ends_at,
                    venue=meeting.location[:_VENUE_MAX], scheduled_at=now))
            by_agency = {x.agency_id: x for x in p.participants}
            for inv in p.joining.new:
                x = by_agency[inv.agency_id]
                events.append(ParticipantInvited(
                    meeting_id=meeting.meeting_id, invitation_id=inv.invitation_id,
                    agency_id=inv.agency_id, reason=_INVITATION_REASON[x.reason],
                    situation_ids=inv.situation_ids(), matched_sectors=x.matched_sectors,
                    invited_at=now))
            if meeting.meeting_id in invitations:  # its agendas are due: issue what changed
                assert state.opened_at is not None
                rows[sid] = store.AgendaRow(sid, event.priority, state.opened_at, summary_json)
                mid = meeting.meeting_id
                invitations[mid] = invite(invitations[mid], sid, p.participants, now).invitations
                plan = agendas_to_issue(meeting, table, invitations[mid], issued[mid],
                                        p.joining.changed, now, window)
                fresh = agendas(meeting, ends[mid], plan.issues, invitations[mid], issued[mid],
                                rows, now)
                events.extend(fresh)
                for agenda in fresh:
                    revisions[mid, agenda.agency_id] = (agenda.revision, _ids(agenda))
                    issued[mid][agenda.agency_id] = Issued(agenda.revision, now, frozenset(_ids(agenda)))
                for agency in plan.deferred:
                    issued[mid][agency] = replace(issued[mid][agency], pending=True)
            log.info("situation scheduled", situation_id=str(sid),
                     meeting_id=str(meeting.meeting_id), new_meeting=p.created,
                     invited=len(p.joining.new), events=len(events))
            out.extend(self._emit(events, env, now))
        await store.insert_situations(conn, situations)
        await store.insert_meetings(conn, meetings)
        await store.insert_timers(conn, timers, now)
        await store.add_situations(conn, [(p.meeting.meeting_id, p.situation_id, p.joining)
                                          for p in placed])
        await store.record_issued_many(conn, revisions, now)
        waiting = [(mid, agency) for mid, by_agency in issued.items()
                   for agency, last in by_agency.items() if last.pending]
        await store.mark_pending(conn, waiting, now)
        for mid in dict.fromkeys(mid for mid, _ in waiting):
            wake = min(last.issued_at for last in issued[mid].values() if last.pending) + window
            await store.arm_agenda_timer(conn, mid, wake, now)
        return out

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
                target_id=cmd.situation_id, now=now, actor=cmd.actor)], env, now)
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
                target_id=cmd.meeting_id, now=now, actor=cmd.actor)], env, now)
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

