"""The views and ``Decoder.fact``: what the contract accepts and refuses, read at msgspec's cost.

Every case compares :meth:`Decoder.fact` with :meth:`Decoder.decode` (that is :func:`from_record`,
or a skip for a type not wanted) on one record: both refuse it with the same error class and
message, or both skip it, or both accept it and the fact carries the envelope's subject and type
and an event equal, field by field, to the contract model's (a view's fields are the model's, with
equal values). Bodies are the committed samples, the simulator's
records, and fuzzed variants of them: any node replaced by arbitrary JSON or by a near miss of
the contract (a code with a newline, an upper-case letter, a time with seven digits of a second
or another zone, a UUID of another version, an empty or over-long text...).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import schemas.decoder
from schemas.base import RFC3339_PATTERN, UUID7_PATTERN
from schemas.decoder import Decoder, Fact
from schemas.envelope import Envelope, Record, from_record, to_record
from schemas.errors import ContractError, InvalidBody, InvalidHeader
from schemas.json_schemas import json_schema
from schemas.registry import BY_TYPE
from schemas.topics import EVENT_REQUESTS, SITUATIONS
from schemas.views import STRING_PATTERNS, VIEWS, View, reader
from services.analytics.projections import FACTS, Keyed
from services.analytics.projections import event_requests as er
from services.analytics.projections.facts import FOLDED as FACT_TYPES
from services.analytics.projections.facts import Draft, Folder, SituationFacts
from services.analytics.projections.statistics import summarize
from services.analytics.run import agency_types
from services.analytics.simulate import Plan, generate
from tests.support.fuzz import FUZZ, HEADER_NAMES, HEADER_VALUES, JSON, NEAR_MISSES, RECORDS, mutate
from tests.support.samples import SOURCE, all_samples

pytestmark = pytest.mark.unit

SIMULATED: list[Record] = [
    r.record for r in generate(Plan(situations=150, seed=5, event_requests=60))
    if r.record.topic in (SITUATIONS.name, EVENT_REQUESTS.name)
]
SAMPLES: list[Record] = [
    *(r for r in RECORDS if r.topic == SITUATIONS.name),
    *(to_record(e, source=SOURCE, correlation_id=UUID(int=1), causation_id="partner:token-1")
      for e in all_samples() if e.ce_type in VIEWS),
]
"""Every situation sample, and the folded ones with tracing headers too."""
BODIES: list[Record] = [
    *(r for r in SAMPLES if dict(r.headers)["ce_type"].decode() in VIEWS),
    *[r for r in SIMULATED if dict(r.headers)["ce_type"].decode() in VIEWS][:300],
]
"""Records of the folded types, whose bodies the fuzz tests mutate."""


def plain(value: Any) -> Any:
    """A model or a view as nested dicts of its fields (UTC times with their zone), to compare."""
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, datetime):
        return value, value.utcoffset()
    return value


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ContractError as exc:
        return type(exc).__name__, str(exc)


def _same(headers: list[tuple[str, bytes | None]], value: bytes | None, topic: str,
          wanted: frozenset[str] | None = None) -> Fact | None:
    """``fact`` against ``decode`` (itself ``from_record``, or ``None`` for a type not wanted,
    whose body is not decoded): the same refusal, or the same subject, type and event."""
    expected = _outcome(lambda: Decoder(topic, wanted).decode(headers, value))
    if wanted is None:
        assert expected == _outcome(lambda: from_record(headers, value, topic=topic))
    kind, got = _outcome(lambda: Decoder(topic, wanted).fact(headers, value))
    if expected[0] != "ok" or kind != "ok":
        assert (kind, got) == expected
        return None
    envelope: Envelope[Any] | None = expected[1]
    if envelope is None:
        assert got is None
        return None
    assert isinstance(got, Fact)
    assert (got.subject, got.type) == (envelope.subject, envelope.type)
    assert plain(got.event) == plain(envelope.event)
    return got


def test_each_view_has_its_models_fields_and_type() -> None:
    assert set(VIEWS) == FACT_TYPES
    for ce_type, view in VIEWS.items():
        model = BY_TYPE[ce_type]
        assert view.ce_type == model.ce_type
        fields = msgspec.structs.fields(view)
        assert {f.name for f in fields} == set(model.model_fields)
        assert {f.name for f in fields if f.required} == {
            name for name, f in model.model_fields.items() if f.is_required()}
        assert {f.name: f.default for f in fields if not f.required} == {
            name: f.default for name, f in model.model_fields.items() if not f.is_required()}


def test_the_views_check_the_string_patterns_of_their_contracts_json_schemas() -> None:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(v for k, v in node.items() if k == "pattern" and isinstance(v, str))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for ce_type in VIEWS:
        walk(json_schema(BY_TYPE[ce_type]))
    assert found - {RFC3339_PATTERN, UUID7_PATTERN} == STRING_PATTERNS


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: dict(r.headers)["ce_type"].decode())
def test_every_sample_gives_the_full_paths_fact(record: Record) -> None:
    for wanted in (None, FACT_TYPES, frozenset()):
        _same(list(record.headers), record.value, record.topic, wanted)


def test_the_simulators_records_are_read_as_views(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [from_record(r.headers, r.value, topic=r.topic) for r in SIMULATED]

    def refuse(*args: object, **kwargs: object) -> Envelope[Any]:
        raise AssertionError("the fast path fell back")

    monkeypatch.setattr(schemas.decoder, "from_record", refuse)
    decoders = {t.name: Decoder(t.name) for t in (SITUATIONS, EVENT_REQUESTS)}
    for record, envelope in zip(SIMULATED, expected, strict=True):
        fact = decoders[record.topic].fact(record.headers, record.value)
        assert fact is not None
        assert (fact.subject, fact.type) == (envelope.subject, envelope.type)
        assert isinstance(fact.event, View) == (envelope.type in VIEWS)
        assert plain(fact.event) == plain(envelope.event)


def test_a_body_the_view_refuses_is_the_contracts_to_decide() -> None:
    record = next(r for r in BODIES if dict(r.headers)["ce_type"] == b"ca.halton.commande"
                  b".situation.concluded.v1")
    body = json.loads(record.value)
    read = reader("ca.halton.commande.situation.concluded.v1")
    assert read is not None
    assert reader("ca.halton.commande.situation.scheduled.v1") is None
    seven = {**body, "concluded_at": "2026-01-05T09:00:00.1234567Z"}  # the model truncates
    other_zone = {**body, "concluded_at": "2026-01-05T04:00:00-05:00"}  # the model converts
    duplicate = json.dumps(body).replace('"conclusion":', '"conclusion": 1, "conclusion":', 1)
    for changed in (json.dumps(seven), json.dumps(other_zone), duplicate):
        assert read(changed.encode()) is None
        fact = _same(list(record.headers), changed.encode(), record.topic)
        assert fact is not None
        assert not isinstance(fact.event, View)
    for spelled in ("2026-01-05T09:00:00\\u002e1234567Z", "2026-01-05T09:00:00.123456\\u0037Z"):
        escaped = json.dumps({**body, "concluded_at": "?"}).replace("?", spelled).encode()
        assert read(escaped) is None
        fact = _same(list(record.headers), escaped, record.topic)
        assert fact is not None
        assert not isinstance(fact.event, View)
    twice = json.dumps(body)[:-1] + ', "conclusion": "withdrawn"}'  # the last one counts
    fact = _same(list(record.headers), twice.encode(), record.topic)
    assert fact is not None
    assert isinstance(fact.event, View)
    newline = {**body, "conclusion": "withdrawn\n"}  # Python's $ would match, the contract's not
    assert read(json.dumps(newline).encode()) is None
    assert _same(list(record.headers), json.dumps(newline).encode(), record.topic) is None


@FUZZ
@given(
    index=st.integers(0, len(BODIES) - 1),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    replacement=JSON | NEAR_MISSES,
    extra=st.booleans(),
)
def test_mutated_bodies_give_the_full_paths_outcome(
    index: int, path: list[int], replacement: Any, extra: bool
) -> None:
    record = BODIES[index]
    body = mutate(json.loads(record.value), path, replacement)
    if extra and isinstance(body, dict):
        body["unexpected"] = replacement
    _same(list(record.headers), json.dumps(body).encode(), record.topic, FACT_TYPES)


@FUZZ
@given(
    index=st.integers(0, len(BODIES) - 1),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    replacement=NEAR_MISSES,
)
def test_near_misses_anywhere_give_the_full_paths_outcome(
    index: int, path: list[int], replacement: Any
) -> None:
    record = BODIES[index]
    body = json.loads(record.value)
    leaf = mutate(body, path, replacement)
    _same(list(record.headers), json.dumps(leaf).encode(), record.topic)


@FUZZ
@given(value=st.binary(max_size=300), index=st.integers(0, len(BODIES) - 1))
def test_arbitrary_bytes_give_the_full_paths_outcome(value: bytes, index: int) -> None:
    record = BODIES[index]
    _same(list(record.headers), value, record.topic, FACT_TYPES)
    _same(list(record.headers), record.value[: len(value) % len(record.value)], record.topic)


def test_a_time_past_year_9999_in_utc_is_refused_not_raised() -> None:
    record = next(r for r in BODIES if dict(r.headers)["ce_type"] == b"ca.halton.commande"
                  b".situation.concluded.v1")
    late = "9999-12-31T23:59:59-01:00"  # a valid time whose UTC instant is in year 10000
    body = json.dumps({**json.loads(record.value), "concluded_at": late}).encode()
    with pytest.raises(InvalidBody, match="concluded_at"):
        Decoder(record.topic).fact(record.headers, body)
    headers: list[tuple[str, bytes | None]] = [
        (k, late.encode() if k == "ce_time" else v) for k, v in record.headers]
    with pytest.raises(InvalidHeader, match="ce_time"):
        Decoder(record.topic).fact(headers, record.value)
    _same(list(record.headers), body, record.topic)
    _same(headers, record.value, record.topic)


def test_an_agency_named_twice_is_refused_as_the_contract_refuses_it() -> None:
    record = next(r for r in BODIES if dict(r.headers)["ce_type"] == b"ca.halton.commande"
                  b".situation.agencies_assigned.v1")
    body = json.loads(record.value)
    for assisting in ([body["lead"]], [{"agency_id": "x-1"}, {"agency_id": "x-1"}],
                      [{"agency_id": "x-1"}, {"agency_id": "x-2"}]):
        _same(list(record.headers), json.dumps({**body, "assisting": assisting}).encode(),
              record.topic)


HEADERED = [*SAMPLES, *SIMULATED[:200]]


@FUZZ
@given(
    index=st.integers(0, len(HEADERED) - 1),
    header_edits=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    drop=st.lists(HEADER_NAMES, max_size=2),
    swap=st.tuples(st.integers(0, 8), st.integers(0, 8)) | st.none(),
    wanted=st.sampled_from([None, FACT_TYPES, frozenset()]),
)
def test_mutated_headers_give_the_full_paths_outcome(
    index: int, header_edits: dict[str, bytes | None], drop: list[str],
    swap: tuple[int, int] | None, wanted: frozenset[str] | None,
) -> None:
    record = HEADERED[index]
    headers: list[tuple[str, bytes | None]] = [
        (k, header_edits.get(k, v)) for k, v in record.headers if k not in drop]
    if swap is not None and headers:
        i, j = swap[0] % len(headers), swap[1] % len(headers)
        headers[i], headers[j] = headers[j], headers[i]
    _same(headers, record.value, record.topic, wanted)


@FUZZ
@given(
    index=st.integers(0, len(HEADERED) - 1),
    name=st.sampled_from(["ce_id", "ce_subject", "ce_time", "ce_source", "ce_correlationid",
                          "ce_causationid"]),
    text=st.sampled_from([
        "019b77f0-f618-7000-8001-000000000000", "019B77F0-F618-7000-8001-000000000000",
        "019b77f0-f618-4000-8001-000000000000", "019b77f0-f618-7000-c001-000000000000",
        "019b77f0f61870008001000000000000", "2026-01-01T05:03:59Z", "2026-01-01T05:03:59.5Z",
        "2026-02-30T05:03:59Z", "2026-02-29T05:03:59Z", "2024-02-29T05:03:59Z",
        "2026-01-01T24:00:00Z", "2026-01-01T05:60:00Z", "2026-01-01T05:03:60Z",
        "0000-01-01T00:00:00Z", "2026-01-01T05:03:59.1234567Z", "9999-12-31T23:59:59-01:00",
        "2026-01-01t05:03:59z", "/commande/x\n", "a b", "x" * 257, "ok:token.1-2", "",
    ]),
    in_place=st.booleans(),
    wanted=st.sampled_from([None, FACT_TYPES, frozenset()]),
)
def test_near_miss_header_values_give_the_full_paths_outcome(
    index: int, name: str, text: str, in_place: bool, wanted: frozenset[str] | None
) -> None:
    record = HEADERED[index]
    if in_place:  # the layout to_record writes, one value changed (or added at the end)
        headers: list[tuple[str, bytes | None]] = [
            (k, text.encode() if k == name else v) for k, v in record.headers]
        if name not in dict(headers):
            headers.append((name, text.encode()))
    else:
        headers = [(k, v) for k, v in record.headers if k != name]
        headers.append((name, text.encode()))
    _same(headers, record.value, record.topic, wanted)


def test_a_record_skipped_unread_still_has_its_time_checked() -> None:
    record = next(r for r in SIMULATED if dict(r.headers)["ce_type"] == b"ca.halton.commande"
                  b".situation.scheduled.v1")
    headers: list[tuple[str, bytes | None]] = [
        (k, b"2026-02-29T05:03:59Z" if k == "ce_time" else v) for k, v in record.headers]
    decoder = Decoder(record.topic, FACT_TYPES)
    assert decoder.fact(record.headers, record.value) is None
    assert decoder.decode(record.headers, record.value) is None
    for decode in (decoder.fact, decoder.decode):
        with pytest.raises(InvalidHeader, match="ce_time"):
            decode(headers, record.value)


def test_the_folder_gives_the_folds_facts() -> None:
    envelopes = [from_record(r.headers, r.value, topic=r.topic) for r in SIMULATED]
    keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
    asked = er.ByRequest()
    for envelope in envelopes:
        keyed.apply(envelope)
        asked.apply(envelope)
    from_envelopes, from_facts = Folder(), Folder()
    asked_facts = er.ByRequest()
    decoders = {t.name: Decoder(t.name, FACT_TYPES | er.FOLDED)
                for t in (SITUATIONS, EVENT_REQUESTS)}
    for record, envelope in zip(SIMULATED, envelopes, strict=True):
        from_envelopes.apply(envelope)
        fact = decoders[record.topic].fact(record.headers, record.value)
        if fact is not None:
            from_facts.apply(fact)
            asked_facts.apply(fact)
    expected = list(keyed.states())
    assert len(expected) == len(from_facts) > 100
    assert list(from_envelopes.states()) == expected
    assert list(from_facts.states()) == expected
    assert list(asked_facts.states()) == list(asked.states())
    types = agency_types()
    assert summarize(from_facts.drafts(), types) == summarize(expected, types)
    assert [d.freeze() for d in from_facts.drafts()] == expected


def test_a_folder_keys_by_subject_as_keyed_does() -> None:
    record = next(r for r in SAMPLES if dict(r.headers)["ce_type"].decode() in VIEWS)
    envelope = from_record(record.headers, record.value)
    other = dataclasses.replace(envelope, subject=UUID(int=5))
    bare = dataclasses.replace(envelope, subject=None)
    for e in (other, bare):
        keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
        folder = Folder()
        keyed.apply(e)
        folder.apply(e)
        assert list(folder.states()) == list(keyed.states())


def test_a_draft_has_the_facts_fields() -> None:
    def shape(cls: type[Any]) -> list[tuple[str, Any, Any]]:
        return [(f.name, f.type, f.default) for f in dataclasses.fields(cls)]

    assert shape(Draft) == shape(SituationFacts)
    facts = SituationFacts(situation_id=UUID(int=3), district="d", reopened=2, persons=(("a", "b"),))
    assert Draft.of(facts).freeze() == facts
