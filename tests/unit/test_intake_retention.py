"""What a conclusion means for a situation's identity, and the fact of a purge (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.reference import reference
from services.intake import retention
from tests.support.samples import NOW, SITUATION_ID

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("conclusion", "reason"), [
    ("rejected_not_aer", "rejected_not_aer"), ("returned_to_originator", "returned"),
    ("withdrawn", "withdrawn"),
])
def test_a_conclusion_that_ends_the_purpose_purges_now(conclusion: str, reason: str) -> None:
    decided = retention.on_conclusion(conclusion, NOW, reference(), 90)
    assert isinstance(decided, retention.PurgeNow)
    assert decided.reason == reason


@pytest.mark.parametrize("conclusion", ["risk_lowered_connected_to_services", "no-such-code"])
def test_any_other_conclusion_keeps_identity_for_the_retention_period(conclusion: str) -> None:
    assert retention.on_conclusion(conclusion, NOW, reference(), 90) == retention.KeepUntil(
        NOW + timedelta(days=90))


def test_the_fact_of_a_purge_names_its_district_when_given() -> None:
    purged = retention.purged(SITUATION_ID, "inactive", 1, NOW, "district_1")
    assert (purged.situation_id, purged.reason, purged.records_purged, purged.purged_at,
            purged.district) == (SITUATION_ID, "inactive", 1, NOW, "district_1")
    assert retention.purged(SITUATION_ID, "withdrawn", 0, NOW).district is None
