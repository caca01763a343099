"""Committed snapshots: they match the code, and an incompatible change to a v1 type is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import pytest

import schemas.snapshots as snapshots
from schemas.base import Code, Event, Message, ReferralKeyed, ShortText, UtcDatetime, Uuid7
from schemas.compat import incompatibilities
from schemas.json_schemas import json_schema
from schemas.referrals import ReferralAccepted, ReferralWithdrawn
from schemas.registry import MESSAGES
from schemas.topics import REFERRAL_STATUS, REFERRALS

pytestmark = pytest.mark.unit

HERE = snapshots.HERE


def _committed(ce_type: str) -> dict[str, object]:
    return json.loads((HERE / f"{ce_type}.json").read_text("utf-8"))  # type: ignore[no-any-return]


# Deliberately modified copies of published models (same ce_type), as a careless edit would make.


class WithdrawnRenamed(ReferralKeyed, Event):
    """ReferralWithdrawn with ``reason`` renamed to ``reason_code``."""

    ce_type = ReferralWithdrawn.ce_type
    topic = REFERRALS
    withdrawn_at: UtcDatetime
    reason_code: Code


class WithdrawnNewRequired(ReferralKeyed, Event):
    """ReferralWithdrawn with a new required field."""

    ce_type = ReferralWithdrawn.ce_type
    topic = REFERRALS
    withdrawn_at: UtcDatetime
    reason: Code
    note: ShortText


class WithdrawnNewOptional(ReferralKeyed, Event):
    """ReferralWithdrawn with a new optional field (a compatible change)."""

    ce_type = ReferralWithdrawn.ce_type
    topic = REFERRALS
    withdrawn_at: UtcDatetime
    reason: Code
    note: ShortText | None = None


class AcceptedNarrowed(ReferralKeyed, Event):
    """ReferralAccepted whose ``district`` narrowed from any code to one value, duplicate dropped."""

    ce_type = ReferralAccepted.ce_type
    topic = REFERRAL_STATUS
    situation_id: Uuid7
    district: Literal["district_1"]
    accepted_at: UtcDatetime


def test_snapshots_match_the_code() -> None:
    expected = snapshots.rendered()
    differing = [
        name for name, text in expected.items()
        if not (HERE / name).exists() or (HERE / name).read_text("utf-8") != text
    ]
    assert not differing, f"run `commande schemas export`; out of date: {differing}"
    assert snapshots.stale() == [], "snapshot files of types no longer registered"


@pytest.mark.parametrize("model", MESSAGES, ids=lambda m: m.ce_type)
def test_published_types_stay_compatible(model: type[Message]) -> None:
    assert incompatibilities(_committed(model.ce_type), json_schema(model)) == []


def test_renamed_field_is_incompatible_and_changes_the_snapshot() -> None:
    old = _committed(ReferralWithdrawn.ce_type)
    new = json_schema(WithdrawnRenamed)
    assert snapshots.dumps(new) != (HERE / f"{ReferralWithdrawn.ce_type}.json").read_text("utf-8")
    problems = incompatibilities(old, new)
    assert "$.reason: field removed or renamed" in problems
    assert "$.reason_code: new required field" in problems


def test_new_required_field_is_incompatible() -> None:
    problems = incompatibilities(_committed(ReferralWithdrawn.ce_type), json_schema(WithdrawnNewRequired))
    assert problems == ["$.note: new required field"]


def test_narrowed_type_and_removed_field_are_incompatible() -> None:
    problems = incompatibilities(_committed(ReferralAccepted.ce_type), json_schema(AcceptedNarrowed))
    assert "$.duplicate: field removed or renamed" in problems
    assert any(p.startswith("$.district: restricted to the values") for p in problems)


def test_new_optional_field_is_compatible() -> None:
    assert incompatibilities(
        _committed(ReferralWithdrawn.ce_type), json_schema(WithdrawnNewOptional)
    ) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": ["string", "null"]}, {"type": "string"}, "type narrowed"),
        ({"type": "string", "maxLength": 10}, {"type": "string", "maxLength": 5}, "maxLength"),
        ({"type": "integer"}, {"type": "integer", "minimum": 1}, "minimum"),
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, "values no longer accepted"),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, {"type": "string"}, "type narrowed"),
        ({"type": "string"}, {"type": "string", "pattern": "^a$"}, "pattern"),
        ({"type": "array", "items": {"type": "string"}},
         {"type": "array", "items": {"type": "integer"}}, "$[]"),
        ({"type": "object"}, {"type": "object", "additionalProperties": False}, "additional"),
        ({"type": "object"}, {"type": "object", "if": {"required": ["a"]}}, "cross-field"),
    ],
)
def test_checker_catches_narrowing(old: dict[str, object], new: dict[str, object], expected: str) -> None:
    assert any(expected in problem for problem in incompatibilities(old, new))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"type": "string"}, {"type": ["string", "null"]}),
        ({"type": "string", "maxLength": 5}, {"type": "string", "maxLength": 10}),
        ({"enum": ["a"]}, {"enum": ["a", "b"]}),
        ({"type": "string"}, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        ({"type": "integer"}, {"type": "number"}),
    ],
)
def test_checker_accepts_widening(old: dict[str, object], new: dict[str, object]) -> None:
    assert incompatibilities(old, new) == []


def test_export_is_deterministic_and_equals_the_committed_copy(tmp_path: Path) -> None:
    first = snapshots.export(tmp_path / "a")
    second = snapshots.export(tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes() == (HERE / a.name).read_bytes()
        assert a.read_text("utf-8").endswith("}\n")
    assert len(first) == len(MESSAGES) + 1


def test_export_refuses_an_incompatible_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "snapshots"
    shutil.copytree(HERE, out, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    modified = tuple(WithdrawnRenamed if m is ReferralWithdrawn else m for m in MESSAGES)
    monkeypatch.setattr(snapshots, "MESSAGES", modified)
    before = (out / f"{ReferralWithdrawn.ce_type}.json").read_text("utf-8")
    with pytest.raises(snapshots.IncompatibleChange) as caught:
        snapshots.export(out)
    assert ReferralWithdrawn.ce_type in caught.value.problems
    assert (out / f"{ReferralWithdrawn.ce_type}.json").read_text("utf-8") == before
    snapshots.export(out, allow_breaking=True)
    assert (out / f"{ReferralWithdrawn.ce_type}.json").read_text("utf-8") != before
