"""A replay read in parts gives what one read of everything gives.

The stores of readers of disjoint situations (and requests) give back parts that merge into the
part of one store that read everything; parts of overlapping keys refuse to merge; the
partitions are shared out among the workers whole, in groups of about equal records.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar, cast
from uuid import UUID

import pytest
from aiokafka import TopicPartition

from schemas.decoder import Decoder, Fact
from schemas.errors import ConfigurationError, TransientError
from schemas.topics import EVENT_REQUESTS, SITUATIONS
from services.analytics.projections.facts import Folder
from services.analytics.projections.provincial import numbered, rows
from services.analytics.projections.statistics import Statistics, merge
from services.analytics.replay import (
    PARALLEL_FROM,
    ReplayReport,
    Store,
    _in_workers,
    _merged,
    partition_groups,
    resolve,
    worker_count,
)
from services.analytics.run import FOLDED, agency_types
from services.analytics.simulate import Plan, generate
from services.analytics.stores import ProvincialStore, Rows, StatisticsStore, Summary
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit

TYPES = agency_types()
AnyStore = TypeVar("AnyStore", StatisticsStore, ProvincialStore)


def _facts() -> list[Fact]:
    decoders = {t.name: Decoder(t.name, FOLDED) for t in (SITUATIONS, EVENT_REQUESTS)}
    out = []
    for timed in generate(Plan(situations=400, seed=5, event_requests=200)):
        rec = timed.record
        if rec.topic in decoders:
            fact = decoders[rec.topic].fact(rec.headers, rec.value)
            if fact is not None:
                out.append(fact)
    return out


FACTS = _facts()


def _key(fact: Fact) -> UUID:
    """What a record is keyed (and so partitioned) by: the request, else the situation."""
    event = fact.event
    request = getattr(event, "request_id", None)
    if isinstance(request, UUID):
        return request
    assert fact.subject is not None
    return fact.subject


def _apply(store: StatisticsStore | ProvincialStore, facts: Iterable[Fact]) -> None:
    for fact in facts:
        store.apply(fact)


def _parts(make: Callable[[], AnyStore], groups: int) -> list[AnyStore]:
    """``groups`` stores that read disjoint keys (as readers of disjoint partitions do)."""
    stores = [make() for _ in range(groups)]
    for fact in FACTS:
        stores[_key(fact).int % groups].apply(fact)
    return stores


def test_the_statistics_of_disjoint_parts_merge_into_those_of_everything() -> None:
    whole = StatisticsStore(TYPES)
    _apply(whole, FACTS)
    expected = whole.done()
    parts = [s.done() for s in _parts(lambda: StatisticsStore(TYPES), 3)]
    assert all(isinstance(p, Summary) for p in parts)
    merged = pickle.loads(pickle.dumps(parts[0]))  # noqa: S301 (as a worker's part arrives)
    for part in parts[1:]:
        assert merged.isdisjoint(part)
        merged.update(pickle.loads(pickle.dumps(part)))  # noqa: S301
    assert merged == expected
    # every kind of field took part: counts, sorted hours, tables, a mapping of tables
    assert expected.statistics.situations == 400
    assert expected.asked.requests > 0
    assert expected.statistics.mobilization_hours
    assert expected.statistics.sla_breached_by_kind
    assert all(parts_of.statistics.situations < 400 for parts_of in parts)


def test_merge_adds_counts_merges_sorted_values_and_keeps_the_tables_order() -> None:
    a = Statistics(situations=2, counts={"district": {("burlington",): 2}, "month": {}},
                   mobilization_hours=(1.0, 5.0), sla_breached_by_kind={"first_contact": 1})
    b = Statistics(situations=3, counts={"district": {("acton",): 1, ("burlington",): 2},
                                         "month": {("2026-01",): 3}},
                   mobilization_hours=(2.0,), aer_confirmed=2,
                   sla_breached_by_kind={"first_contact": 1, "lead_acceptance": 1})
    assert merge(a, b) == Statistics(
        situations=5,
        counts={"district": {("acton",): 1, ("burlington",): 4}, "month": {("2026-01",): 3}},
        mobilization_hours=(1.0, 2.0, 5.0), aer_confirmed=2,
        sla_breached_by_kind={"first_contact": 2, "lead_acceptance": 1})
    assert list(merge(a, b).counts) == ["district", "month"]


def test_parts_of_the_same_situation_do_not_merge() -> None:
    one, two = StatisticsStore(TYPES), StatisticsStore(TYPES)
    _apply(one, FACTS[:len(FACTS) // 2])
    _apply(two, FACTS[len(FACTS) // 2:])
    first, second = one.done(), two.done()
    assert not first.isdisjoint(second)
    before = dataclasses.replace(first, situations=set(first.situations))
    assert _merged([(first, ReplayReport(records=1)), (second, ReplayReport(records=1))]) is None
    assert first.situations == before.situations
    assert first.statistics == before.statistics


def test_the_provincial_rows_of_disjoint_parts_number_as_those_of_everything() -> None:
    folder = Folder()
    for fact in FACTS:
        folder.apply(fact)
    expected = rows(folder.states(), TYPES)
    parts = [s.done() for s in _parts(lambda: ProvincialStore(TYPES), 4)]
    assert all(isinstance(p, Rows) for p in parts)
    merged = parts[0]
    for part in parts[1:]:
        assert merged.isdisjoint(part)
        merged.update(part)
    assert numbered(merged.rows) == expected
    assert len(expected) > 100


def test_the_reports_of_the_workers_add_up() -> None:
    a = ReplayReport(ranges={"t:0": (0, 5)}, records=5, events=4, skipped=1)
    a.undecodable["InvalidBody"] += 1
    b = ReplayReport(records=7, events=7, skipped=2)
    b.undecodable["InvalidBody"] += 2
    b.undecodable["MissingHeader"] += 1
    a.add(b)
    assert (a.records, a.events, a.skipped) == (12, 11, 3)
    assert dict(a.undecodable) == {"InvalidBody": 3, "MissingHeader": 1}
    assert a.ranges == {"t:0": (0, 5)}


def _tp(p: int) -> TopicPartition:
    return TopicPartition("commande.situations.v1", p)


def test_partitions_are_shared_out_whole_in_groups_of_about_equal_records() -> None:
    stops = {_tp(0): (0, 100), _tp(1): (10, 70), _tp(2): (0, 50), _tp(3): (5, 5),
             _tp(4): (0, 40), _tp(5): (0, 30)}
    groups = partition_groups(stops, 2)
    assert groups == [{_tp(0): (0, 100), _tp(4): (0, 40)},
                      {_tp(1): (10, 70), _tp(2): (0, 50), _tp(5): (0, 30)}]
    assert [sum(b - a for a, b in g.values()) for g in groups] == [140, 140]
    # never more groups than partitions holding records; an empty partition is read by none
    assert len(partition_groups(stops, 12)) == 5
    assert all(len(g) == 1 for g in partition_groups(stops, 12))
    assert partition_groups({_tp(0): (3, 3)}, 2) == []
    assert partition_groups(stops, 1) == [{tp: r for tp, r in stops.items() if r[0] < r[1]}]


def test_how_many_workers_read_a_range() -> None:
    assert worker_count(3, 10) == 3
    assert worker_count(None, PARALLEL_FROM - 1) == 1
    assert worker_count(None, PARALLEL_FROM) == len(os.sched_getaffinity(0))
    with pytest.raises(ConfigurationError, match="at least 1 worker"):
        worker_count(0, 10)


def _one_group() -> list[dict[TopicPartition, tuple[int, int]]]:
    return [{_tp(0): (0, 10)}]


async def test_a_worker_that_fails_raises_its_error_in_the_replay() -> None:
    # The store's factory raises in the worker process before any connection: the worker sends
    # its error back and the replay raises it.
    with pytest.raises(ValueError, match="invalid literal for int"):
        await _in_workers(Settings(), resolve(["commande.situations.v1"]), "fact", None,
                          _one_group(), cast("Callable[[], Store[Fact, Summary]]",
                                             partial(int, "not a number")), None, 10, 1.0)


async def test_a_worker_that_dies_without_its_part_is_a_transient_error() -> None:
    with pytest.raises(TransientError, match=r"exit status 3\) before sending its part; "
                       "replay in one process with --workers 1"):
        await _in_workers(Settings(), resolve(["commande.situations.v1"]), "fact", None,
                          _one_group(), partial(os._exit, 3), None, 10, 1.0)
