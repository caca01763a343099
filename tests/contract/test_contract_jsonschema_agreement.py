"""pydantic and the generated JSON Schema (via ``jsonschema``) give the same verdict.

A partner validating with the published schema and intake validating with the model must agree.
Known, documented gaps where only the model is stricter (not sampled here): agencies repeated
between lead and assisting, a meeting that ends before it starts, and a local time with an offset
or out of range (the v1 schemas' pattern checks only that it starts ``HH:MM``; a tighter one would
be a narrowing the compatibility check refuses). Formats are checked in
``test_contract_formats.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas.base import Message
from schemas.json_schemas import json_schema
from schemas.meetings import AgendaIssued
from schemas.notices import NoticeFailed
from schemas.referrals import ReferralRejected, ReferralSubmitted
from schemas.registry import MESSAGES
from schemas.situations import AgenciesAssigned, SituationOpened
from tests.support.samples import all_samples, sample

pytestmark = pytest.mark.unit

VALIDATORS = {m: Draft202012Validator(json_schema(m)) for m in MESSAGES}


def _verdicts(model: type[Message], body: Any) -> tuple[bool, bool]:
    text = json.dumps(body)
    try:
        model.model_validate_json(text)
        by_model = True
    except ValueError:
        by_model = False
    return by_model, VALIDATORS[model].is_valid(json.loads(text))


def _body(event: Message) -> dict[str, Any]:
    return json.loads(event.model_dump_json())  # type: ignore[no-any-return]


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return "not a list"
    if isinstance(value, dict):
        return ["not", "an", "object"]
    return 3.5


def test_the_validators_check_their_own_schemas() -> None:
    for model in MESSAGES:
        Draft202012Validator.check_schema(json_schema(model))


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_generic_valid_and_invalid_samples_agree(event: Message) -> None:
    model = type(event)
    body = _body(event)
    assert _verdicts(model, body) == (True, True)
    assert _verdicts(model, {**body, "unexpected": 1}) == (False, False)
    for name in model.model_json_schema().get("required", []):
        broken = {k: v for k, v in body.items() if k != name}
        assert _verdicts(model, broken) == (False, False), name
    for name, value in body.items():
        if value is None:
            continue
        verdicts = _verdicts(model, {**body, name: _other_type(value)})
        assert verdicts == (False, False), name


SPECIFIC: list[tuple[type[Message], dict[str, Any], bool]] = [
    (SituationOpened, {"opened_at": "2026-01-05T09:00:00-05:00"}, True),
    (SituationOpened, {"opened_at": "2026-01-05T14:00:00"}, False),
    (SituationOpened, {"opened_at": "2026-01-05"}, False),
    (SituationOpened, {"situation_id": "6b1f1f4e-8a4f-4f43-9bd6-0c1d2e3f4a5b"}, False),
    (SituationOpened, {"district": "District 1"}, False),
    (SituationOpened, {"priority": "soon"}, False),
    (SituationOpened, {"originating_agency": "Sample Agency"}, False),
    (SituationOpened, {"referral_ref": "has space"}, False),
    (ReferralSubmitted, {"subject": None, "sealed_subject": "U3ludGhldGlj"}, True),
    (ReferralSubmitted, {"sealed_subject": "U3ludGhldGlj"}, False),
    (ReferralSubmitted, {"subject": None}, False),
    (ReferralSubmitted, {"subject": None, "sealed_subject": "not base64!"}, False),
    (ReferralSubmitted, {"priority": "urgent"}, True),
    (ReferralRejected, {"reasons": []}, False),
    (AgendaIssued, {"kind": "update", "revision": 3}, True),
    (AgendaIssued, {"kind": "update", "revision": 1}, False),
    (AgendaIssued, {"kind": "first", "revision": 2}, False),
    (AgendaIssued, {"revision": 0}, False),
    (NoticeFailed, {"attempt": 0}, False),
    (NoticeFailed, {"permanent": 1}, False),
    (NoticeFailed, {"next_attempt_at": None}, True),
]


@pytest.mark.parametrize(("model", "changes", "valid"), SPECIFIC)
def test_specific_samples_agree(model: type[Message], changes: dict[str, Any], valid: bool) -> None:
    assert _verdicts(model, {**_body(sample(model)), **changes}) == (valid, valid)


@pytest.mark.parametrize(
    ("summary_changes", "valid"),
    [
        ({"risk_factors": []}, False),
        ({"risk_factors": ["housing"]}, False),
        ({"risk_factors": ["housing.eviction_risk"]}, True),
        ({"narrative": "x" * 1001}, False),
        ({"persons": []}, False),
        ({"persons": [{"age_group": "age_12_17", "gender": "man", "name": "x"}]}, False),
        ({"situation_type": "household"}, False),
    ],
)
def test_nested_summary_samples_agree(summary_changes: dict[str, Any], valid: bool) -> None:
    body = _body(sample(SituationOpened))
    body["summary"] = {**body["summary"], **summary_changes}
    assert _verdicts(SituationOpened, body) == (valid, valid)


@pytest.mark.parametrize(
    ("lead", "valid"),
    [
        ({"agency_id": "sample-lead-agency", "state": "accepted"}, True),
        ({"agency_id": "sample-lead-agency", "state": "on-hold"}, False),
        ({"agency_id": "sample-lead-agency", "state": "on-hold", "reason": "Synthetic."}, True),
        ({"agency_id": "sample-lead-agency", "state": "done"}, False),
    ],
)
def test_task_reason_rule_agrees(lead: dict[str, Any], valid: bool) -> None:
    body = {**_body(sample(AgenciesAssigned)), "lead": lead}
    assert _verdicts(AgenciesAssigned, body) == (valid, valid)


@pytest.mark.parametrize(
    ("municipality", "valid"),
    [
        ("milton", True),
        ("Acton", True),
        (" burlington ", True),
        ("Halton Hills", True),
        ("Géorgetown", True),
        ("Springfield", True),   # a name is the contract's; whether Halton's is Filter 1's
        ("x" * 100, True),
        ("x" * 101, False),
        ("", False),
        ("Ac\nton", False),     # (not a trailing newline: Python's re lets "$" match before it)
        ("\tActon", False),
        ("Ac\u0000ton", False),
        ("Ac\u0085ton", False),  # C1 control
        (12, False),
    ],
)
def test_a_referral_municipality_as_written_agrees(municipality: Any, valid: bool) -> None:
    body = _body(sample(ReferralSubmitted))
    body["summary"] = {**body["summary"], "municipality": municipality}
    assert _verdicts(ReferralSubmitted, body) == (valid, valid)


def test_a_bad_municipality_is_explained_without_a_regular_expression() -> None:
    body = _body(sample(ReferralSubmitted))
    body["summary"] = {**body["summary"], "municipality": "x" * 101}
    with pytest.raises(ValidationError) as caught:
        ReferralSubmitted.model_validate_json(json.dumps(body))
    (error,) = caught.value.errors()
    assert error["loc"] == ("summary", "municipality")
    assert "municipality's name as text of 1 to 100 characters" in error["msg"]
    assert "pattern" not in error["msg"]
    assert "^" not in error["msg"]


def test_the_situation_keeps_the_code_only() -> None:
    body = _body(sample(SituationOpened))
    body["summary"] = {**body["summary"], "municipality": "Acton"}
    assert _verdicts(SituationOpened, body) == (False, False)
