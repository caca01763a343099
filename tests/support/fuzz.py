"""Hypothesis strategies for records, headers and JSON bodies: the fuzz tests of the envelope
and of the fast decoder draw from the same ones."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from schemas.envelope import to_record
from schemas.registry import BY_TYPE
from tests.support.samples import SOURCE, all_samples

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


def mutate(body: Any, path: list[int], replacement: Any) -> Any:
    """Replace one node of a JSON document chosen by ``path`` (indices into keys/items)."""
    if not path or not isinstance(body, dict | list) or not body:
        return replacement
    if isinstance(body, dict):
        keys = sorted(body)
        key = keys[path[0] % len(keys)]
        return {**body, key: mutate(body[key], path[1:], replacement)}
    items = list(body)
    position = path[0] % len(items)
    items[position] = mutate(items[position], path[1:], replacement)
    return items
