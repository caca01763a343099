"""Notifier and community event requests on the real stack: real Kafka, PostgreSQL, SMTP sink.

The events are published directly (intake's part is not running); notifier runs in-process. Each
run tags the directory's e-mail addresses and the requesters' addresses with a run tag, so this
run's e-mails are told apart in the shared sink.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, time
from email.message import EmailMessage
from uuid import UUID

import asyncpg
import pytest
import yaml
from pydantic import SecretStr
from uuid6 import uuid7

from schemas.base import Message
from schemas.event_requests import (
    EventLocation,
    EventRequestAcknowledged,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    Requester,
    ScheduleEventRequest,
)
from schemas.notices import PUBLIC_REQUESTER, NoticeDelivered, NoticeFailed
from schemas.referrals import Reason
from schemas.topics import NOTICES
from services.notifier.main import build
from services.notifier.settings import NotifierSettings
from services.runtime.events import decode, emit
from services.runtime.kafka import Producer
from services.runtime.service import Service
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.support.kafka import HARNESS, read_all, wait_for
from tests.support.mail import session_mail
from tests.support.samples import sample

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
SOURCE = "/commande/tests/notifier-event-requests"
HALTON = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
PHONE = "+1 905 555 0142"


def _tagged(address: str) -> str:
    local, domain = address.split("@")
    return f"{local}+{RUN}@{domain}"


@dataclass
class Stack:
    settings: NotifierSettings
    svc: Service
    producer: Producer
    admin: asyncpg.Pool


@pytest.fixture(scope="module")
async def stack(settings: Settings, admin_db: asyncpg.Pool,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("notifier-event-requests")
    data = yaml.safe_load(HALTON.read_text())
    for org in data["organizations"]:
        for contact in org["contacts"]:
            if contact["channel"] == "email":
                contact["address"] = _tagged(contact["address"])
    directory = folder / "directory.yaml"
    directory.write_text(yaml.safe_dump(data, sort_keys=False))
    ns = NotifierSettings(**{
        **settings.model_dump(), "notifier_directory": directory,
        "notifier_ack_secret": SecretStr("synthetic-ack-secret-" + RUN),
        "notifier_contact_key": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        "notifier_contact_key_id": "test-" + RUN,
        "notifier_backoff_base": 0.05, "notifier_backoff_cap": 0.2,
        "notifier_poll_interval": 0.1, "notifier_public_url": "http://notifier.test"})
    svc = build(ns)
    producer = Producer(settings, HARNESS, client_id=f"test-notifier-er-{RUN}")
    await producer.start()
    await svc.faststream.start()
    try:
        yield Stack(ns, svc, producer, admin_db)
        await _purge_this_runs_contacts(Stack(ns, svc, producer, admin_db))
    finally:
        await svc.faststream.stop()
        await producer.stop()


async def _purge_this_runs_contacts(stack: Stack) -> None:
    """Leave nothing sealed to this run's throwaway key on the shared stack: purge each contact
    it kept the way intake does, so a later run or `make demo` (another key, the clock moved on)
    ends its notices as `contact_purged` instead of dead-lettering them (CipherError)."""
    key_id = stack.settings.notifier_contact_key_id
    kept = "SELECT request_id FROM notifier.event_request_contacts WHERE key_id = $1"
    requests = [r["request_id"] for r in await stack.admin.fetch(kept, key_id)]
    await send(stack, *(sample(EventRequestContactPurged, request_id=rid) for rid in requests))

    async def gone() -> bool | None:
        return not await stack.admin.fetch(kept, key_id) or None

    await wait_for(gone, timeout=60)


# -- helpers ------------------------------------------------------------------------------------


async def send(stack: Stack, *events: Message) -> list[UUID]:
    records = [emit(e, source=SOURCE) for e in events]
    await stack.producer.send_many(records)
    return [UUID(dict(r.headers)["ce_id"].decode()) for r in records]


def text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def mails_about(stack: Stack, request: UUID) -> list[EmailMessage]:
    return [m for m in session_mail(stack.settings.mail_dir, to=f"+{RUN}@")
            if str(request) in str(m["Subject"])]


async def expect_mails(stack: Stack, request: UUID, n: int) -> list[EmailMessage]:
    async def found() -> list[EmailMessage] | None:
        got = mails_about(stack, request)
        return got if len(got) >= n else None

    return list(await wait_for(found, timeout=60))


def to(msgs: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in msgs if m["X-Envelope-To"] == address]


def requester_address(n: int = 0) -> str:
    return f"req{n}+{RUN}@example.org"


def submission(request: UUID, municipality: str = "Milton", n: int = 0,
               **changes: object) -> EventRequestSubmitted:
    who = Requester(name=f"Sample Requester {RUN}", organization="Sample Community Association",
                    mailing_address=f"{n} Example Street, {municipality}, ON",
                    daytime_phone=PHONE, email=requester_address(n))
    return sample(EventRequestSubmitted, request_id=request, requester=who,
                  location=EventLocation(municipality=municipality,
                                         address_or_venue=f"Sample Hall {n}"), **changes)


async def notices_for(stack: Stack, causes: list[UUID]) -> list[Message]:
    out: list[Message] = []
    for rec in await read_all(stack.settings, NOTICES.name):
        event = decode(rec).event
        if isinstance(event, NoticeDelivered | NoticeFailed) and event.cause_id in causes:
            out.append(event)
    return out


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("municipality", "code", "district", "n"), [
    ("Milton", "milton", "district_1", 1), ("Georgetown", "halton_hills", "district_1", 1),
    ("Acton", "halton_hills", "district_1", 1), ("Oakville", "oakville", "district_2", 2),
    ("Burlington", "burlington", "district_3", 3)])
async def test_the_district_cmb_manager_and_the_requester_get_the_acknowledgement(
        stack: Stack, municipality: str, code: str, district: str, n: int) -> None:
    request = uuid7()
    await send(stack, submission(request, municipality, n),
               sample(EventRequestAcknowledged, request_id=request, district=district,
                      municipality=code, topics=("seniors_safety", "fraud_scams"),
                      expected_attendees=75))
    got = await expect_mails(stack, request, 2)
    [manager] = to(got, _tagged(f"d{n}-cmb-manager@police.example.org"))
    assert manager["X-Commande-Notice-Kind"] == "event_request"
    body = text(manager)
    for needed in (str(request), "an officer to speak", "18:30 to 20:00", f"Sample Hall {n}",
                   "Seniors' safety", "Fraud and scams", "75", f"{n} District",
                   f"Sample Requester {RUN}", "Sample Community Association",
                   f"{n} Example Street, {municipality}, ON", PHONE, requester_address(n),
                   f"commande event-request schedule {request}",
                   f"commande event-request decline {request}"):
        assert needed in body, needed
    [ack] = to(got, requester_address(n))
    assert ack["X-Commande-Notice-Kind"] == "event_request_acknowledgement"
    assert str(request) in text(ack)
    assert f"{n} District" in text(ack)
    assert _tagged(f"d{n}-cmb-manager@police.example.org") in text(ack)
    assert "acknowledge this notice" not in text(ack).lower()
    for msg in got:  # headers carry no identity: nothing but the e-mail itself
        headers = "\n".join(f"{k}: {v}" for k, v in msg.items() if k not in ("To", "X-Envelope-To"))
        assert f"Sample Requester {RUN}" not in headers
        assert PHONE not in headers
        assert requester_address(n) not in headers


async def test_a_rejection_names_every_reason_and_the_earliest_date(stack: Stack) -> None:
    request = uuid7()
    reasons = (Reason(code="notice_too_short", field="windows",
                      message="Every preferred date must be at least 30 days after the request."),
               Reason(code="attendees_missing", field="expected_attendees",
                      message="Say how many people are expected."))
    [cause, _] = await send(
        stack, sample(EventRequestRejected, request_id=request, reasons=reasons,
                      earliest_acceptable_date=date(2026, 2, 4)),
        submission(request))
    [msg] = await expect_mails(stack, request, 1)
    assert msg["X-Envelope-To"] == requester_address()
    assert msg["X-Commande-Notice-Kind"] == "event_request_outcome"
    for r in reasons:
        assert r.message in text(msg)
    assert "Wednesday 4 February 2026" in text(msg)
    [delivered] = await wait_for(lambda: notices_for(stack, [cause]), timeout=30)
    assert isinstance(delivered, NoticeDelivered)
    assert delivered.recipient_agency == PUBLIC_REQUESTER


async def test_reminders_go_to_the_manager_then_the_staff_sergeant(stack: Stack) -> None:
    request = uuid7()
    await send(stack, submission(request, "Oakville", 2),
               sample(EventRequestReminderDue, request_id=request, district="district_2",
                      escalate_to="cmb_manager", business_days_waiting=3),
               sample(EventRequestReminderDue, request_id=request, district="district_2",
                      escalate_to="staff_sergeant", business_days_waiting=5))
    got = await expect_mails(stack, request, 2)
    [reminder] = to(got, _tagged("d2-cmb-manager@police.example.org"))
    [escalation] = to(got, _tagged("d2-staff-sergeant@police.example.org"))
    assert "3 business days" in text(reminder)
    assert "Reminder" in str(reminder["Subject"])
    assert "5 business days" in text(escalation)
    assert "Escalation" in str(escalation["Subject"])
    for msg in (reminder, escalation):
        assert msg["X-Commande-Notice-Kind"] == "event_request_reminder"
        assert PHONE in text(msg)
        assert f"Sample Requester {RUN}" in text(msg)


async def test_the_requester_is_told_of_schedule_decline_and_withdrawal(stack: Stack) -> None:
    scheduled, declined, withdrawn = uuid7(), uuid7(), uuid7()
    await send(
        stack, submission(scheduled, n=4), submission(declined, n=5),
        submission(withdrawn, n=6),
        sample(EventRequestScheduled, request_id=scheduled, date=date(2026, 3, 3),
               start=time(18, 30), officer_role="community_safety_officer",
               notes="Projector on site."),
        sample(EventRequestDeclined, request_id=declined, reason="no_capacity",
               note="Please ask again for another week."),
        sample(EventRequestWithdrawn, request_id=withdrawn, reason="event_cancelled"))
    [s] = await expect_mails(stack, scheduled, 1)
    [d] = await expect_mails(stack, declined, 1)
    [w] = await expect_mails(stack, withdrawn, 1)
    assert (s["X-Envelope-To"], d["X-Envelope-To"], w["X-Envelope-To"]) == (
        requester_address(4), requester_address(5), requester_address(6))
    for needed in ("Tuesday 3 March 2026", "18:30", "Community safety officer",
                   "Projector on site."):
        assert needed in text(s)
    assert "No officer available" in text(d)
    assert "Please ask again for another week." in text(d)
    assert "Event cancelled" in text(w)


async def test_a_fact_seen_before_its_submission_waits_for_it(stack: Stack) -> None:
    request = uuid7()
    [ack] = await send(stack, sample(EventRequestAcknowledged, request_id=request,
                                     district="district_3", municipality="burlington"))

    async def parked() -> bool:
        return bool(await stack.admin.fetchval(
            "SELECT true FROM notifier.event_request_waiting WHERE cause_id = $1", ack))

    await wait_for(parked, timeout=30)
    assert not mails_about(stack, request)
    assert not await notices_for(stack, [ack])
    await send(stack, submission(request, "Burlington", 3))
    got = await expect_mails(stack, request, 2)
    assert to(got, _tagged("d3-cmb-manager@police.example.org"))
    assert to(got, requester_address(3))
    assert not await parked()


async def test_purge_deletes_the_contact_and_fails_what_can_no_longer_be_sent(
        stack: Stack) -> None:
    request, never_submitted = uuid7(), uuid7()
    await send(stack, submission(request),
               sample(EventRequestAcknowledged, request_id=request))
    await expect_mails(stack, request, 2)

    async def contact_rows(rid: UUID) -> int:
        n: int = await stack.admin.fetchval(
            "SELECT count(*) FROM notifier.event_request_contacts WHERE request_id = $1", rid)
        return n

    assert await contact_rows(request) == 1
    sealed = await stack.admin.fetchrow(
        "SELECT ciphertext FROM notifier.event_request_contacts WHERE request_id = $1", request)
    assert sealed is not None
    assert RUN.encode() not in bytes(sealed["ciphertext"])
    waiting = await send(stack, sample(EventRequestDeclined, request_id=never_submitted,
                                       reason="no_capacity"))
    await send(stack, sample(EventRequestContactPurged, request_id=request),
               sample(EventRequestContactPurged, request_id=never_submitted))
    await wait_for(lambda: _purged(stack, request), timeout=30)
    assert await contact_rows(request) == 0

    late = await send(stack, sample(EventRequestScheduled, request_id=request),
                      submission(never_submitted))
    causes = [*waiting, late[0]]

    async def failures() -> list[NoticeFailed] | None:
        got = [e for e in await notices_for(stack, causes) if isinstance(e, NoticeFailed)]
        return got if len(got) >= 2 else None

    failed = await wait_for(failures, timeout=30)
    assert sorted((f.cause_id, f.error, f.permanent, f.recipient_agency) for f in failed) == sorted(
        (c, "contact_purged", True, PUBLIC_REQUESTER) for c in causes)
    assert await contact_rows(never_submitted) == 0  # a submission after the purge is not kept
    assert not mails_about(stack, never_submitted)
    assert len(mails_about(stack, request)) == 2


async def _purged(stack: Stack, request: UUID) -> bool:
    return bool(await stack.admin.fetchval(
        "SELECT true FROM notifier.event_request_purged WHERE request_id = $1", request))


async def test_nothing_identifying_on_the_notices_topic_or_in_notifier_rows(stack: Stack) -> None:
    request = uuid7()
    causes = await send(stack, submission(request, n=7),
                        sample(EventRequestAcknowledged, request_id=request),
                        sample(ScheduleEventRequest, request_id=request),  # skipped by notifier
                        sample(EventRequestScheduled, request_id=request))
    await expect_mails(stack, request, 3)

    async def delivered() -> list[Message] | None:
        got = await notices_for(stack, causes)
        return got if len(got) >= 3 else None

    await wait_for(delivered, timeout=30)
    identifying = (f"Sample Requester {RUN}", requester_address(7), PHONE, "7 Example Street")
    for rec in await read_all(stack.settings, NOTICES.name):
        raw = rec.value + b"".join(v for _, v in rec.headers) + (rec.key or b"")
        for word in identifying:
            assert word.encode() not in raw
    rows = await stack.admin.fetch(
        "SELECT recipient_key, address, payload::text AS payload FROM notifier.notices "
        "WHERE request_id = $1", request)
    assert len(rows) == 3
    for row in rows:
        for word in identifying:
            assert word not in f"{row['recipient_key']} {row['address']} {row['payload']}"
