"""The replay's cheaper fold and type skipping change no result.

Skipping the records of types a projection does not fold (after their headers are checked)
must give the states that folding every record through ``from_record`` gives, and the fold's
own ``_replace`` must be ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from schemas.base import Message
from schemas.decoder import Decoder
from schemas.envelope import Envelope, from_record
from schemas.topics import EVENT_REQUESTS, SITUATIONS
from services.analytics.projections import FACTS, TIMELINE, Keyed
from services.analytics.projections import event_requests as er
from services.analytics.projections.facts import SituationFacts, _replace
from services.analytics.projections.timeline import Timeline
from services.analytics.simulate import Plan, generate
from services.analytics.synthetic import TimedRecord

pytestmark = pytest.mark.unit

STREAM: list[TimedRecord] = [r for r in generate(Plan(situations=200, seed=3, event_requests=150))
                             if r.record.topic in (SITUATIONS.name, EVENT_REQUESTS.name)]


def _full() -> list[Envelope[Message]]:
    return [from_record(r.record.headers, r.record.value, topic=r.record.topic) for r in STREAM]


def test_the_stream_has_types_the_projections_skip() -> None:
    types = {e.type for e in _full()}
    assert types - (FACTS.folds or frozenset()) - er.FOLDED
    assert types & (FACTS.folds or frozenset())
    assert types & er.FOLDED


def test_skipping_unfolded_types_gives_the_same_states() -> None:
    everything: Keyed[SituationFacts] = Keyed(FACTS.fold)
    asked = er.ByRequest()
    for envelope in _full():
        everything.apply(envelope)
        asked.apply(envelope)
    wanted = (FACTS.folds or frozenset()) | er.FOLDED
    decoders = {t.name: Decoder(t.name, wanted) for t in (SITUATIONS, EVENT_REQUESTS)}
    skipping: Keyed[SituationFacts] = Keyed(FACTS.fold)
    asked_skipping = er.ByRequest()
    skipped = 0
    for r in STREAM:
        decoded = decoders[r.record.topic].decode(r.record.headers, r.record.value)
        if decoded is None:
            skipped += 1
            continue
        skipping.apply(decoded)
        asked_skipping.apply(decoded)
    assert skipped > 0
    assert list(skipping.states()) == list(everything.states())
    assert list(asked_skipping.states()) == list(asked.states())


def test_the_timeline_folds_every_type() -> None:
    assert TIMELINE.folds is None
    decoder = Decoder(SITUATIONS.name, TIMELINE.folds)
    fast: Keyed[Timeline] = Keyed(TIMELINE.fold)
    full: Keyed[Timeline] = Keyed(TIMELINE.fold)
    for r, envelope in zip(STREAM, _full(), strict=True):
        if r.record.topic == SITUATIONS.name:
            decoded = decoder.decode(r.record.headers, r.record.value)
            assert decoded is not None
            fast.apply(decoded)
            full.apply(envelope)
    assert list(fast.states()) == list(full.states())


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(SituationFacts)])
def test_replace_is_dataclasses_replace(field: str) -> None:
    facts = SituationFacts(situation_id=UUID(int=7), district="district_1",
                           opened_at=datetime(2026, 1, 5, tzinfo=UTC), persons=(("a", "b"),))
    value: Any = {"situation_id": UUID(int=8), "reopened": 3}.get(field, ("changed",))
    assert _replace(facts, **{field: value}) == dataclasses.replace(facts, **{field: value})
    assert _replace(facts) == facts
    with pytest.raises(KeyError):
        _replace(facts, no_such_field=1)
