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

Each handler gets its transaction's store from ``stores(conn)`` (a
:class:`~services.convening.ports.ConveningStore`; PostgreSQL unless a test passes its fake) and
only loads, calls the pure core, saves and emits.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from directory import DirectoryHolder
from directory.model import TableSettings
from schemas.base import Message
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
from schemas.meetings import AgendaIssued
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.situations import SituationConcluded, SituationEvent, SituationOpened
from services.convening.agenda import agenda_due_at, agendas, agendas_to_issue, issued_ids
from services.convening.answers import check_answer
from services.convening.booking import (
    NOTHING_DUE,
    DueAgendas,
    Unloaded,
    book,
    described_meetings,
    due_meetings,
)
from services.convening.invitations import MeetingInvitations
from services.convening.model import MeetingSlot, Participant, SituationBrief
from services.convening.participants import participants_of
from services.convening.placement import (
    Calendar,
    Missing,
    NoRoom,
    Participants,
    Placed,
    place_all,
    reach_of,
    reaching,
    widened,
    windows_for,
)
from services.convening.ports import ConveningStore, Stores
from services.convening.refusals import command_rejected
from services.convening.routing import brief
from services.convening.settings import ConveningSettings
from services.convening.situation import (
    INITIAL,
    NO_TABLE,
    SituationState,
    decide,
    evolve,
    table_context,
)
from services.convening.store import PgConveningStore
from services.convening.timers import SlaPolicy, applies, timers_to_start
from services.runtime.clock import Clock
from services.runtime.cooperative import cooperatively
from services.runtime.db import Connection
from services.runtime.decision import CommandRefused, CommandStale
from services.runtime.events import emit_all
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger
from services.runtime.metrics import METRICS

SOURCE = "/commande/convening"
SITUATION_COMMANDS = (RecordAerDecision, AssignAgencies, RespondToAssignment, RecordIntervention,
                      ConcludeSituation, ReopenSituation)

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


async def issue_agendas(store: ConveningStore, meeting: MeetingSlot, table: TableSettings,
                        window: timedelta, now: datetime) -> tuple[list[AgendaIssued], datetime | None]:
    """Issue the agendas due at ``now`` (first issues, and the updates whose window has ended);
    returns them and when the agenda timer must look again (``None``: nothing waits).

    Hold the meeting's table's placement lock: invitations must not grow meanwhile.
    """
    if now < agenda_due_at(meeting, table) or now >= meeting.starts_at:
        return [], None  # what agendas_to_issue would say, without reading the whole meeting
    invitations = await store.load_invitations(meeting.meeting_id)
    issued = (await store.issued_of([meeting.meeting_id]))[meeting.meeting_id]
    plan = agendas_to_issue(meeting, table, invitations.agencies(), issued, (), now, window)
    if not plan.issues:
        return [], plan.wake_at
    wanted = {sid for inv in invitations.invitations for sid in inv.situation_ids()}
    rows = {r.situation_id: r for r in await store.agenda_rows(sorted(wanted, key=str))}
    ends = await store.meeting_ends([meeting.meeting_id])
    out = agendas(meeting, ends[meeting.meeting_id], plan.issues, invitations, issued, rows, now)
    await store.record_issued_many({(meeting.meeting_id, e.agency_id): (e.revision, issued_ids(e))
                                    for e in out}, now)
    return out, plan.wake_at


class Handlers:
    """The two consumers' handlers, bound to their dependencies and to how they get the store
    of a transaction (``stores``, :class:`PgConveningStore` unless a test passes its fake)."""

    def __init__(self, deps: Deps, stores: Stores = PgConveningStore) -> None:
        self.deps = deps
        self._stores = stores
        self._reach: dict[str, datetime] = {}
        """Per district, the latest meeting start the last routine placement there used: the
        next batch reads its calendar that far at once (:func:`reaching`; a hint, never a
        fact)."""

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
        store = self._stores(conn)
        theirs = [env for env, _ in items if env.source != SOURCE]
        counts = Counter(getattr(env.event, "situation_id", None) for env in theirs)

        def together(env: Envelope[Message]) -> bool:
            return isinstance(env.event, SituationOpened) and counts[env.event.situation_id] == 1

        out = await self._opened(store, [env for env in theirs if together(env)])
        for env in theirs:
            if together(env):
                continue
            if isinstance(env.event, SituationOpened):
                out.extend(await self._opened(store, [env]))
            elif isinstance(env.event, SituationConcluded):
                await self._concluded_elsewhere(store, env.event)
        return out

    async def _opened(self, store: ConveningStore,
                      envs: Sequence[Envelope[Message]]) -> list[OutRecord]:
        """Place distinct situations in order, under their tables' placement locks, set-wise:
        one read of the calendar, the pure placement (:func:`place_all`) and booking
        (:func:`book`), one write per table."""
        if not envs:
            return []
        deps = self.deps
        now = deps.clock.now()
        directory = deps.directory.current()
        opened: list[tuple[Envelope[Message], SituationOpened]] = [
            (env, env.event) for env in envs if isinstance(env.event, SituationOpened)]
        briefs = {e.situation_id: brief(e, deps.reference, directory, now)
                  async for _, e in cooperatively(opened)}

        tables = {t.district: t for t, _ in briefs.values()}
        waiting_since = time.monotonic()
        await store.lock_placement(tables)
        batch = "urgent" if any(e.priority == "urgent" for _, e in opened) else "routine"
        METRICS.placement_wait.labels(batch).observe(time.monotonic() - waiting_since)
        known = await store.known_situations(list(briefs))
        for sid in known:
            log.info("situation already placed", situation_id=str(sid))
        todo = [(env, e) for env, e in opened if e.situation_id not in known]
        if not todo:
            return []

        ask = participants_of(directory, deps.category_sectors)

        def participants(b: SituationBrief, slot: MeetingSlot) -> Sequence[Participant]:
            return ask(b, local_date(slot.starts_at))

        placed, calendar = await self._place(
            store, tables, [briefs[e.situation_id][1] for _, e in todo], participants, now)
        return await self._book(store, todo, placed, calendar, tables, now)

    async def _place(self, store: ConveningStore, tables: Mapping[str, TableSettings],
                     briefs: Sequence[SituationBrief], participants: Participants,
                     now: datetime) -> tuple[list[Placed], Calendar]:
        """Read the calendar the briefs need (more if placement asks) and place them; the
        placements, and the calendar read."""
        windows = reaching(windows_for(tables, briefs), self._reach)
        capacity = self.deps.settings.meeting_capacity
        while True:
            booked = await store.meetings_in([(d, lo, hi) for d, (lo, hi) in windows.items()],
                                             capacity)
            calendar = Calendar(windows, {b.slot.meeting_id: b for b in booked})
            result = place_all(calendar, tables, briefs, capacity, participants, now)
            if isinstance(result, Missing):  # read a wider window, place again from the start
                windows = widened(windows, result)
                continue
            if isinstance(result, NoRoom):
                district = next(b.district for b in briefs if b.situation_id == result.situation_id)
                raise RuleViolation(
                    f"no meeting of the {district} table has room for {result.situation_id}")
            self._reach.update(reach_of(briefs, result[0]))
            return result[0], calendar

    async def _book(self, store: ConveningStore,
                    todo: Sequence[tuple[Envelope[Message], SituationOpened]],
                    placed: Sequence[Placed], calendar: Calendar,
                    tables: Mapping[str, TableSettings], now: datetime) -> list[OutRecord]:
        """Load what the due agendas need, book (:func:`book`), write set-wise, and emit per
        situation in order what it decided. A due meeting's invitations and agenda rows are read
        only when booking issues agendas of it (:class:`~services.convening.booking.Unloaded`)."""
        settings = self.deps.settings
        opened = [e for _, e in todo]
        due = due_meetings(placed, tables, now)
        described = described_meetings(opened, placed, due)
        created = {p.meeting.meeting_id for p in placed if p.created}
        loaded = NOTHING_DUE if not due else DueAgendas(
            # a meeting this batch creates has nothing stored to read: it is loaded as it is
            invitations={mid: MeetingInvitations(meeting_id=mid) for mid in due if mid in created},
            issued=await store.issued_of(due), ends={}, rows={},
            invited={mid: b.invited for mid in due if (b := calendar.meetings.get(mid))})
        if described:
            loaded = replace(loaded, ends=await store.meeting_ends(described))
        while isinstance(booking := book(opened, placed, tables, loaded, settings.meeting_length,
                                          settings.agenda_update_window, now), Unloaded):
            rows = await store.agenda_rows_of(booking.meetings)
            loaded = replace(
                loaded,
                invitations={**loaded.invitations,
                             **await store.load_invitations_of(booking.meetings)},
                rows={**loaded.rows, **{r.situation_id: r for r in rows}})
        await store.record_booking(situations=booking.situations, meetings=booking.meetings,
                                   joined=booking.joined)
        await store.insert_timers(booking.timers, now)
        await store.record_issued_many(booking.revisions, now)
        await store.mark_pending(booking.waiting, now)
        for mid, wake in booking.wake.items():
            await store.arm_agenda_timer(mid, wake, now)
        out: list[OutRecord] = []
        async for (env, _), p, events in cooperatively(
                zip(todo, placed, booking.events, strict=True)):
            log.info("situation scheduled", situation_id=str(p.situation_id),
                     meeting_id=str(p.meeting.meeting_id), new_meeting=p.created,
                     invited=len(p.joining.new), events=len(events))
            out.extend(self._emit(events, env, now))
        return out

    async def _concluded_elsewhere(self, store: ConveningStore, event: SituationConcluded) -> None:
        state = await store.lock_situation(event.situation_id)
        if state is None or state.status == "concluded":
            return
        try:
            after = evolve(state, event)
        except CommandStale:
            log.warning("conclusion does not fit the situation", situation_id=str(event.situation_id))
            return
        now = self.deps.clock.now()
        await store.save_situation(after, state.version, now)
        await self._settle_timers(store, [event], after, now)

    # -- commande.table-actions.v1 ---------------------------------------------------------

    async def command(self, conn: Connection, env: Envelope[Message],
                      rec: InRecord) -> Sequence[OutRecord]:
        """Decide one command: its facts, or a ``CommandRejected`` with every reason."""
        cmd = env.event
        now = self.deps.clock.now()
        store = self._stores(conn)
        if isinstance(cmd, RespondToInvitation):
            return await self._answer(store, env, cmd, now)
        if not isinstance(cmd, SITUATION_COMMANDS):
            return []
        state = await store.lock_situation(cmd.situation_id) or INITIAL
        try:
            table = NO_TABLE if state.district is None else table_context(
                self.deps.directory.current(), self.deps.reference, state.district, now)
            decided = decide(state, cmd, now, table)
        except (CommandRefused, CommandStale) as refused:
            log.info("command rejected", command_type=env.type, situation_id=str(cmd.situation_id),
                     reasons=[r.code for r in refused.reasons])
            return self._emit([command_rejected(
                refused, command_id=env.id, command_type=env.type, target="situation",
                target_id=cmd.situation_id, now=now, actor=cmd.actor)], env, now)
        await store.save_situation(decided.state, state.version, now)
        await self._settle_timers(store, decided.events, decided.state, now)
        log.info("command applied", command_type=env.type, situation_id=str(cmd.situation_id),
                 status=decided.state.status, events=len(decided.events))
        return self._emit(decided.events, env, now)

    async def _settle_timers(self, store: ConveningStore, events: Sequence[SituationEvent],
                             state: SituationState, now: datetime) -> None:
        """Start the timers ``events`` start; cancel the situation's timers that no longer apply."""
        assert state.situation_id is not None
        await store.insert_timers(timers_to_start(events, state, self.deps.policy), now)
        stale = [t.key for t in await store.pending_timers(state.situation_id)
                 if not applies(t, state)]
        await store.settle_timers(stale, "cancelled", now)

    async def _answer(self, store: ConveningStore, env: Envelope[Message],
                      cmd: RespondToInvitation, now: datetime) -> list[OutRecord]:
        """Record an invited agency's answer (no event: the contracts have none for it)."""
        try:
            check_answer(await store.invitation(cmd.meeting_id, cmd.invitation_id),
                         cmd.actor.agency_id, now)
        except (CommandRefused, CommandStale) as refused:
            return self._emit([command_rejected(
                refused, command_id=env.id, command_type=env.type, target="meeting",
                target_id=cmd.meeting_id, now=now, actor=cmd.actor)], env, now)
        await store.record_answer(cmd.invitation_id, cmd.meeting_id, cmd.actor.agency_id,
                                  cmd.answer, cmd.attendance, now)
        return []
