"""Which notices go out first (services.notifier.priority)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from schemas.notices import NoticeKind
from services.notifier.model import MeetingInfo
from services.notifier.priority import Priority, priority

pytestmark = pytest.mark.unit

START = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def meeting(kind: str) -> MeetingInfo:
    return MeetingInfo("district_1", kind, START, START + timedelta(hours=1), "Milton")


def test_an_ad_hoc_meetings_invitation_and_agenda_are_urgent_a_regular_ones_are_not() -> None:
    for kind in ("invitation", "agenda"):
        assert priority(kind, meeting("ad_hoc")) is Priority.URGENT
        assert priority(kind, meeting("regular")) is Priority.ROUTINE
        assert priority(kind, None) is Priority.ROUTINE


def test_escalations_refusals_confirmations_and_urgent_situations_are_urgent_the_rest_not() -> None:
    urgent = {"escalation", "command_rejected", "event_request_confirmation", "urgent_situation"}
    for kind in get_args(NoticeKind):
        expected = Priority.URGENT if kind in urgent else Priority.ROUTINE
        assert priority(kind, meeting("regular")) is expected, kind
    assert Priority.URGENT < Priority.ROUTINE
