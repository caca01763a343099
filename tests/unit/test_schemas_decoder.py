"""The replay's fast decoder: the same envelope as ``from_record``, and the same refusal.

Every case compares :meth:`Decoder.decode` with :func:`from_record` on one record: both return
equal envelopes, or both raise the same error class with the same message. The committed samples
of every type cover the common shape; the fuzzed variants (headers and bodies of valid records
mutated, and arbitrary records) cover what the fast path must hand to the full one.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas.decoder
from schemas.decoder import Decoder
from schemas.envelope import Envelope, Record, from_record, to_record
from schemas.errors import ContractError
from schemas.registry import TYPES_BY_TOPIC
from schemas.situations import SituationOpened, SituationScheduled
from tests.support.fuzz import FUZZ, HEADER_NAMES, HEADER_VALUES, JSON, RECORDS, mutate
from tests.support.samples import SOURCE, all_samples

pytestmark = pytest.mark.unit

TOPICS = [None, "commande.situations.v1", "commande.event-requests.v1", "nope"]
CORRELATED = [
    to_record(event, source=SOURCE, correlation_id=UUID(int=1), causation_id="partner:token-1")
    for event in all_samples()
]


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ContractError as exc:
        return type(exc).__name__, str(exc)


def _same(headers: list[tuple[str, bytes | None]], value: bytes | None, topic: str | None) -> None:
    full = _outcome(lambda: from_record(headers, value, topic=topic))
    fast = _outcome(lambda: Decoder(topic).decode(headers, value))
    assert fast == full


@pytest.mark.parametrize("record", RECORDS + CORRELATED, ids=lambda r: r.topic)
def test_every_sample_decodes_as_the_full_path_does(record: Record) -> None:
    for topic in (record.topic, *TOPICS):
        _same(list(record.headers), record.value, topic)


def test_the_common_shape_never_takes_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [from_record(r.headers, r.value, topic=r.topic) for r in RECORDS + CORRELATED]

    def refuse(*args: object, **kwargs: object) -> Envelope[Any]:
        raise AssertionError("the fast path fell back")

    monkeypatch.setattr(schemas.decoder, "from_record", refuse)
    decoders = {topic: Decoder(topic) for topic in TYPES_BY_TOPIC}
    got = [decoders[r.topic].decode(r.headers, r.value) for r in RECORDS + CORRELATED]
    assert got == expected


def test_a_type_not_wanted_is_skipped_after_its_headers_are_checked() -> None:
    decoder = Decoder("commande.situations.v1", [SituationOpened.ce_type])
    opened, scheduled = (next(r for r in RECORDS if dict(r.headers)["ce_type"] == m.ce_type.encode())
                         for m in (SituationOpened, SituationScheduled))
    assert decoder.decode(opened.headers, opened.value) == from_record(opened.headers, opened.value)
    assert decoder.decode(scheduled.headers, scheduled.value) is None
    assert decoder.decode(scheduled.headers, b"{not json") is None  # the body is not decoded
    headers = [(k, v) for k, v in scheduled.headers if k != "ce_specversion"]
    with pytest.raises(ContractError, match="ce_specversion"):
        decoder.decode(headers, scheduled.value)
    uncommon = [(k.upper(), v) for k, v in scheduled.headers]  # the full path, then skipped
    assert decoder.decode(uncommon, scheduled.value) is None


@FUZZ
@given(
    index=st.integers(0, len(RECORDS) - 1),
    header_edits=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    drop=st.lists(HEADER_NAMES, max_size=2),
    topic=st.sampled_from(TOPICS),
)
def test_mutated_headers_are_refused_as_the_full_path_refuses_them(
    index: int, header_edits: dict[str, bytes | None], drop: list[str], topic: str | None
) -> None:
    record = RECORDS[index]
    headers: list[tuple[str, bytes | None]] = [
        (k, header_edits.get(k, v)) for k, v in record.headers if k not in drop
    ]
    _same(headers, record.value, topic or record.topic)


@FUZZ
@given(
    index=st.integers(0, len(RECORDS) - 1),
    name=st.sampled_from(["ce_id", "ce_subject", "ce_time", "ce_source", "ce_correlationid"]),
    text=st.sampled_from([
        "019b77f0-f618-7000-8001-000000000000", "019B77F0-F618-7000-8001-000000000000",
        "019b77f0-f618-4000-8001-000000000000", "019b77f0-f618-7000-c001-000000000000",
        "{019b77f0-f618-7000-8001-000000000000}", "019b77f0f61870008001000000000000",
        "019b77f0-f618-7000-8001-00000000000_", "2026-01-01T05:03:59Z", "2026-01-01T05:03:59.5Z",
        "2026-02-30T05:03:59Z", "2026-01-01t05:03:59z", "2026-01-01T05:03:59+01:00",
        "2026-01-01T05:03:59Z\n", "/commande/x\n", "a b", "x" * 257, "ok:token.1-2",
    ]),
)
def test_near_miss_header_values_decode_as_the_full_path_does(
    index: int, name: str, text: str
) -> None:
    record = RECORDS[index]
    headers: list[tuple[str, bytes | None]] = [(k, v) for k, v in record.headers if k != name]
    headers.append((name, text.encode()))
    _same(headers, record.value, record.topic)


@FUZZ
@given(
    index=st.integers(0, len(RECORDS) - 1),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    replacement=JSON,
    extra=st.booleans(),
)
def test_mutated_bodies_are_refused_as_the_full_path_refuses_them(
    index: int, path: list[int], replacement: Any, extra: bool
) -> None:
    record = RECORDS[index]
    body = mutate(json.loads(record.value), path, replacement)
    if extra and isinstance(body, dict):
        body["unexpected"] = replacement
    _same(list(record.headers), json.dumps(body).encode(), record.topic)


@FUZZ
@given(
    headers=st.lists(st.tuples(HEADER_NAMES | st.text(max_size=12), HEADER_VALUES), max_size=12),
    value=st.none() | st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    topic=st.sampled_from(TOPICS),
)
def test_arbitrary_records_are_refused_as_the_full_path_refuses_them(
    headers: list[tuple[str, bytes | None]], value: bytes | None, topic: str | None
) -> None:
    _same(headers, value, topic)
