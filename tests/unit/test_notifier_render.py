"""Notifier rendering: every kind at its privacy level, safe subject lines, ids and tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from directory import Directory, load_directory
from schemas.base import Actor, Message
from schemas.disclosures import DisclosureSealed
from schemas.meetings import AgendaIssued, CommandRejected, UrgentSituationAdded
from schemas.reference import reference
from schemas.referrals import Reason, ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    AgencyTask,
    IdentityPurged,
    SituationConcluded,
    SlaBreached,
    SlaWarning,
)
from services.notifier import recipients, render, tokens
from services.notifier.model import MeetingInfo, Planned, Rendered, notice_id
from tests.support.samples import EVENT_ID, MEETING_ID, NOW, sample, summary

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"
MEETING = MeetingInfo("district_1", "regular", NOW + timedelta(days=1),
                      NOW + timedelta(days=1, hours=2), "Sample station, room A")
RISK_WORDS = ("Mental health", "eviction", "Narrative", "crisis", "25-29", "Woman", "Milton")


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(HALTON)


def _render(planned: Planned, event: Message, directory: Directory) -> Rendered:
    ctx = render.Context(notice_id(EVENT_ID, planned.recipient.key, planned.kind),
                         "http://127.0.0.1:8080/ack/TOKEN", NOW + timedelta(days=14),
                         meeting=MEETING, actor=None)
    return render.render(planned, event, ctx, reference(), directory)


def _events() -> list[tuple[Message, dict[str, object]]]:
    return [
        (sample(AgendaIssued, agency_id="housing-services"), {}),
        (sample(AgendaIssued, agency_id="housing-services", kind="update", revision=2), {}),
        (sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                assisting=(AgencyTask(agency_id="public-health"),)), {}),
        (sample(DisclosureSealed, recipient_agency="mental-health-assoc",
                disclosing_agency="housing-services"), {}),
        (sample(SlaWarning, agency_id="housing-services"), {}),
        (sample(SlaBreached, agency_id="housing-services"), {}),
        (sample(SituationConcluded), {"originating_agency": "public-health"}),
        (sample(CommandRejected), {"actor": Actor(agency_id="hrps-cmb-d1", role="table_chair")}),
        (sample(ReferralRejected, agency_id="public-health"), {}),
        (sample(IdentityPurged, reason="inactive", district="district_2"), {}),
    ]


def test_agenda_goes_deidentified_to_the_participant_only(directory: Directory) -> None:
    event = sample(AgendaIssued, agency_id="housing-services")
    [planned] = recipients.plan(event, directory, NOW.date())
    assert (planned.kind, planned.recipient.address) == ("invitation", "table@housing.example.org")
    out = _render(planned, event, directory)
    for text in (out.text, out.html):
        assert "25-29" in text
        assert "Woman" in text
        assert "Mental health: Diagnosed condition not treated" in text
        assert "Housing: At risk of eviction" in text
        assert summary().narrative in text
        assert "1 District" in text
        assert "Sample station, room A" in text
        assert "Tuesday 6 January 2026, 09:00" in text
        assert "http://127.0.0.1:8080/ack/TOKEN" in text
    assert out.subject == "COMMANDE Table invitation and agenda: 1 District, 6 January 2026"
    assert out.body["event"]["items"][0]["summary"]["narrative"] == summary().narrative


@pytest.mark.parametrize("index", range(9))
def test_no_risk_detail_or_identity_in_any_subject(directory: Directory, index: int) -> None:
    event, facts = _events()[index]
    planned = recipients.plan(event, directory, NOW.date(), **facts)  # type: ignore[arg-type]
    assert planned, "every kind has at least one recipient in the sample directory"
    for p in planned:
        out = _render(p, event, directory)
        assert out.subject.startswith("COMMANDE ")
        assert "\n" not in out.subject
        assert len(out.subject) < 120
        for word in (*RISK_WORDS, "Sample Person", "1990", "555", "housing"):
            assert word.lower() not in out.subject.lower(), (word, out.subject)


def test_an_urgent_situation_goes_deidentified_to_the_chair_with_its_meeting(
        directory: Directory) -> None:
    added = sample(UrgentSituationAdded, agency_id="hrps-cmb-d1")
    planned = recipients.plan(added, directory, NOW.date())
    assert [(p.kind, p.recipient.address, p.privacy.value, p.essential) for p in planned] == [
        ("urgent_situation", "d1-commande-chair@police.example.org", "deidentified", True)]
    out = _render(planned[0], added, directory)
    for text in (out.text, out.html):
        assert str(added.situation_id) in text
        assert "URGENT" in text
        assert summary().narrative in text
        assert "Housing: At risk of eviction" in text
        assert "Sample station, meeting room A" in text
        assert render.local_time(added.agendas_by) in text, "when the agendas list it"
        assert "http://127.0.0.1:8080/ack/TOKEN" in text
    assert out.subject == "COMMANDE urgent situation added: 1 District, meeting of 5 January 2026"
    for word in (*RISK_WORDS, "Sample Person", "1990", "555", "housing"):
        assert word.lower() not in out.subject.lower(), word
    assert recipients.plan(sample(UrgentSituationAdded, agency_id="unknown-agency"), directory,
                           NOW.date()) == []


def test_reference_level_notices_carry_no_summary(directory: Directory) -> None:
    for event, facts in _events()[2:]:
        for p in recipients.plan(event, directory, NOW.date(), **facts):  # type: ignore[arg-type]
            assert p.privacy.value in ("reference", "sealed")
            out = _render(p, event, directory)
            for word in ("Narrative", "Diagnosed condition", "age group"):
                assert word not in out.text
                assert word not in out.html


def test_html_is_escaped(directory: Directory) -> None:
    event = sample(AgendaIssued, agency_id="housing-services", items=(
        {"position": 1, "situation_id": MEETING_ID, "priority": "urgent",
         "summary": summary().model_copy(update={"narrative": "Synthetic <b>bold</b> & co"})},))
    [planned] = recipients.plan(event, directory, NOW.date())
    out = _render(planned, event, directory)
    assert "Synthetic &lt;b&gt;bold&lt;/b&gt; &amp; co" in out.html
    assert "Synthetic <b>bold</b> & co" in out.text
    assert "(URGENT)" in out.text


def test_assignment_says_role_and_what_is_due(directory: Directory) -> None:
    event = sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"),
                   assisting=(AgencyTask(agency_id="public-health"),))
    planned = recipients.plan(event, directory, NOW.date())
    assert [(p.recipient.address, p.part) for p in planned] == [
        ("table@housing.example.org", "lead"), ("table@publichealth.example.org", "assisting")]
    lead = _render(planned[0], event, directory)
    assert "the LEAD agency" in lead.text
    assert "by Tuesday 6 January 2026, 09:00" in lead.text  # 24 h to answer
    assert "Make first contact (the intervention) by Wednesday 7 January 2026, 09:00" in lead.text
    assisting = _render(planned[1], event, directory)
    assert "an ASSISTING agency" in assisting.text


def test_disclosure_is_the_signed_package_only(directory: Directory) -> None:
    event = sample(DisclosureSealed, recipient_agency="public-health",
                   disclosing_agency="housing-services")
    [planned] = recipients.plan(event, directory, NOW.date())
    assert planned.recipient.address == "privacy@publichealth.example.org"
    assert planned.privacy.value == "sealed"
    out = _render(planned, event, directory)
    [att] = out.attachments
    assert DisclosureSealed.model_validate_json(att.content) == event
    assert att.filename == f"disclosure-{event.disclosure_id}.json"
    assert att.content_type == "application/json"
    assert "disclosure open --key" in out.text
    assert out.body["event"]["ciphertext"] == event.ciphertext
    assert "MFIPPA compelling circumstances" in out.text


def test_disclosure_to_a_webhook_contact(directory: Directory) -> None:
    event = sample(DisclosureSealed, recipient_agency="mental-health-assoc")
    [planned] = recipients.plan(event, directory, NOW.date())
    assert planned.recipient.channel.value == "webhook"
    assert planned.recipient.address == "https://api.mentalhealth.example.org/hooks/commande"


def test_sla_goes_to_the_district_staff_sergeant(directory: Directory) -> None:
    breached = recipients.plan(sample(SlaBreached, district="district_2",
                                      agency_id="housing-services"), directory, NOW.date())
    assert [(p.kind, p.recipient.address) for p in breached] == [
        ("escalation", "d2-staff-sergeant@police.example.org")]
    warned = recipients.plan(sample(SlaWarning, district="district_3",
                                    agency_id="housing-services"), directory, NOW.date())
    assert [(p.kind, p.recipient.address, p.essential) for p in warned] == [
        ("sla_warning", "d3-staff-sergeant@police.example.org", True),
        ("sla_warning", "table@housing.example.org", False)]


def test_opt_out_drops_only_non_essential_notices(directory: Directory) -> None:
    # town-milton's table representative opted out of non-essential notices.
    first = sample(AgendaIssued, agency_id="town-milton")
    update = sample(AgendaIssued, agency_id="town-milton", kind="update", revision=3)
    assert [p.kind for p in recipients.plan(first, directory, NOW.date())] == ["invitation"]
    assert recipients.plan(update, directory, NOW.date()) == []
    assert [p.kind for p in recipients.plan(
        sample(AgendaIssued, agency_id="housing-services", kind="update", revision=2),
        directory, NOW.date())] == ["agenda"]
    reminder = recipients.plan(sample(SlaWarning, agency_id="town-milton"), directory, NOW.date())
    assert [p.recipient.agency_id for p in reminder] == ["hrps-cmb-d1"]
    assigned = recipients.plan(sample(AgenciesAssigned, lead=AgencyTask(agency_id="town-milton"),
                                      assisting=()), directory, NOW.date())
    assert [p.recipient.address for p in assigned] == ["table@milton-town.example.org"]


def test_conclusion_to_the_originator_and_refusal_to_the_actor(directory: Directory) -> None:
    concluded = recipients.plan(sample(SituationConcluded), directory, NOW.date(),
                                originating_agency="public-health")
    assert [(p.kind, p.recipient.address) for p in concluded] == [
        ("referral_status", "intake@publichealth.example.org")]
    assert recipients.plan(sample(SituationConcluded), directory, NOW.date()) == []
    chair = recipients.plan(sample(CommandRejected), directory, NOW.date(),
                            actor=Actor(agency_id="hrps-cmb-d1", role="table_chair"))
    assert [p.recipient.address for p in chair] == ["d1-commande-chair@police.example.org"]
    agency = recipients.plan(sample(CommandRejected), directory, NOW.date(),
                             actor=Actor(agency_id="housing-services", role="lead_agency"))
    assert [p.recipient.address for p in agency] == ["table@housing.example.org"]
    out = _render(chair[0], sample(CommandRejected), directory)
    assert "sample_reason" in out.text


def test_referral_rejected_copy_only_when_asked(directory: Directory) -> None:
    asked = recipients.plan(sample(ReferralRejected, agency_id="public-health"), directory,
                            NOW.date())
    assert [p.recipient.address for p in asked] == ["intake@publichealth.example.org"]
    assert recipients.plan(sample(ReferralRejected, agency_id="unknown-agency"), directory,
                           NOW.date()) == []


def test_an_identity_purged_for_inactivity_is_told_to_the_tables_chair(
        directory: Directory) -> None:
    purged = sample(IdentityPurged, reason="inactive", district="district_2")
    planned = recipients.plan(purged, directory, NOW.date())
    assert [(p.kind, p.recipient.address) for p in planned] == [
        ("identity_purged", "d2-commande-chair@police.example.org")]
    out = _render(planned[0], purged, directory)
    assert "were destroyed" in out.text
    assert "2 District" in out.text
    for reason in ("retention_expired", "rejected_not_aer", "withdrawn"):  # the table's own acts
        assert recipients.plan(sample(IdentityPurged, reason=reason, district="district_2"),
                               directory, NOW.date()) == []


def test_a_refused_reference_is_not_repeated_in_the_subject(directory: Directory) -> None:
    bad_ref = sample(ReferralRejected, agency_id="public-health", referral_ref="AVERY-9055550101",
                     reasons=(Reason(code="referral_ref_contains_phone", field="referral_ref",
                                     message="The reference contains a phone number."),))
    [planned] = recipients.plan(bad_ref, directory, NOW.date())
    out = _render(planned, bad_ref, directory)
    assert "AVERY" not in out.subject
    assert "9055550101" not in out.subject


def test_unknown_agency_gets_nothing(directory: Directory) -> None:
    assert recipients.plan(sample(AgendaIssued, agency_id="nobody-here"), directory,
                           NOW.date()) == []


def test_notice_id_is_deterministic_uuid7() -> None:
    a = notice_id(EVENT_ID, "housing-services/table_representative/x@example.org", "invitation")
    assert a == notice_id(EVENT_ID, "housing-services/table_representative/x@example.org",
                          "invitation")
    assert a.version == 7
    assert a.variant == "specified in RFC 4122"
    assert str(a)[:13] == str(EVENT_ID)[:13]  # the cause's time prefix
    assert a != notice_id(EVENT_ID, "housing-services/table_representative/x@example.org", "agenda")
    assert a != notice_id(EVENT_ID, "public-health/table_representative/x@example.org", "invitation")
    assert a != notice_id(UUID("0194a1b2-0000-7000-8000-000000000007"),
                          "housing-services/table_representative/x@example.org", "invitation")


def test_ack_token_round_trip_tamper_and_expiry() -> None:
    secret = b"synthetic-test-secret"
    nid = notice_id(EVENT_ID, "r", "invitation")
    token = tokens.sign(secret, nid, NOW + timedelta(hours=1))
    assert tokens.verify(secret, token, NOW) == nid
    with pytest.raises(tokens.ExpiredToken):
        tokens.verify(secret, token, NOW + timedelta(hours=1))
    with pytest.raises(tokens.TamperedToken):
        tokens.verify(b"another-secret", token, NOW)
    head, tail = token.split(".")
    flipped = ("A" if head[0] != "A" else "B") + head[1:]
    for bad in (f"{flipped}.{tail}", token + "x", "garbage", f"{head}.", "a.b.c", "%%.%%"):
        with pytest.raises(tokens.TamperedToken):
            tokens.verify(secret, bad, NOW)


def test_an_update_marks_what_it_adds_to_the_agenda_the_participant_had(
        directory: Directory) -> None:
    kept, added = summary(), summary().model_copy(update={"narrative": "Synthetic newcomer."})
    new_id = UUID("01940000-0000-7000-8000-00000000abcd")
    event = sample(AgendaIssued, agency_id="housing-services", kind="update", revision=3, items=(
        {"position": 1, "situation_id": new_id, "priority": "urgent", "summary": added},
        {"position": 2, "situation_id": MEETING_ID, "priority": "routine", "summary": kept}),
        added=(new_id,))
    [planned] = recipients.plan(event, directory, NOW.date())
    out = _render(planned, event, directory)
    assert "New since the agenda you had: 1 situation (marked NEW below)." in out.text
    assert f"1. Situation {new_id} (URGENT) NEW" in out.text
    assert f"2. Situation {MEETING_ID}\n" in out.text, "only what is new is marked"
    assert "<strong>NEW</strong>" in out.html
    first = sample(AgendaIssued, agency_id="housing-services")
    assert "NEW" not in _render(planned, first, directory).text
