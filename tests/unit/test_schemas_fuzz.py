"""Fuzzing ``from_record``: any headers and body give a valid envelope or a ContractError.

Never another exception: a consumer maps ContractError to the dead-letter topic, and anything
else would be treated as a bug that blocks the partition.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import Envelope, from_record
from schemas.errors import ContractError
from schemas.registry import BY_TYPE
from tests.support.fuzz import FUZZ, HEADER_NAMES, HEADER_VALUES, JSON, RECORDS, mutate

pytestmark = pytest.mark.unit

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
    body = mutate(json.loads(record.value), path, replacement)
    if extra and isinstance(body, dict):
        body["unexpected"] = replacement
    _parse(list(record.headers), json.dumps(body).encode(), record.topic)
