"""Community event requests across the services as processes: the public endpoint, intake's checks,
the confirmation of the requester's address (the link e-mailed to it, opened and its button
pressed, before anything else is sent), the district CMB manager's notice, the requester's
e-mails, reminders when nobody acts, and the manager's schedule and decline through the CLI.

The module asks from a loopback address of its own (``127.x.y.z``): the rate limits are in
PostgreSQL and outlive the run (``commande`` commands ask from 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from deploy.local.services import free_port
from directory import ContactRole, load_directory
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestDeclined,
    EventRequestEvent,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
)
from schemas.reference import reference
from schemas.reference.calendar import local_date
from schemas.topics import EVENT_REQUESTS
from services.cli.event_request_cmd import resolve_windows
from services.intake.event_requests.calendar import business_deadline
from services.runtime.clock import OffsetFileClock
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.e2e.conftest import Pipeline, running_pipeline
from tests.e2e.helpers import command, events_of, mails_mentioning, move_to
from tests.support.kafka import wait_for
from tests.support.mail import session_mail

E = TypeVar("E", bound=EventRequestEvent)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "event-requests"
DIRECTORY = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
REMINDER_DAYS, ESCALATION_DAYS, BURST = 3, 2, 12
MUNICIPALITIES = {"Milton": "district_1", "Georgetown": "district_1", "Acton": "district_1",
                  "Oakville": "district_2", "Burlington": "district_3"}
LOCAL = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
"""This run's own client address (its own rate-limit bucket)."""
LINK = re.compile(r"http://127\.0\.0\.1:\d+/v1/event-requests/confirm/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@pytest.fixture(scope="module")
def pipeline(settings: Settings, keycloak: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    env = {"COMMANDE_INTAKE_EVENT_TIMER_INTERVAL_SECONDS": "1",
           "COMMANDE_INTAKE_EVENT_REMINDER_BUSINESS_DAYS": str(REMINDER_DAYS),
           "COMMANDE_INTAKE_EVENT_ESCALATION_BUSINESS_DAYS": str(ESCALATION_DAYS),
           "COMMANDE_INTAKE_EVENT_RATE_BURST": str(BURST),
           "COMMANDE_INTAKE_EVENT_RATE_PER_MINUTE": "1"}
    # notifier mails the link that confirms a requester's address: to intake's own port
    intake_port = free_port()
    env["COMMANDE_INTAKE_PUBLIC_URL"] = f"http://127.0.0.1:{intake_port}"
    # Event requests need intake, notifier and the gateway (the CMB's follow-ups). Convening
    # stays out: this module moves the shared clock days ahead, and a convening on that clock
    # would fire the real tables' timers.
    with running_pipeline(settings, tmp_path_factory.mktemp("e2e-event-requests"), env,
                          services=("intake", "notifier", "gateway"),
                          ports={"intake": intake_port}) as running:
        yield running


def role_address(district: str, role: ContactRole) -> str:
    cmb = DIRECTORY.cmb(district, datetime.now(UTC).date())
    assert cmb is not None
    return cmb.contacts_for(role)[0].address


def request_body(pipeline: Pipeline, municipality: str, *, days_ahead: int = 45,
                 email: str | None = None) -> dict[str, Any]:
    """The Milton sample moved to ``municipality``, with a fresh requester address to find mail by."""
    data = json.loads((SAMPLES / "milton-seniors-talk.json").read_text())
    for window in data["windows"]:
        window["days_ahead"] = days_ahead
    today = local_date(OffsetFileClock(pipeline.clock_file).now())
    data = resolve_windows(data, today)
    data["location"]["municipality"] = municipality
    data["requester"]["email"] = email or f"requester-{uuid.uuid4().hex[:10]}@example.org"
    return data


def browser() -> httpx.Client:
    """A client asking from this run's own loopback address."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=LOCAL), timeout=10)


def post(pipeline: Pipeline, body: dict[str, Any] | bytes) -> httpx.Response:
    url = f"http://127.0.0.1:{pipeline.procs['intake'].port}/v1/event-requests"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with browser() as client:
        return client.post(url, content=content, headers={"content-type": "application/json"})


async def confirm(settings: Settings, requester: str, request_id: str) -> None:
    """What the requester does: open the link e-mailed to them (a GET: it confirms nothing), then
    press the button (a POST on the same link)."""
    message = await mail(settings, requester, request_id, kind="event_request_confirmation")
    found = LINK.search(body_of(message))
    assert found is not None, body_of(message)
    with browser() as client:
        shown = client.get(found.group(0))
        assert shown.status_code == 200, shown.text
        assert "Confirm my e-mail address" in shown.text
        pressed = client.post(found.group(0))
    assert pressed.status_code == 200, pressed.text
    assert "your e-mail address is confirmed" in pressed.text


def submit(pipeline: Pipeline, settings: Settings, body: dict[str, Any], folder: Path) -> str:
    """``commande event-request submit FILE`` (intake's HTTP endpoint); the request id it minted."""
    file = folder / f"request-{uuid.uuid4().hex[:8]}.json"
    file.write_text(json.dumps(body))
    said = command("event-request", "submit", str(file), "--url",
                   f"http://127.0.0.1:{pipeline.procs['intake'].port}", settings=settings,
                   pipeline=pipeline)
    found = re.search(r"request ([0-9a-f-]{36})", said)
    assert found is not None, said
    return found.group(1)


def mails_to(settings: Settings, address: str, text: str) -> list[EmailMessage]:
    return [m for m in mails_mentioning(settings, text) if str(m["X-Envelope-To"]) == address]


async def answer_for(settings: Settings, request_id: str, kind: type[E]) -> E:
    async def find() -> E | None:
        hits = await events_of(settings, EVENT_REQUESTS.name, kind,
                               lambda e: str(e.request_id) == request_id)
        return hits[0] if hits else None

    return await wait_for(find, timeout=60)


async def mail(settings: Settings, address: str, text: str,
               kind: str | None = None) -> EmailMessage:
    """The first e-mail to ``address`` mentioning ``text`` (of notice ``kind``, when given)."""
    async def find() -> EmailMessage | None:
        hits = [m for m in mails_to(settings, address, text)
                if kind is None or m["X-Commande-Notice-Kind"] == kind]
        return hits[0] if hits else None

    found: EmailMessage = await wait_for(find, timeout=60)
    return found


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


async def test_a_request_in_each_municipality_reaches_its_district_manager_and_the_requester(
        pipeline: Pipeline, settings: Settings) -> None:
    sent: dict[str, tuple[str, str, str]] = {}
    for municipality, district in MUNICIPALITIES.items():
        body = request_body(pipeline, municipality)
        answer = post(pipeline, body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["district"] == district
        assert answer.json()["status"] == "awaiting_confirmation"
        sent[answer.json()["request_id"]] = (municipality, district, body["requester"]["email"])

    districts = {d.code: d.name for d in reference().districts}
    for request_id, (_, district, requester) in sent.items():
        asked = await answer_for(settings, request_id, EventRequestConfirmationRequested)
        assert asked.district == district
        only = await mail(settings, requester, request_id)  # the confirmation, and nothing else
        assert only["X-Commande-Notice-Kind"] == "event_request_confirmation"
        assert len(mails_to(settings, requester, request_id)) == 1
        assert "Sample Seniors Club" not in body_of(only)
        assert not mails_to(settings, role_address(district, ContactRole.CMB_MANAGER), request_id)
    for request_id, (_, _, requester) in sent.items():
        await confirm(settings, requester, request_id)
    for request_id, (municipality, district, requester) in sent.items():
        await answer_for(settings, request_id, EventRequestConfirmed)
        ack = await answer_for(settings, request_id, EventRequestAcknowledged)
        assert ack.district == district
        manager = await mail(settings, role_address(district, ContactRole.CMB_MANAGER), request_id)
        text = body_of(manager)
        # Everything the manager needs to call back, which never travels on a de-identified topic.
        assert requester in text
        assert "905 555 0140" in text
        assert "Sample Seniors Club Coordinator" in text
        assert municipality in text
        receipt = body_of(await mail(settings, requester, request_id,
                                     kind="event_request_acknowledgement"))
        assert districts[district] in receipt
    # The requester's details are in the e-mails only: not on the de-identified topic.
    facts = await events_of(settings, EVENT_REQUESTS.name, EventRequestEvent,
                            lambda e: str(e.request_id) in sent)
    dumped = " ".join(e.model_dump_json() for e in facts)
    assert facts
    assert not any(r in dumped for _, _, r in sent.values())
    assert "905 555 0140" not in dumped
    assert "Sample Seniors Club Coordinator" not in dumped
    # Nor in any service's log.
    for proc in pipeline.procs.values():
        logs = proc.logs()
        assert "905 555 0140" not in logs, proc.which
        assert "Sample Seniors Club Coordinator" not in logs, proc.which
        assert not any(r in logs for _, _, r in sent.values()), proc.which


async def test_29_days_out_is_rejected_with_the_earliest_acceptable_date(
        pipeline: Pipeline, settings: Settings) -> None:
    body = request_body(pipeline, "Oakville", days_ahead=29)
    answer = post(pipeline, body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    today = local_date(OffsetFileClock(pipeline.clock_file).now())
    earliest = date.fromisoformat(problem["earliest_acceptable_date"])
    assert earliest == today + timedelta(days=30)
    # e-mailed only once the requester confirms the address (it might be a stranger's)
    await confirm(settings, body["requester"]["email"], problem["request_id"])
    rejected = await answer_for(settings, problem["request_id"], EventRequestRejected)
    assert rejected.earliest_acceptable_date == earliest
    assert {r.field for r in rejected.reasons} == {"windows.0.date", "windows.1.date"}
    told = body_of(await mail(settings, body["requester"]["email"], problem["request_id"],
                              kind="event_request_outcome"))
    assert str(earliest.year) in told
    assert "earliest" in told


async def test_missing_details_are_all_named_at_once(pipeline: Pipeline, settings: Settings) -> None:
    email = f"missing-details-{uuid.uuid4().hex[:10]}@example.org"
    answer = post(pipeline, {"requester": {"email": email}})
    assert answer.status_code == 422, answer.text
    fields = {r["field"] for r in answer.json()["reasons"]}
    assert fields == {"kind", "windows", "location.municipality", "location.address_or_venue",
                      "topics", "expected_attendees", "requester.name",
                      "requester.mailing_address", "requester.daytime_phone"}
    await confirm(settings, email, answer.json()["request_id"])
    rejected = await answer_for(settings, answer.json()["request_id"], EventRequestRejected)
    assert {r.field for r in rejected.reasons} == fields


async def test_the_manager_schedules_or_declines_and_the_requester_is_told(
        pipeline: Pipeline, settings: Settings, tmp_path: Path) -> None:
    first = request_body(pipeline, "Burlington")
    second = request_body(pipeline, "Acton")
    ids = [submit(pipeline, settings, body, tmp_path) for body in (first, second)]
    for request_id, body in zip(ids, (first, second), strict=True):
        await confirm(settings, body["requester"]["email"], request_id)
        await answer_for(settings, request_id, EventRequestAcknowledged)

    day = first["windows"][0]["date"]
    command("event-request", "schedule", ids[0], "--date", day, "--start", "14:00",
            "--officer-role", "community_safety_officer",
            "--notes", "Please reserve two chairs at the front.",
            settings=settings, pipeline=pipeline, person="d3-cmb-manager")
    scheduled = await answer_for(settings, ids[0], EventRequestScheduled)
    assert scheduled.date.isoformat() == day
    told = body_of(await mail(settings, first["requester"]["email"], f"{ids[0]} is scheduled"))
    assert ids[0] in told
    assert "Please reserve two chairs" in told

    command("event-request", "decline", ids[1], "--reason", "no_capacity",
            settings=settings, pipeline=pipeline, person="d1-cmb-manager")
    await answer_for(settings, ids[1], EventRequestDeclined)
    told = body_of(await mail(settings, second["requester"]["email"],
                              f"cannot take on your community event request {ids[1]}"))
    assert "Reason:" in told


async def test_when_the_manager_does_nothing_the_manager_then_the_staff_sergeant_is_reminded(
        pipeline: Pipeline, settings: Settings, tmp_path: Path) -> None:
    """Runs after every test that needs the clock where it is: it moves the shared clock days
    ahead."""
    body = request_body(pipeline, "Georgetown", days_ahead=60)
    request_id = submit(pipeline, settings, body, tmp_path)
    await confirm(settings, body["requester"]["email"], request_id)
    ack = await answer_for(settings, request_id, EventRequestAcknowledged)
    holidays = reference().holiday_dates
    manager = role_address("district_1", ContactRole.CMB_MANAGER)
    sergeant = role_address("district_1", ContactRole.STAFF_SERGEANT)

    first_due = business_deadline(ack.acknowledged_at, REMINDER_DAYS, holidays)
    move_to(pipeline, first_due - timedelta(hours=1))
    await asyncio.sleep(3)  # three passes of the reminder loop, one hour before it is due
    assert not [m for m in mails_to(settings, manager, request_id) if "Reminder" in body_of(m)]

    move_to(pipeline, first_due + timedelta(minutes=1))
    reminder = await answer_for(settings, request_id, EventRequestReminderDue)
    assert reminder.escalate_to == "cmb_manager"
    assert "Reminder" in body_of(await mail(settings, manager, f"Reminder: community event request "
                                                             f"{request_id}"))
    assert not mails_to(settings, sergeant, request_id)

    move_to(pipeline, business_deadline(ack.acknowledged_at, REMINDER_DAYS + ESCALATION_DAYS,
                                        holidays) + timedelta(minutes=1))
    escalation = await mail(settings, sergeant, f"ESCALATION: community event request {request_id}")
    assert "without a recorded follow-up" in body_of(escalation)
    reminders = [m for m in session_mail(settings.mail_dir)
                 if request_id in body_of(m) and str(m["X-Envelope-To"]) in {manager, sergeant}]
    # The acknowledgement notice, one reminder and one escalation: each sent once.
    assert len(reminders) == 3, [str(m["X-Envelope-To"]) for m in reminders]


def test_the_public_endpoint_limits_size_and_rate(pipeline: Pipeline) -> None:
    """After the others, which also took tokens from this run's address (not
    ``commande event-request submit``'s: it asks from 127.0.0.1)."""
    too_big = post(pipeline, b'{"topics_other": "' + b"x" * 20_000 + b'"}')
    assert too_big.status_code == 413
    codes = [post(pipeline, b"not json").status_code for _ in range(BURST + 1)]
    assert codes[-1] == 429, codes
    limited = post(pipeline, b"{}")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
