"""Every sample of every contract type is valid under its committed JSON Schema, checked by an
independent validator (``jsonschema`` with its format checker: ``date-time``, ``time``, ``date``,
``uuid``, ``email`` really checked), and that validator does reject bad values: a schema whose
``format`` our data does not meet (``format: time`` on a local "20:00:00") fails here.

The records the services write on the stack are checked the same way in
``tests/integration/test_contract_records.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas.base import Message
from schemas.event_requests import EventRequestScheduled, TimeWindow
from schemas.registry import MESSAGES
from tests.contract.formats import FORMATS, committed, formats_used, problems
from tests.support.samples import all_samples, sample

pytestmark = pytest.mark.unit

CHECKED = {
    "date-time": ("2026-01-05T14:00:00Z", "2026-01-05 14:00"),
    "time": ("20:00:00-05:00", "20:00:00"),
    "date": ("2026-01-05", "2026-13-05"),
    "uuid": ("0194a1b2-0000-7000-8000-000000000001", "0194a1b2-0000-7000-8000"),
    "email": ("events@example.org", "events.example.org"),
}
"""Per format: a value that conforms and one that does not."""


@pytest.mark.parametrize("fmt", sorted(CHECKED))
def test_the_validator_really_checks_each_format(fmt: str) -> None:
    good, bad = CHECKED[fmt]
    assert fmt in FORMATS.checkers, f"{fmt} is not checked: is rfc3339-validator installed?"
    assert FORMATS.conforms(good, fmt)
    assert not FORMATS.conforms(bad, fmt)


def test_every_format_in_the_committed_schemas_is_one_the_validator_checks() -> None:
    used = {fmt for model in MESSAGES for fmt in formats_used(committed(model.ce_type))}
    assert used, "no format found: the walk over the schemas is broken"
    assert used <= set(CHECKED), f"formats nobody checks here: {sorted(used - set(CHECKED))}"


def _body(event: Message) -> Any:
    return json.loads(event.model_dump_json())


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_every_sample_is_valid_under_its_committed_schema_with_formats_on(event: Message) -> None:
    assert problems(event.ce_type, _body(event)) == []


def test_local_times_are_a_pattern_not_an_rfc3339_time() -> None:
    """The bug this file guards against: "20:00:00" under ``format: time`` is refused."""
    body = _body(sample(EventRequestScheduled))
    assert body["start"] == "18:30:00"
    assert problems(EventRequestScheduled.ce_type, body) == []
    schema = committed(EventRequestScheduled.ce_type)
    start = schema["properties"]["start"]
    assert "format" not in start
    assert "America/Toronto" in start["description"]
    with_format = {**schema, "properties": {**schema["properties"],
                                            "start": {**start, "format": "time"}}}
    errors = list(Draft202012Validator(with_format, format_checker=FORMATS).iter_errors(body))
    assert [e.message for e in errors] == ["'18:30:00' is not a 'time'"]


def test_a_bad_value_in_a_sample_is_caught() -> None:
    """The check can fail: a malformed instant, date or id in a sample is refused."""
    body = _body(sample(EventRequestScheduled))
    for field, bad in (("scheduled_at", "2026-01-05 14:00"), ("date", "2026-02-30"),
                       ("request_id", "0194a1b2-0000-7000-8000-00000000000G")):
        found = problems(EventRequestScheduled.ce_type, {**body, field: bad})
        assert found, field
        assert all(p.startswith(f"{EventRequestScheduled.ce_type} $.{field}:") for p in found)


@pytest.mark.parametrize("start", ["18:30:00Z", "18:30-05:00"])
def test_a_local_time_with_an_offset_is_refused_by_the_model(start: str) -> None:
    """The description says "no offset"; the model holds to it (with an offset on one side only,
    comparing the window's times raised TypeError instead of a validation error)."""
    for model, body in (
        (TimeWindow, {"date": "2026-02-19", "start": start, "end": "20:00"}),
        (TimeWindow, {"date": "2026-02-19", "start": start, "end": "20:00Z"}),
        (EventRequestScheduled, {**_body(sample(EventRequestScheduled)), "start": start}),
    ):
        with pytest.raises(ValidationError, match="has no offset"):
            model.model_validate_json(json.dumps(body))
