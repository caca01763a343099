"""Notifier and community event requests, the pure parts: who is told, what the notices say,
and the sealing of what identifies the requester."""

from __future__ import annotations

import base64
from datetime import date, time, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from directory import Directory, load_directory
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    Requester,
)
from schemas.notices import PUBLIC_REQUESTER
from schemas.reference import reference
from schemas.referrals import Reason
from services.notifier import render
from services.notifier.contacts import CipherError, ContactBox
from services.notifier.model import Planned, Rendered, notice_id
from services.notifier.requests import notices
from tests.support.samples import NOW, REQUEST_ID, requester, sample

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(HALTON)


def _render(p: Planned, event: EventRequestEvent, directory: Directory,
            submission: EventRequestSubmitted | None = None) -> Rendered:
    ctx = render.Context(notice_id(event.request_id, p.recipient.key, p.kind),
                         "http://127.0.0.1:8080/ack/TOKEN", NOW + timedelta(days=14))
    facts = notices.facts_for(event, submission or sample(EventRequestSubmitted))
    return notices.render(p, event, facts, ctx, reference(), directory, NOW.date())


def _to(planned: list[Planned]) -> list[tuple[str, str, str]]:
    return [(p.kind, p.recipient.agency_id, p.recipient.address) for p in planned]


@pytest.mark.parametrize(("district", "agency"), [
    ("district_1", "hrps-cmb-d1"), ("district_2", "hrps-cmb-d2"), ("district_3", "hrps-cmb-d3")])
def test_acknowledgement_goes_to_the_district_cmb_manager_and_the_requester(
        directory: Directory, district: str, agency: str) -> None:
    ack = sample(EventRequestAcknowledged, district=district)
    n = district[-1]
    assert _to(notices.plan(ack, directory, NOW.date())) == [
        ("event_request", agency, f"d{n}-cmb-manager@police.example.org"),
        ("event_request_acknowledgement", PUBLIC_REQUESTER, f"event-request:{REQUEST_ID}"),
    ]


def test_the_manager_gets_everything_needed_to_call_back(directory: Directory) -> None:
    ack = sample(EventRequestAcknowledged)
    manager, _ = notices.plan(ack, directory, NOW.date())
    out = _render(manager, ack, directory)
    who = requester()
    for part in (out.text, out.html):
        for needed in (str(REQUEST_ID), "an officer to speak", "18:30 to 20:00", "Sample Hall",
                       "Milton", "Seniors' safety", "Phone scams", "40",
                       "1 District", f"commande event-request schedule {REQUEST_ID}",
                       f"commande event-request decline {REQUEST_ID}", "--agency hrps-cmb-d1",
                       f"commande event-request withdraw {REQUEST_ID}"):
            assert needed in part, needed
        for field in (who.name, who.organization, who.mailing_address, who.daytime_phone,
                      who.email):
            assert field is not None
            assert field in part.replace("&#39;", "'"), field
    assert who.name is not None
    assert who.name not in out.subject
    assert "example.org" not in out.subject
    assert out.body["request"]["requester"]["email"] == who.email


def test_the_requester_is_acknowledged_with_the_request_id_and_the_district(
        directory: Directory) -> None:
    ack = sample(EventRequestAcknowledged, district="district_2", municipality="oakville")
    _, to_requester = notices.plan(ack, directory, NOW.date())
    out = _render(to_requester, ack, directory)
    assert str(REQUEST_ID) in out.subject
    for needed in (str(REQUEST_ID), "2 District", "d2-cmb-manager@police.example.org",
                   "Dear Sample Requester"):
        assert needed in out.text
    assert "request" not in out.body  # the raw submission only goes to the CMB


def test_a_rejection_names_every_reason_and_the_earliest_date(directory: Directory) -> None:
    reasons = (Reason(code="notice_too_short", field="windows",
                      message="Every preferred date must be at least 30 days away."),
               Reason(code="phone_malformed", field="requester.daytime_phone",
                      message="The daytime phone number is not a phone number."))
    rejected = sample(EventRequestRejected, reasons=reasons,
                      earliest_acceptable_date=date(2026, 2, 20))
    [p] = notices.plan(rejected, directory, NOW.date())
    assert (p.kind, p.recipient.agency_id) == ("event_request_outcome", PUBLIC_REQUESTER)
    out = _render(p, rejected, directory)
    for part in (out.text, out.html):
        for r in reasons:
            assert r.message in part
        assert "Friday 20 February 2026" in part
    assert "could not be accepted" in out.subject


@pytest.mark.parametrize(("level", "address"), [
    ("cmb_manager", "d3-cmb-manager@police.example.org"),
    ("staff_sergeant", "d3-staff-sergeant@police.example.org")])
def test_reminders_go_to_the_manager_then_the_staff_sergeant(
        directory: Directory, level: str, address: str) -> None:
    due = sample(EventRequestReminderDue, district="district_3", escalate_to=level,
                 business_days_waiting=5)
    [p] = notices.plan(due, directory, NOW.date())
    assert (p.kind, p.recipient.address) == ("event_request_reminder", address)
    out = _render(p, due, directory)
    assert "5 business days" in out.text
    assert ("ESCALATION" in out.text) == (level == "staff_sergeant")
    assert "Sample Requester" in out.text
    assert "+1 905 555 0101" in out.text


def test_outcomes_are_told_in_words(directory: Directory) -> None:
    scheduled = sample(EventRequestScheduled, date=date(2026, 3, 3), start=time(18, 30),
                       notes="Projector on site.")
    declined = sample(EventRequestDeclined, reason="no_capacity", note="Ask again in spring.")
    withdrawn = sample(EventRequestWithdrawn, reason="event_cancelled")
    texts = {}
    for event in (scheduled, declined, withdrawn):
        [p] = notices.plan(event, directory, NOW.date())
        assert p.recipient.agency_id == PUBLIC_REQUESTER
        texts[type(event)] = _render(p, event, directory).text
    assert "Tuesday 3 March 2026" in texts[EventRequestScheduled]
    assert "18:30" in texts[EventRequestScheduled]
    assert "Community safety officer" in texts[EventRequestScheduled]
    assert "Projector on site." in texts[EventRequestScheduled]
    assert "No officer available" in texts[EventRequestDeclined]
    assert "Ask again in spring." in texts[EventRequestDeclined]
    assert "Event cancelled" in texts[EventRequestWithdrawn]


def test_refusals_and_purges_notify_nobody(directory: Directory) -> None:
    for quiet in (EventRequestCommandRefused, EventRequestConfirmed, EventRequestExpired):
        assert notices.plan(sample(quiet), directory, NOW.date()) == []


def test_the_confirmation_goes_to_the_requester_alone_and_quotes_nothing_they_wrote(
        directory: Directory) -> None:
    asked = sample(EventRequestConfirmationRequested)
    [p] = notices.plan(asked, directory, NOW.date())
    assert (p.kind, p.recipient.agency_id) == ("event_request_confirmation", PUBLIC_REQUESTER)
    ctx = render.Context(notice_id(asked.request_id, p.recipient.key, p.kind),
                         "http://127.0.0.1:8080/ack/TOKEN", NOW + timedelta(days=14))
    link = "https://intake.example.org/v1/event-requests/confirm/TOKEN"
    out = notices.render_confirmation(p, asked, ctx, link, reference())
    assert out.subject == f"Confirm your community event request {REQUEST_ID}"
    for part in (out.text, out.html):
        for needed in (str(REQUEST_ID), "1 District", link, "18:30 to 20:00",
                       "If it was not you, do nothing"):
            assert needed in part, needed
    who, submission = requester(), sample(EventRequestSubmitted)
    written = (who.name, who.organization, who.mailing_address, who.daytime_phone, who.email,
               "Sample Hall", "Phone scams", "Sample", "Dear")
    for part in (out.subject, out.text, out.html, str(out.body)):
        for text in written:
            assert text is not None
            assert text not in part, text
    assert "request" not in out.body
    assert submission.requester == who


@pytest.mark.parametrize(("email", "usable"), [
    ("events@example.org", True), (" events@example.org ", True), ("not an address", False),
    ("", False), (None, False), ("a@b", False)])
def test_requester_email_must_be_usable(email: str | None, usable: bool) -> None:
    s = sample(EventRequestSubmitted, requester=Requester(name="X", email=email))
    assert (notices.requester_email(s) is not None) == usable


def test_sealed_values_open_only_for_their_row() -> None:
    box = ContactBox.development()
    submission = sample(EventRequestSubmitted)
    sealed = box.seal_submission(submission)
    assert b"Sample Requester" not in sealed.ciphertext
    assert box.open_submission(REQUEST_ID, sealed) == submission
    with pytest.raises(CipherError):
        box.open_submission(UUID(int=REQUEST_ID.int + 1), sealed)
    notice = UUID("0194a1b2-0000-7000-8000-0000000000aa")
    stored = box.seal_payload(notice, {"to": "events@example.org", "text": "hello"})
    assert "events@example.org" not in str(stored)
    assert box.open_payload(notice, stored) == {"to": "events@example.org", "text": "hello"}
    assert box.open_payload(notice, {"text": "plain"}) == {"text": "plain"}
    with pytest.raises(CipherError):
        ContactBox("other", bytes(32)).open_payload(notice, stored)


def test_a_rotated_contact_key_still_opens_what_the_previous_one_sealed() -> None:
    old_key, new_key = base64.b64encode(b"o" * 32).decode(), base64.b64encode(b"n" * 32).decode()
    submission = sample(EventRequestSubmitted)
    sealed = ContactBox.from_settings("k1", old_key).seal_submission(submission)
    rotated = ContactBox.from_settings("k2", new_key, {"k1": old_key})
    assert rotated.open_submission(REQUEST_ID, sealed) == submission
    assert rotated.seal_submission(submission).key_id == "k2"
    with pytest.raises(CipherError, match="k1"):
        ContactBox.from_settings("k2", new_key).open_submission(REQUEST_ID, sealed)
