"""Who may answer an invitation, and until when: the rules of ``RespondToInvitation`` (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.convening.answers import Found, check_answer
from services.runtime.decision import CommandRefused, CommandStale
from tests.support.samples import NOW

pytestmark = pytest.mark.unit

STARTS = NOW + timedelta(days=1)


def test_the_invited_agency_answers_before_the_meeting_starts() -> None:
    check_answer((STARTS, "housing-services"), "housing-services", NOW)
    check_answer((STARTS, "housing-services"), "housing-services",
                 STARTS - timedelta(microseconds=1))


@pytest.mark.parametrize(("found", "agency", "at", "kind", "code", "field"), [
    (None, "housing-services", NOW, CommandStale, "unknown_meeting", "meeting_id"),
    ((STARTS, None), "housing-services", NOW, CommandStale, "unknown_invitation", "invitation_id"),
    ((STARTS, "housing-services"), "justice-services", NOW, CommandRefused, "not_own_invitation",
     "actor"),
    ((STARTS, "housing-services"), "housing-services", STARTS, CommandStale, "meeting_started",
     None),
])
def test_an_answer_is_refused_with_its_reason(found: Found, agency: str, at: datetime,
                                              kind: type[Exception], code: str,
                                              field: str | None) -> None:
    with pytest.raises(kind) as raised:
        check_answer(found, agency, at)
    refusal = raised.value
    assert isinstance(refusal, CommandRefused | CommandStale)
    assert [(r.code, r.field) for r in refusal.reasons] == [(code, field)]


def test_someone_elses_invitation_is_refused_even_after_the_start() -> None:
    with pytest.raises(CommandRefused) as raised:
        check_answer((STARTS, "housing-services"), "justice-services", STARTS)
    assert [r.code for r in raised.value.reasons] == ["not_own_invitation"]
