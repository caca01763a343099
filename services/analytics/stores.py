"""What a replay folds into, per projection, and what each reader of it gives back to be merged.

A store folds the records of its reader (:meth:`apply`) and, at the end, gives back its part
(:meth:`done`): what the projection needs of the keys it folded, with those keys. A replay in
worker processes merges the parts the workers send back; the parts of disjoint keys merge into
the part one reader of everything would have given (:mod:`services.analytics.replay`).

A part is as small as the projection allows, because it is pickled to the parent: the
statistics send their summary (counts and sorted hours, :func:`~services.analytics.projections.
statistics.merge`), not tens of thousands of situations' facts, which cost more to pickle and
unpickle than to fold; the provincial rows send their unnumbered rows; a timeline sends itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from schemas.decoder import Fact
from services.analytics.projections import event_requests as requests
from services.analytics.projections.event_requests import RequestStatistics
from services.analytics.projections.facts import Folder
from services.analytics.projections.provincial import ProvincialRow, closed_rows
from services.analytics.projections.statistics import Statistics, merge, summarize


@dataclass(slots=True)
class Summary:
    """The statistics of the situations and event requests a reader folded, and which they are."""

    situations: set[int]
    statistics: Statistics
    requests: set[UUID]
    asked: RequestStatistics

    def isdisjoint(self, other: Summary) -> bool:
        """Whether ``other`` counts none of these situations and requests."""
        return self.situations.isdisjoint(other.situations) and self.requests.isdisjoint(
            other.requests)

    def update(self, other: Summary) -> None:
        """Count ``other``'s situations and requests too."""
        self.situations |= other.situations
        self.statistics = merge(self.statistics, other.statistics)
        self.requests |= other.requests
        self.asked = merge(self.asked, other.asked)


class StatisticsStore:
    """Folds situations' facts and event requests; gives back their :class:`Summary`."""

    def __init__(self, agency_types: Mapping[str, str]) -> None:
        self._types = dict(agency_types)
        self._facts = Folder()
        self._requests = requests.ByRequest()

    def apply(self, fact: Fact) -> None:
        """Fold one record into both (each ignores what it does not fold)."""
        self._facts.apply(fact)
        self._requests.apply(fact)

    def done(self) -> Summary:
        """The summary of what was folded."""
        return Summary(self._facts.keys(), summarize(self._facts.drafts(), self._types),
                       self._requests.keys(), requests.summarize(self._requests.states()))


@dataclass(slots=True)
class Rows:
    """The provincial rows of the closed situations a reader folded (unnumbered), and which
    situations it folded."""

    situations: set[int]
    rows: list[ProvincialRow]

    def isdisjoint(self, other: Rows) -> bool:
        """Whether ``other`` folded none of these situations."""
        return self.situations.isdisjoint(other.situations)

    def update(self, other: Rows) -> None:
        """Hold ``other``'s rows too (numbered once all are in: ``provincial.numbered``)."""
        self.situations |= other.situations
        self.rows.extend(other.rows)


class ProvincialStore:
    """Folds situations' facts; gives back their provincial :class:`Rows`."""

    def __init__(self, agency_types: Mapping[str, str]) -> None:
        self._types = dict(agency_types)
        self._facts = Folder()

    def apply(self, fact: Fact) -> None:
        """Fold one record (events of other types are ignored)."""
        self._facts.apply(fact)

    def done(self) -> Rows:
        """The rows of the closed situations, unnumbered."""
        return Rows(self._facts.keys(), closed_rows(self._facts.drafts(), self._types))
