"""The HTTP ingress fills in ``submitted_at`` with the receipt time when the body has none."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.intake.ingress import _with_receipt_time

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def test_a_missing_submission_time_becomes_the_receipt_time() -> None:
    body = json.loads(_with_receipt_time(b'{"agency_id": "housing-services"}', NOW))
    assert body == {"agency_id": "housing-services", "submitted_at": "2026-11-26T15:00:00+00:00"}


def test_a_given_submission_time_and_non_objects_are_left_alone() -> None:
    given = b'{"submitted_at": "2026-01-05T14:00:00Z"}'
    assert _with_receipt_time(given, NOW) == given
    assert _with_receipt_time(b"[1, 2]", NOW) == b"[1, 2]"
    assert _with_receipt_time(b"\xff not json", NOW) == b"\xff not json"
