"""The one shape of a service's pure core (ADR 0012).

``decide`` answers a command or an event, given the state and ``now``, with one of:

* :class:`Decided`: the new state to save and the events to emit;
* :class:`Unchanged`: nothing to save; ``code`` says why (for the log), ``events`` is what is
  published again, if anything (the same answer to a repeat);

and refuses a *command* by raising :class:`CommandRefused` (the actor may not, or a rule forbids
it) or :class:`CommandStale` (it does not fit the current state), each carrying every reason.
The shell switches on these alone: ``Decided`` -> save and emit; ``Unchanged`` -> log ``code``
and emit ``events``; a refusal -> the service's refusal event (``CommandRejected``,
``EventRequestCommandRefused``) and nothing saved.

Pure: nothing here imports FastStream, asyncpg or structlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from schemas.base import Message
from schemas.errors import RuleViolation, StaleState
from schemas.referrals import Reason

S = TypeVar("S")
E = TypeVar("E", bound=Message)


@dataclass(frozen=True, slots=True)
class Decided(Generic[S, E]):
    """The new ``state`` to save and the ``events`` to emit (in order); ``E`` is the events'
    type (``Message``, or convening's ``SituationEvent``, which its ``evolve`` folds)."""

    state: S
    events: tuple[E, ...]


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Nothing to save. ``code`` says why (for the log); ``events`` are published again (e.g.
    the first answer to a repeat), usually none."""

    code: str
    events: tuple[Message, ...] = ()


class CommandRefused(RuleViolation):
    """The actor may not do this, or a business rule forbids it (every reason found)."""

    def __init__(self, *reasons: Reason) -> None:
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in reasons))
        self.reasons: tuple[Reason, ...] = reasons


class CommandStale(StaleState):
    """The command (or event) does not fit the aggregate's current state (every reason found)."""

    def __init__(self, *reasons: Reason) -> None:
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in reasons))
        self.reasons: tuple[Reason, ...] = reasons
