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


_TIMES = [
    "2026-01-01T05:03:59Z", "2026-01-01t05:03:59z", "2026-01-01 05:03:59Z", "2026-01-01T05:03:59.5Z",
    "2026-01-01T05:03:59.123456Z", "2026-01-01T05:03:59.1234567Z", "2026-01-01T05:03:59+01:00",
    "2026-01-01T05:03:59+0100", "2026-01-01T05:03:59-00:00", "2026-01-01T05:03:59+00:00",
    "2026-01-01T23:59:60Z", "2026-02-29T05:03:59Z", "2024-02-29T05:03:59Z", "2026-01-01T24:00:00Z",
    "2026-01-01T05:03Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
    "2026-01-01T05:03:59,5Z", "2026-01-01T05:03:59", "1700000000", "2026-01-01",
]
_UUIDS = [
    "019b77f0-f618-7000-8001-000000000000", "019B77F0-F618-7000-8001-000000000000",
    "019b77f0f61870008001000000000000", "{019b77f0-f618-7000-8001-000000000000}",
    "urn:uuid:019b77f0-f618-7000-8001-000000000000", "019b77f0-f618-4000-8001-000000000000",
    "019b77f0-f618-7000-c001-000000000000", "019b77f0-f618-7000-8001-00000000000",
]
_TEXTS = [
    "withdrawn", "withdrawn\n", "Withdrawn", "", " ", "a", "a" * 64, "a" * 65, "x" * 280, "x" * 281,
    "x" * 1000, "x" * 1001, "é" * 280, "\U0001f600" * 281, "a.b", "a.b\n", "a." + "b" * 94,
    "a." + "b" * 95, "hrps-d1", "h", "-abc", "a_b", "SIM-1.x_y", ".SIM", "routine", "urgent",
    "confirmed", "rejected", "returned", "requested", "accepted", "on-hold", "cancelled",
    "filter_3", "filter_4", "first_contact", "lead_acceptance", "refused", "member", "table_chair",
    "individual", "family", "\u0000", "\ud800",
]
NEAR_MISSES = st.sampled_from([
    *_TIMES, *_UUIDS, *_TEXTS, None, True, False, 0, 1, 1.0, -1, [], {}, ["a"], ["a", "a"],
    ["a.b", "a.b"], [{"age_group": "age_12_17", "gender": "man"}],
    {"agency_id": "hrps-d1", "role": "member"}, {"agency_id": "hrps-d1", "role": "boss"},
    {"agency_id": "hrps-d1", "state": "rejected"},
    {"agency_id": "hrps-d1", "state": "rejected", "reason": "no capacity"},
    [{"agency_id": "hrps-d1"}, {"agency_id": "hrps-d1"}], [{"agency_id": "hrps-d2"}],
])
"""JSON values near the contracts' edges: a code with a newline or a capital, texts at and past
their lengths, times with seven digits of a second or another zone, UUIDs of another version or
form, task states that need a reason, repeated agencies."""
