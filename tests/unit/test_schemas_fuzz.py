"""Fuzzing ``from_record``: any headers and body give a valid envelope or a ContractError.

Never another exception: a consumer maps ContractError to the dead-letter topic, and anything
else would be treated as a bug that blocks the partition.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.envelope import Envelope, from_record, to_record
from schemas.errors import ContractError
from schemas.registry import BY_TYPE
from tests.support.samples import SOURCE, all_samples

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORDS = [to_record(event, source=SOURCE) for event in all_samples()]
HEADER_NAMES = st.sampled_from(
    ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
     "ce_correlationid", "ce_causationid", "content-type", "CE_TYPE", "ce_", "other"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
HEADER_VALUES = (
    st.binary(max_size=40)
    | st.none()
    | st.sampled_from([b"1.0", b"0.3", b"application/json", b"text/plain", *map(str.encode, BY_TYPE)])
    | st.text(max_size=40).map(str.encode)
)


def _parse(headers: list[tuple[str, bytes | None]], value: bytes | None, topic: str | None) -> None:
    try:
        envelope = from_record(headers, value, topic=topic)
    except ContractError:
        return
    assert isinstance(envelope, Envelope)
    assert envelope.type in BY_TYPE
    assert isinstance(envelope.event, BY_TYPE[envelope.type])


@FUZZ
@given(
    headers=st.lists(st.tuples(HEADER_NAMES | st.text(max_size=12), HEADER_VALUES), max_size=12),
    value=st.none() | st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    topic=st.none() | st.sampled_from(["commande.situations.v1", "nope"]),
)
def test_arbitrary_records(
    headers: list[tuple[str, bytes | None]], value: bytes | None, topic: str | None
) -> None:
    _parse(headers, value, topic)


@FUZZ
@given(
    index=st.integers(0, len(RECORDS) - 1),
    header_edits=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
    drop=st.lists(HEADER_NAMES, max_size=2),
)
def test_mutated_headers_of_valid_records(
    index: int, header_edits: dict[str, bytes | None], drop: list[str]
) -> None:
    record = RECORDS[index]
    headers: list[tuple[str, bytes | None]] = [
        (k, header_edits.get(k, v)) for k, v in record.headers if k not in drop
    ]
    _parse(headers, record.value, record.topic)


def _mutate(body: Any, path: list[int], replacement: Any) -> Any:
    """Replace one node of a JSON document chosen by ``path`` (indices into keys/items)."""
    if not path or not isinstance(body, dict | list) or not body:
        return replacement
    if isinstance(body, dict):
        keys = sorted(body)
        key = keys[path[0] % len(keys)]
        return {**body, key: _mutate(body[key], path[1:], replacement)}
    items = list(body)
    position = path[0] % len(items)
    items[position] = _mutate(items[position], path[1:], replacement)
    return items


@FUZZ
@given(
    index=st.integers(0, len(RECORDS) - 1),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    replacement=JSON,
    extra=st.booleans(),
)
def test_mutated_bodies_of_valid_records(
    index: int, path: list[int], replacement: Any, extra: bool
) -> None:
    record = RECORDS[index]
    body = _mutate(json.loads(record.value), path, replacement)
    if extra and isinstance(body, dict):
        body["unexpected"] = replacement
    _parse(list(record.headers), json.dumps(body).encode(), record.topic)
