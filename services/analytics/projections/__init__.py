"""Projections: pure folds over events, keyed by situation id, and what is built from them.

Each projection is a :class:`Projection`: a per-key ``fold(state, envelope) -> state`` (pure, frozen
state) and the topics it needs. :class:`Keyed` is the smallest possible shell around a fold: a
dict from situation id to state, as a live read model keeps one row per situation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.topics import SITUATIONS, TopicSpec
from services.analytics.projections import facts, timeline

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Projection(Generic[S]):
    """A named fold and the registry topics it reads."""

    name: str
    fold: Callable[[S | None, Envelope[Message]], S | None]
    topics: tuple[TopicSpec, ...]
    description: str
    folds: frozenset[str] | None = None
    """The ``ce_type`` values the fold reads (``None``: any); a replay skips the others' bodies."""


class Keyed(Generic[S]):
    """Applies a per-situation fold to a stream: ``states[situation_id] = fold(old, envelope)``."""

    def __init__(self, fold: Callable[[S | None, Envelope[Message]], S | None]) -> None:
        self._fold = fold
        self._states: dict[UUID, S] = {}

    def apply(self, envelope: Envelope[Message]) -> None:
        """Fold one event into its situation's state (events without a situation are ignored)."""
        key = envelope.subject
        if key is None:
            key = getattr(envelope.event, "situation_id", None)
            if not isinstance(key, UUID):
                return
        new = self._fold(self._states.get(key), envelope)
        if new is not None:
            self._states[key] = new

    def done(self) -> Keyed[S]:
        """What a replay's worker sends back: the states themselves."""
        return self

    def isdisjoint(self, other: Keyed[S]) -> bool:
        """Whether ``other`` folded none of these situations."""
        return self._states.keys().isdisjoint(other._states)

    def update(self, other: Keyed[S]) -> None:
        """Hold ``other``'s situations too (folded by another reader, of other situations)."""
        self._states.update(other._states)

    def states(self) -> Iterator[S]:
        """Every state, in situation-id order (deterministic)."""
        for key in sorted(self._states):
            yield self._states[key]

    def __len__(self) -> int:
        return len(self._states)


FACTS: Projection[facts.SituationFacts] = Projection(
    "facts", facts.fold, (SITUATIONS,), "de-identified facts per situation", facts.FOLDED)
TIMELINE: Projection[timeline.Timeline] = Projection(
    "timeline", timeline.fold, (SITUATIONS,), "per-situation timeline")

PROJECTIONS: tuple[str, ...] = ("timeline", "provincial", "statistics")
"""The names ``commande replay --projection`` accepts (provincial and statistics fold FACTS)."""
