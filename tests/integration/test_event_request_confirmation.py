"""A request from the public confirms its requester's address first (issue 15, item 6), on the real
stack: intake and notifier in-process on the real Kafka, PostgreSQL and SMTP sink.

* a public request gets exactly one e-mail, the confirmation, quoting nothing the requester
  wrote, and the CMB hears nothing; ``GET`` on the link confirms nothing; ``POST`` confirms, then
  the acknowledgement and the CMB manager's notice go out;
* a rejected public request: its reasons are e-mailed only after the confirmation;
* the limits are in PostgreSQL: two intake instances on the same schema allow one client address
  the rate one instance does, and one recipient gets at most its daily number of confirmation
  e-mails, from any client addresses; idle buckets and past days are pruned;
* an unconfirmed request expires at its deadline and its contact is purged, in intake and in
  notifier (last: it moves the clock).

Client addresses and e-mail addresses carry the run's tag: the limits outlive the run."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from schemas.base import Message
from schemas.envelope import from_record
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestExpired,
    EventRequestRejected,
)
from schemas.reference.calendar import ZONE
from schemas.topics import EVENT_REQUESTS
from services.intake import main as intake_main
from services.intake.event_requests.rate_limit import LimitConfig, SharedLimits
from services.intake.ingress import new_token, token_hash
from services.intake.settings import IntakeSettings
from services.intake.store import PgIntakeStore
from services.intake.vault import Vault
from services.notifier import main as notifier_main
from services.notifier.priority import Priority
from services.notifier.settings import NotifierSettings
from services.runtime.clock import ManualClock
from services.runtime.http import asgi_app
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.kafka import end_offsets, group_at_end, read_all, wait_for
from tests.support.mail import session_mail

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RUN = uuid.uuid4().hex[:8]
START = datetime.now(UTC).replace(microsecond=0)
AGENCY = "community-living"
MANAGER = "d1-cmb-manager@police.example.org"
LINK = re.compile(r"http://intake\.test/v1/event-requests/confirm/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
WRITTEN = (f"Quinn Sample {RUN}", f"Sample Walkers {RUN}", f"{RUN} Example Hall",
           f"{RUN} Sample Street, Milton, ON", "905 555 0166", f"Bike rodeo {RUN}")
"""Everything the requester wrote: none of it may reach an unconfirmed address."""


def own(address: str) -> str:
    """This run's client address for ``address`` (IPv6 documentation prefix, tagged)."""
    tail = "".join(f"{int(b):02x}" for b in address.split("."))
    return f"2001:db8:{RUN[:4]}:{RUN[4:]}::{tail[:4]}:{tail[4:]}"


def body(email: str, days_ahead: int = 45) -> dict[str, Any]:
    day = (START.astimezone(ZONE) + timedelta(days=days_ahead)).date().isoformat()
    name, org, venue, mailing, phone, topics = WRITTEN
    return {
        "kind": "speaker", "windows": [{"date": day, "start": "18:30", "end": "20:00"}],
        "location": {"municipality": "Milton", "address_or_venue": venue},
        "topics": ["fraud_scams"], "topics_other": topics, "expected_attendees": 25,
        "requester": {"name": name, "organization": org, "mailing_address": mailing,
                      "daytime_phone": phone, "email": email},
    }


def address(n: int | str) -> str:
    return f"confirm-{RUN}-{n}@example.org"


@dataclass
class Stack:
    settings: IntakeSettings
    intake: Service
    notifier: Service
    clock: ManualClock
    since: dict[int, int]
    token: str
    admin: asyncpg.Pool

    def client(self, at: str, svc: Service | None = None) -> httpx.AsyncClient:
        app = asgi_app([svc or self.intake])
        transport = httpx.ASGITransport(app=app, client=(own(at), 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://intake.test")

    async def facts(self, request_id: str, count: int = 1) -> list[Message]:
        key = request_id.encode()

        async def found() -> list[Message]:
            recs = [r for r in await read_all(self.settings, EVENT_REQUESTS.name,
                                              since=self.since) if r.key == key]
            return [from_record(r.headers, r.value).event for r in recs] \
                if len(recs) >= count else []

        got: list[Message] = await wait_for(found, timeout=60)
        return got

    def mails(self, request_id: str) -> list[EmailMessage]:
        return [m for m in session_mail(self.settings.mail_dir) if request_id in everything(m)]

    async def mail(self, request_id: str, to: str, kind: str) -> EmailMessage:
        async def found() -> EmailMessage | None:
            hits = [m for m in self.mails(request_id) if m["X-Envelope-To"] == to
                    and m["X-Commande-Notice-Kind"] == kind]
            return hits[0] if hits else None

        msg: EmailMessage = await wait_for(found, timeout=60)
        return msg

    async def status(self, request_id: str) -> str | None:
        found: str | None = await self.admin.fetchval(
            "SELECT status FROM intake.event_requests WHERE request_id = $1", UUID(request_id))
        return found


def everything(msg: EmailMessage) -> str:
    """The headers and every decoded text part (what a person could read)."""
    parts = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def ids(msgs: list[EmailMessage]) -> list[str]:
    return [str(m["Message-ID"]) for m in msgs]


def link_in(msg: EmailMessage) -> str:
    found = LINK.search(everything(msg))
    assert found is not None, everything(msg)
    return found.group(0)


@pytest.fixture(scope="module")
async def stack(settings: Settings, admin_db: asyncpg.Pool) -> AsyncIterator[Stack]:
    secret = SecretStr(f"synthetic-confirm-secret-{RUN}")
    own_intake = IntakeSettings(**{
        **settings.model_dump(), "intake_event_timer_interval_seconds": 0.2,
        "intake_event_rate_burst": 3, "intake_event_rate_per_minute": 1.0,
        "intake_event_confirmations_per_day": 2, "event_confirm_secret": secret})
    group = f"notifier-confirmation-{RUN}"  # only what this module publishes, not the backlog
    await group_at_end(settings, group, [t.name for t in notifier_main.TOPICS])
    own_notifier = NotifierSettings(**{
        **settings.model_dump(), "event_confirm_secret": secret, "notifier_group": group,
        "intake_public_url": "http://intake.test", "notifier_poll_interval": 0.1,
        "notifier_backoff_base": 0.05, "notifier_backoff_cap": 0.2})
    clock = ManualClock(START)
    since = await end_offsets(settings, EVENT_REQUESTS.name)
    intake = intake_main.build(own_intake, clock=clock)
    notifier = notifier_main.build(own_notifier)
    await intake.faststream.start()
    await notifier.faststream.start()
    token = new_token()
    async with intake.pool.acquire() as conn:
        await PgIntakeStore(conn).add_token(token_hash(token), AGENCY, START, START + timedelta(days=30))
    try:
        yield Stack(own_intake, intake, notifier, clock, since, token, admin_db)
    finally:
        await notifier.faststream.stop()
        await intake.faststream.stop()


async def test_the_only_mail_before_confirmation_is_the_link_and_get_confirms_nothing(
        stack: Stack) -> None:
    requester = address(1)
    async with stack.client("198.51.100.21") as client:
        resp = await client.post("/v1/event-requests", json=body(requester))
        assert resp.status_code == 202, resp.text
        assert resp.json()["status"] == "awaiting_confirmation"
        rid = resp.json()["request_id"]

        confirmation = await stack.mail(rid, requester, "event_request_confirmation")
        read = everything(confirmation)
        assert f"Confirm your community event request {rid}" in str(confirmation["Subject"])
        assert "1 District" in read
        for text in WRITTEN:  # nothing the requester wrote reaches an unconfirmed address
            assert text not in read, text
        link = link_in(confirmation)
        assert requester not in link
        # the requester is at their browser: the confirmation is taken before routine notices
        assert await stack.admin.fetchval(
            "SELECT priority FROM notifier.notices WHERE request_id = $1 AND kind = $2",
            UUID(rid), "event_request_confirmation") == int(Priority.URGENT)
        await asyncio.sleep(3)  # notifier polls every 0.1 s: anything else would be out by now
        assert ids(stack.mails(rid)) == ids([confirmation])  # exactly one e-mail, and none to the CMB
        (asked,) = await stack.facts(rid)
        assert isinstance(asked, EventRequestConfirmationRequested)

        shown = await client.get(link)  # a mail scanner, or a person opening the link
        assert shown.status_code == 200, shown.text
        assert rid in shown.text
        assert '<form method="post">' in shown.text
        assert shown.headers["Referrer-Policy"] == "no-referrer"
        for text in WRITTEN:
            assert text not in shown.text
        await asyncio.sleep(1.5)
        assert await stack.status(rid) == "awaiting_confirmation"
        assert len(await stack.facts(rid)) == 1
        assert ids(stack.mails(rid)) == ids([confirmation])

        confirmed = await client.post(link)  # the button
        assert confirmed.status_code == 200, confirmed.text
        assert "your e-mail address is confirmed" in confirmed.text
        _, done, ack = await stack.facts(rid, count=3)
        assert isinstance(done, EventRequestConfirmed)
        assert isinstance(ack, EventRequestAcknowledged)
        assert (ack.district, ack.organization_request) == ("district_1", False)
        notice = everything(await stack.mail(rid, MANAGER, "event_request"))
        for text in WRITTEN:  # now the CMB manager gets everything needed to call back
            assert text in notice, text
        told = everything(await stack.mail(rid, requester, "event_request_acknowledgement"))
        assert f"Dear {WRITTEN[0]}" in told

        again = await client.post(link)
        assert again.status_code == 200
        assert "already confirmed" in again.text
    await asyncio.sleep(1.5)
    assert len(await stack.facts(rid)) == 3
    assert await stack.status(rid) == "acknowledged"


async def test_a_rejected_request_is_mailed_its_reasons_only_once_confirmed(stack: Stack) -> None:
    requester = address(2)
    async with stack.client("198.51.100.22") as client:
        resp = await client.post("/v1/event-requests", json=body(requester, days_ahead=20))
        assert resp.status_code == 422, resp.text
        assert [r["code"] for r in resp.json()["reasons"]] == ["notice_too_short"]
        rid = resp.json()["request_id"]
        confirmation = await stack.mail(rid, requester, "event_request_confirmation")
        await asyncio.sleep(2)
        assert ids(stack.mails(rid)) == ids([confirmation])  # no rejection mailed to a stranger
        answered = await client.post(link_in(confirmation))
    assert answered.status_code == 200
    assert "cannot be accepted" in answered.text
    _, _, rejected = await stack.facts(rid, count=3)
    assert isinstance(rejected, EventRequestRejected)
    outcome = everything(await stack.mail(rid, requester, "event_request_outcome"))
    assert "could not accept" in outcome
    assert "earliest date" in outcome


async def test_two_intake_instances_share_the_client_limit(stack: Stack) -> None:
    """One client address, three tokens (burst 3), asking both instances in turn: the fourth
    request is refused whichever instance gets it (per process, each allowed three)."""
    second = intake_main.build(stack.settings, clock=stack.clock)
    await second.faststream.start()
    try:
        codes = []
        for n, svc in enumerate((stack.intake, second, stack.intake, second, stack.intake)):
            async with stack.client("198.51.100.23", svc) as client:
                resp = await client.post("/v1/event-requests", json=body(address(f"pair-{n}")))
            codes.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.json()["type"] == "urn:commande:problem:too_many_requests"
        assert codes == [202, 202, 202, 429, 429]
        async with stack.client("198.51.100.24", second) as other:  # another address: its own
            assert (await other.post("/v1/event-requests",
                                     json=body(address("pair-5")))).status_code == 202
    finally:
        await second.faststream.stop()


async def test_one_recipient_gets_at_most_its_daily_confirmations_from_any_client(
        stack: Stack) -> None:
    """Two per day here: a third request naming the same inbox (another case, another +tag,
    another client address) is refused and records nothing; an organization still may."""
    inbox = f"inbox-{RUN}@example.org"
    variants = (f"inbox-{RUN}+a@example.org", f"INBOX-{RUN}@Example.org",
                f"inbox-{RUN}+b@example.org")
    codes, ids = [], []
    for n, email in enumerate(variants):
        async with stack.client(f"198.51.100.{30 + n}") as client:
            resp = await client.post("/v1/event-requests", json=body(email))
        codes.append(resp.status_code)
        ids.append(resp.json().get("request_id"))
    assert codes == [202, 202, 429]
    assert ids[2] is None  # nothing recorded
    async with stack.client("198.51.100.33") as client:
        refused = await client.post("/v1/event-requests", json=body(inbox))
        assert refused.status_code == 429
        assert refused.json()["type"] == "urn:commande:problem:too_many_confirmations"
        assert 1 <= int(refused.headers["Retry-After"]) <= 25 * 3600
        org = await client.post("/v1/event-requests", json=body(inbox),
                                headers={"Authorization": f"Bearer {stack.token}"})
        assert org.status_code == 202, org.text  # no confirmation e-mail: not limited
        assert org.json()["status"] == "received"
    for rid, email in zip(ids[:2], variants, strict=False):
        await stack.mail(rid, email, "event_request_confirmation")
    await asyncio.sleep(2)
    sent = [m for m in session_mail(stack.settings.mail_dir)
            if m["X-Commande-Notice-Kind"] == "event_request_confirmation"
            and str(m["X-Envelope-To"]).lower().replace("+a", "").replace("+b", "") == inbox]
    assert len(sent) == 2


async def test_idle_buckets_and_past_days_are_pruned(stack: Stack) -> None:
    limits = SharedLimits(LimitConfig(burst=1, per_minute=600), Vault.development().fingerprint)
    client = own("198.51.100.40")
    key = limits.client_key(client)

    async def buckets() -> int:
        n: int = await stack.admin.fetchval(
            "SELECT count(*) FROM intake.event_rate_buckets WHERE client_key = $1", key)
        return n

    async with stack.intake.pool.acquire() as conn:
        bound = limits.bound(conn)
        assert await bound.take(client) is None
        assert await bound.take(client) is not None  # burst 1: empty
        await bound.prune()
        assert await buckets() == 1  # not full yet (0.1 s at 10 tokens a second)
        await asyncio.sleep(0.3)
        await bound.prune()
        assert await buckets() == 0
        assert await bound.take(client) is None  # no row is a full bucket

    # yesterday's count (Halton time) goes at the service's next pass
    old = limits.recipient_key(f"old-{RUN}@example.org")
    await stack.admin.execute(
        "INSERT INTO intake.event_confirmation_counts (recipient_key, day, sent) "
        "VALUES ($1, (now() AT TIME ZONE 'America/Toronto')::date - 1, 1)", old)

    async def pruned() -> bool:
        return not await stack.admin.fetchval(
            "SELECT count(*) FROM intake.event_confirmation_counts WHERE recipient_key = $1", old)

    assert await wait_for(pruned, timeout=10)


async def test_an_unconfirmed_request_expires_and_its_contact_is_purged(stack: Stack) -> None:
    """Last: it moves the module's clock past the deadline."""
    requester = address(3)
    async with stack.client("198.51.100.25") as client:
        resp = await client.post("/v1/event-requests", json=body(requester))
        assert resp.status_code == 202, resp.text
        rid = resp.json()["request_id"]
        confirmation = await stack.mail(rid, requester, "event_request_confirmation")
        link = link_in(confirmation)
        (asked,) = await stack.facts(rid)
        assert isinstance(asked, EventRequestConfirmationRequested)

        async def contacts() -> tuple[int, int]:
            kept = await stack.admin.fetchval(
                "SELECT count(*) FROM intake.event_request_contacts WHERE request_id = $1",
                UUID(rid))
            copied = await stack.admin.fetchval(
                "SELECT count(*) FROM notifier.event_request_contacts WHERE request_id = $1",
                UUID(rid))
            return kept, copied

        assert await contacts() == (1, 1)
        stack.clock.set(asked.expires_at - timedelta(minutes=1))
        await asyncio.sleep(1)  # five passes of the timer loop
        assert await stack.status(rid) == "awaiting_confirmation"
        stack.clock.set(asked.expires_at)
        _, expired, purged = await stack.facts(rid, count=3)
        assert isinstance(expired, EventRequestExpired)
        assert isinstance(purged, EventRequestContactPurged)
        assert await stack.status(rid) == "expired"

        async def gone() -> bool:
            return await contacts() == (0, 0)

        assert await wait_for(gone, timeout=30)
        late = await client.post(link)
        assert late.status_code == 410
        assert "expired" in late.text
    await asyncio.sleep(1)
    assert len(await stack.facts(rid)) == 3
    assert ids(stack.mails(rid)) == ids([confirmation])  # nothing but the confirmation, ever
