"""What convening's shell needs of its storage: the :class:`ConveningStore` port.

One store instance is bound to one transaction (the runtime's, or the timer loop's), so no
method takes a connection; its timers are rows of the runtime's durable timers.
:class:`~services.convening.store.PgConveningStore` is the real one; the tests'
``InMemoryConveningStore`` passes the same contract suite
(``tests/support/contracts/convening_store.py``), so the handlers and the timer loop can be
unit-tested on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.convening.agenda import AgendaRow, Issued
from services.convening.answers import Found
from services.convening.booking import NewMeeting, NewSituation
from services.convening.invitations import Joining, MeetingInvitations
from services.convening.model import MeetingSlot
from services.convening.placement import Booked
from services.convening.situation import SituationState
from services.convening.timers import Timer
from services.runtime.db import Connection
from services.runtime.timers import Settled, TimerStore

__all__ = ["AgendaRow", "ConveningStore", "NewMeeting", "NewSituation", "Stores"]


class ConveningStore(Protocol):
    """convening's state in one transaction: situations, meetings, invitations, agendas issued,
    invitation answers and timers.

    Locks last until the transaction ends. Placement (meeting choice and creation, invitations,
    agenda issue) holds :meth:`lock_placement` of its tables throughout, before any situation
    lock; a situation's table is its district's, so the two copies of an urgent opening (main
    topic and lane) wait for each other.
    """

    # -- situations ----------------------------------------------------------------------------

    async def lock_situation(self, situation_id: UUID, *,
                             nowait: bool = False) -> SituationState | None:
        """The situation's state, locked; ``None`` if unknown. With ``nowait``, fail at once
        (``asyncpg.LockNotAvailableError``) instead of waiting for another holder."""
        ...

    async def save_situation(self, state: SituationState, previous_version: int,
                             now: datetime) -> None:
        """Store ``state`` over the version it was decided from.

        Raises:
            StaleState: the stored version is not ``previous_version`` (or the situation is
                unknown).
        """
        ...

    async def known_situations(self, situation_ids: Sequence[UUID]) -> set[UUID]:
        """Which of ``situation_ids`` are stored."""
        ...

    async def agenda_rows(self, situation_ids: Sequence[UUID]) -> list[AgendaRow]:
        """Agenda data of the given situations (unknown ids are left out; no order)."""
        ...

    async def agenda_rows_of(self, meeting_ids: Sequence[UUID]) -> list[AgendaRow]:
        """Agenda data of every stored situation on the meetings' agendas (no order)."""
        ...

    # -- meetings and invitations (hold the placement lock) --------------------------------------

    async def lock_placement(self, districts: Iterable[str]) -> None:
        """Serialize placement on the tables of ``districts`` until the transaction ends (a
        placement on another table goes on)."""
        ...

    async def meetings_in(self, windows: Sequence[tuple[str, datetime, datetime]],
                          capacity: int) -> list[Booked]:
        """The meetings of each ``(district, first, last)`` window (start in the closed
        interval), with their situation count and, for a meeting with room (fewer than
        ``capacity`` situations), its invited agencies in invitation order; a full meeting's
        ``invited`` is empty: nothing joins it."""
        ...

    async def read_meeting(self, meeting_id: UUID) -> MeetingSlot | None:
        """The meeting, if it exists."""
        ...

    async def meeting_ends(self, meeting_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        """When each stored meeting of ``meeting_ids`` is planned to end (unknown ones absent)."""
        ...

    async def record_booking(self, *, situations: Sequence[NewSituation] = (),
                             meetings: Sequence[NewMeeting] = (),
                             joined: Sequence[tuple[UUID, UUID, Joining]] = ()) -> None:
        """Record a batch's placements at once, all or none: newly opened ``situations`` and
        new ``meetings`` (known not to exist, under the placement lock), then situations joining
        meetings, ``(meeting_id, situation_id, joining)`` in order: new invitations, every
        participant's agenda entry (one already there is kept), the meetings' situation counts
        (one per tuple; a joined meeting may be one of ``meetings``)."""
        ...

    async def load_invitations(self, meeting_id: UUID) -> MeetingInvitations:
        """Every invitation of the meeting with its situations, in the order participants were
        first invited and situations joined."""
        ...

    async def load_invitations_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, MeetingInvitations]:
        """:meth:`load_invitations` of several meetings (every id has an entry)."""
        ...

    async def invitation(self, meeting_id: UUID, invitation_id: UUID) -> Found:
        """``(meeting start, invited agency or None)``, or ``None`` when there is no such
        meeting (:mod:`services.convening.answers`)."""
        ...

    async def record_answer(self, invitation_id: UUID, meeting_id: UUID, agency_id: str,
                            answer: str, attendance: str | None, now: datetime) -> None:
        """Record (or replace) a participant's answer to its invitation."""
        ...

    async def recorded_answer(self, invitation_id: UUID) -> tuple[str, str | None] | None:
        """The answer and attendance last recorded for the invitation (``None``: none)."""
        ...

    # -- agendas issued --------------------------------------------------------------------------

    async def issued_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, dict[str, Issued]]:
        """What each participant of the meetings last received (every id has an entry)."""
        ...

    async def record_issued_many(self, issued: Mapping[tuple[UUID, str], tuple[int, Sequence[UUID]]],
                                 now: datetime) -> None:
        """Remember the revision and situations last issued per ``(meeting_id, agency_id)``;
        any change that waited is now issued."""
        ...

    async def mark_pending(self, waiting: Sequence[tuple[UUID, str]], now: datetime) -> None:
        """Note that these participants' agendas (already issued) changed and their update waits."""
        ...

    # -- timers ----------------------------------------------------------------------------------

    @property
    def timer_store(self) -> TimerStore:
        """The schema's durable timers (the runtime's, :mod:`services.runtime.timers`), in the
        same transaction: what the runtime's timer loop takes and settles. The methods below are
        the same rows seen as convening's :class:`~services.convening.timers.Timer`
        (:class:`~services.convening.store.ConveningTimers`)."""
        ...

    async def insert_timers(self, timers: Sequence[Timer], now: datetime) -> None:
        """Start timers; one already started (same key, whatever its state) is left as it is."""
        ...

    async def pending_timers(self, aggregate_id: UUID) -> list[Timer]:
        """The pending timers of a situation or meeting (no order)."""
        ...

    async def settle_timers(self, keys: Sequence[str], state: Settled, now: datetime) -> None:
        """Mark pending timers ``fired`` or ``cancelled`` (others are left as they are)."""
        ...

    async def arm_agenda_timer(self, meeting_id: UUID, due_at: datetime, now: datetime) -> None:
        """Make the meeting's agenda timer pending at ``due_at`` (the earlier, if it is pending);
        a parked timer stays parked; one the timer loop is firing right now is left to it (the
        loop then waits for the placement lock and sees what this placement left waiting)."""
        ...


Stores = Callable[[Connection], ConveningStore]
"""How the shell gets the store of a transaction's connection (``PgConveningStore``)."""
