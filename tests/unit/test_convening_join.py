"""``join`` (invitations kept as rows) decides exactly what ``invite`` (whole meeting) decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from uuid6 import uuid7

from services.convening.invitations import MeetingInvitations, invite, join
from services.convening.model import InviteReason, Participant

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def participant(agency: str, *reasons: InviteReason, categories: tuple[str, ...] = ()) -> Participant:
    return Participant(agency_id=agency, name=agency.title(), reasons=reasons or (
        InviteReason.SECTOR_MATCH,), matched_categories=categories)


CMB = participant("hrps-cmb-d1", InviteReason.DISTRICT_CMB)
ROUNDS = [
    [CMB, participant("justice-services", InviteReason.ORIGINATING_AGENCY),
     participant("housing-services", categories=("housing",))],
    [CMB, participant("housing-services", InviteReason.ORIGINATING_AGENCY,
                      InviteReason.SECTOR_MATCH, categories=("housing",)),
     participant("addiction-services", categories=("drugs",))],
    [CMB, participant("addiction-services", InviteReason.ORIGINATING_AGENCY)],
]


def test_join_matches_invite_round_after_round() -> None:
    meeting = uuid7()
    whole = MeetingInvitations(meeting_id=meeting)
    for n, participants in enumerate(ROUNDS):
        now = NOW + timedelta(hours=n)
        situation = uuid7()
        change = invite(whole, situation, participants, now)
        joining = join(meeting, [i.agency_id for i in whole.invitations], situation,
                       participants, now)
        assert joining.new == change.new
        assert set(joining.changed) == set(change.changed)
        assert [a for a, _ in joining.entries] == [p.agency_id for p in participants]
        assert all(e.situation_id == situation for _, e in joining.entries)
        whole = change.invitations
    assert [i.agency_id for i in whole.invitations] == [
        "hrps-cmb-d1", "justice-services", "housing-services", "addiction-services"]


def test_a_participant_already_invited_is_not_invited_again() -> None:
    meeting = uuid7()
    joining = join(meeting, ["hrps-cmb-d1", "justice-services"], uuid7(), ROUNDS[0], NOW)
    assert [i.agency_id for i in joining.new] == ["housing-services"]
    assert joining.changed == ("hrps-cmb-d1", "justice-services", "housing-services")
