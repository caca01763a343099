"""Notifier on the real stack: real Kafka, PostgreSQL, the SMTP sink and a local HTTPS receiver.

Each run rewrites the sample directory's role addresses with a run tag (``table+<run>@...``) and
points its webhooks at a receiver this module starts, so the e-mails and requests of this run are
told apart from those of anyone else using the shared stack. Events carry fresh ids.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, get_args
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn
import yaml
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uuid6 import uuid7

from directory import load_directory
from schemas.base import Actor, Message
from schemas.commands import AssignAgencies
from schemas.disclosures import DisclosureSealed
from schemas.errors import ConfigurationError
from schemas.meetings import (
    AgendaIssued,
    AgendaItem,
    AgendaMeeting,
    CommandRejected,
    MeetingScheduled,
)
from schemas.notices import NoticeAcknowledged, NoticeDelivered, NoticeFailed, NoticeKind
from schemas.referrals import ReferralRejected
from schemas.situations import (
    AgenciesAssigned,
    AgencyTask,
    SituationConcluded,
    SituationOpened,
    SlaBreached,
    SlaWarning,
)
from schemas.topics import DLQ, NOTICES
from services.notifier import tokens
from services.notifier.channels import DeliveryError
from services.notifier.channels.mime import Mail, build_message
from services.notifier.channels.smtp import SmtpChannel
from services.notifier.main import build
from services.notifier.model import Rendered, notice_id
from services.notifier.settings import NotifierSettings
from services.runtime.events import decode, emit
from services.runtime.kafka import Producer
from services.runtime.service import Service
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.tls import stack_server_pem
from tests.support.kafka import HARNESS, read_all, wait_for
from tests.support.mail import session_mail
from tests.support.samples import sample, summary

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ACK_SECRET = "synthetic-ack-secret-" + RUN
SOURCE = "/commande/tests/notifier"
NARRATIVE = summary().narrative
HALTON = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"


# -- a local HTTPS webhook receiver -------------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    held: bool = False


@dataclass
class Receiver:
    """Records every request; answers each path with its scripted statuses, then 200."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    hold: tuple[str, asyncio.Event] | None = None
    """(text, event): the next request whose body has this text is answered once event is set."""

    async def handle(self, request: Request) -> Response:
        path = request.url.path.strip("/").split("/")[0]
        plan = self.script.get(path, [])
        status = plan.pop(0) if plan else 200
        hit = Hit(path, dict(request.headers), await request.body(), status)
        self.hits.append(hit)
        if self.hold is not None and self.hold[0].encode() in hit.body:
            held, self.hold = self.hold[1], None
            hit.held = True
            await held.wait()
        return Response(status_code=status)

    def for_notice(self, notice: UUID | str) -> list[Hit]:
        return [h for h in self.hits if h.headers.get("idempotency-key") == str(notice)]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "receiver.crt", folder / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


# -- the run's directory ------------------------------------------------------------------------


def _tagged(address: str) -> str:
    local, domain = address.split("@")
    return f"{local}+{RUN}@{domain}"


def run_directory(folder: Path, port: int) -> Path:
    data = yaml.safe_load(HALTON.read_text())
    for org in data["organizations"]:
        for contact in org["contacts"]:
            if contact["channel"] == "email":
                contact["address"] = _tagged(contact["address"])
            else:
                contact["address"] = f"https://127.0.0.1:{port}/{org['agency_id']}/{RUN}"
    path = folder / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- fixtures -----------------------------------------------------------------------------------


@dataclass
class Stack:
    settings: NotifierSettings
    svc: Service
    receiver: Receiver
    producer: Producer
    admin: asyncpg.Pool


@pytest.fixture(scope="module")
async def stack(settings: Settings, admin_db: asyncpg.Pool,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("notifier")
    cert, key = _self_signed(folder)
    receiver = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.port = sock.getsockname()[1]
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, ssl_certfile=str(cert), ssl_keyfile=str(key),
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_for(lambda: _started(server), timeout=10)
    ns = NotifierSettings(
        **{**settings.model_dump(), "notifier_directory": run_directory(folder, receiver.port),
           "notifier_ack_secret": SecretStr(ACK_SECRET),
           "notifier_webhook_secrets": {a: SecretStr(f"hook-secret-{a}") for a in (
               "mental-health-assoc", "housing-services")},
           "notifier_webhook_ca_file": cert, "notifier_webhook_timeout": 5.0,
           "notifier_backoff_base": 0.05, "notifier_backoff_cap": 0.2,
           "notifier_max_attempts": 5, "notifier_poll_interval": 0.1,
           "notifier_public_url": "http://notifier.test"})
    svc = build(ns)
    producer = Producer(settings, HARNESS, client_id=f"test-notifier-{RUN}")
    await producer.start()
    await svc.faststream.start()
    st = Stack(ns, svc, receiver, producer, admin_db)
    try:
        yield st
    finally:
        await st.svc.faststream.stop()  # the restart test replaces the instance
        await producer.stop()
        server.should_exit = True
        await serving


async def _started(server: uvicorn.Server) -> bool:
    return server.started


# -- helpers ------------------------------------------------------------------------------------


async def send(stack: Stack, *events: Message) -> list[UUID]:
    records = [emit(e, source=SOURCE) for e in events]
    await stack.producer.send_many(records)
    return [UUID(dict(r.headers)["ce_id"].decode()) for r in records]


def mails(stack: Stack, *needles: str) -> list[EmailMessage]:
    """This run's e-mails whose text mentions one of ``needles``."""
    return [m for m in session_mail(stack.settings.mail_dir, to=f"+{RUN}@")
            if any(n in text(m) for n in needles)]


def caused_by(stack: Stack, causes: list[UUID]) -> set[str]:
    """Every notice id the events ``causes`` could give (any recipient of the run's directory,
    any kind). Other services on the shared stack react to our events with events of their own
    (convening refuses our command, schedules our situation); their notices are not ours."""
    directory = load_directory(stack.settings.notifier_directory)
    keys = [f"{o.agency_id}/{c.role.value}/{c.address}" for o in directory.organizations
            for c in o.contacts]
    return {str(notice_id(cause, key, kind)) for cause in causes for key in keys
            for kind in get_args(NoticeKind)}


def ours(msgs: list[EmailMessage], ids: set[str]) -> list[EmailMessage]:
    return [m for m in msgs if str(m["Message-ID"]).strip("<>").split("@")[0] in ids]


def text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def notices(stack: Stack, cause: UUID) -> list[Message]:
    out: list[Message] = []
    for rec in await read_all(stack.settings, NOTICES.name):
        event = decode(rec).event
        if isinstance(event, NoticeDelivered | NoticeFailed) and event.cause_id == cause:
            out.append(event)
    return out


def verify_signature(hit: Hit, agency: str) -> None:
    fields = dict(part.split("=", 1) for part in hit.headers["x-commande-signature"].split(","))
    expected = hmac.new(f"hook-secret-{agency}".encode(), fields["t"].encode() + b"." + hit.body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(int(fields["t"]) - dt.datetime.now(dt.UTC).timestamp()) < 120


# -- tests --------------------------------------------------------------------------------------


async def test_each_kind_reaches_exactly_its_recipients_at_its_privacy_level(stack: Stack) -> None:
    situation, meeting, ref = uuid7(), uuid7(), f"NOTIFIER-{RUN}"
    now = dt.datetime.now(dt.UTC)
    item = AgendaItem(position=1, situation_id=situation, priority="routine", summary=summary())
    command = sample(AssignAgencies, situation_id=situation,
                     actor=Actor(agency_id="hrps-cmb-d1", role="table_chair"))
    command_id = (await send(stack, command))[0]
    facts = AgendaMeeting(district="district_1", kind="regular", starts_at=now + dt.timedelta(days=2),
                          ends_at=now + dt.timedelta(days=2, hours=2),
                          venue="Synthetic station room 4, as the agenda says")
    causes = await send(
        stack,
        sample(MeetingScheduled, meeting_id=meeting, starts_at=now + dt.timedelta(days=2),
               ends_at=now + dt.timedelta(days=2, hours=2), venue="Synthetic station room 4"),
        # First agendas carry their meeting's facts; the updates are as issued before agendas
        # did (no facts): notifier then takes them from MeetingScheduled.
        sample(AgendaIssued, meeting_id=meeting, agency_id="housing-services", items=(item,),
               meeting=facts),
        sample(AgendaIssued, meeting_id=meeting, agency_id="youth-mental-health", items=(item,),
               meeting=facts),
        sample(AgendaIssued, meeting_id=meeting, agency_id="housing-services", kind="update",
               revision=2, items=(item,), meeting=None),
        # town-milton opted out of non-essential notices: no agenda update for it.
        sample(AgendaIssued, meeting_id=meeting, agency_id="town-milton", kind="update",
               revision=2, items=(item,), meeting=None),
        sample(SituationOpened, situation_id=situation, originating_agency="addiction-services"),
        sample(AgenciesAssigned, situation_id=situation, meeting_id=meeting,
               lead=AgencyTask(agency_id="housing-services"),
               assisting=(AgencyTask(agency_id="public-health"),)),
        sample(DisclosureSealed, situation_id=situation, disclosure_id=uuid7(),
               recipient_agency="public-health", disclosing_agency="addiction-services"),
        sample(DisclosureSealed, situation_id=situation, disclosure_id=uuid7(),
               recipient_agency="mental-health-assoc", disclosing_agency="addiction-services"),
        sample(SlaWarning, situation_id=situation, district="district_1",
               agency_id="housing-services"),
        sample(SlaBreached, situation_id=situation, district="district_1",
               agency_id="housing-services"),
        sample(SituationConcluded, situation_id=situation, meeting_id=meeting),
        sample(CommandRejected, command_id=command_id, target_id=situation, actor=command.actor),
        sample(ReferralRejected, agency_id="public-health", referral_ref=ref),
    )
    expected = Counter({
        ("invitation", _tagged("table@housing.example.org")): 1,
        ("invitation", _tagged("table@youthwellbeing.example.org")): 1,
        ("agenda", _tagged("table@housing.example.org")): 1,
        ("assignment", _tagged("table@housing.example.org")): 1,
        ("assignment", _tagged("table@publichealth.example.org")): 1,
        ("disclosure", _tagged("privacy@publichealth.example.org")): 1,
        ("sla_warning", _tagged("d1-staff-sergeant@police.example.org")): 1,
        ("sla_warning", _tagged("table@housing.example.org")): 1,
        ("escalation", _tagged("d1-staff-sergeant@police.example.org")): 1,
        ("referral_status", _tagged("intake@addictionsupport.example.org")): 1,
        ("command_rejected", _tagged("d1-commande-chair@police.example.org")): 1,
        ("referral_status", _tagged("intake@publichealth.example.org")): 1,
    })
    needles = (str(situation), str(meeting), ref)
    mine = caused_by(stack, causes)
    await wait_for(lambda: _count(stack, needles, mine, expected.total()), timeout=60)
    await wait_for(lambda: _hits(stack, "mental-health-assoc"), timeout=30)
    await asyncio.sleep(1.5)  # anything extra would arrive now
    got = ours(mails(stack, *needles), mine)
    assert Counter((m["X-Commande-Notice-Kind"], m["X-Envelope-To"]) for m in got) == expected

    venues = Counter((msg["X-Commande-Notice-Kind"], "as the agenda says" in text(msg))
                     for msg in got if msg["X-Commande-Notice-Kind"] in ("invitation", "agenda"))
    assert venues == {("invitation", True): 2, ("agenda", False): 1}, (
        "the meeting's facts from the agenda, else from MeetingScheduled")
    for msg in got:
        kind, body = msg["X-Commande-Notice-Kind"], text(msg)
        subject = str(msg["Subject"])
        for word in ("Narrative", "Synthetic sample", "Risk", "eviction", "25-29", "Woman"):
            assert word not in subject
        assert re.match(r"^<[0-9a-f-]{36}@halton-police\.example\.org>$", str(msg["Message-ID"]))
        assert "http://notifier.test/ack/" in body
        assert "http://notifier.test/ack/" in html(msg)
        if kind in ("invitation", "agenda"):  # de-identified level: the Filter-2 summary
            for part in (body, html(msg)):
                assert NARRATIVE in part
                assert "Mental health: Diagnosed condition not treated" in part
                assert "25-29" in part
                assert "Woman" in part
            assert "Synthetic station room 4" in body
            assert "1 District" in body
        else:  # reference or sealed level: no summary at all
            for part in (body, html(msg)):
                assert NARRATIVE not in part
                assert "Diagnosed condition" not in part
                assert "25-29" not in part
        if kind == "disclosure":
            [att] = list(msg.iter_attachments())
            assert att.get_content_type() == "application/json"
            # the whole package as intake published it (its signature travels with it)
            payload = att.get_payload(decode=True)
            assert isinstance(payload, bytes)
            package = DisclosureSealed.model_validate_json(payload)
            sent = sample(DisclosureSealed, situation_id=situation, disclosure_id=package.disclosure_id,
                          recipient_agency="public-health", disclosing_agency="addiction-services")
            assert package == sent
            assert "Sample Person" not in body
        else:
            assert not list(msg.iter_attachments())

    [hit] = [h for h in _hits_now(stack, "mental-health-assoc")
             if h.headers["idempotency-key"] in mine]
    verify_signature(hit, "mental-health-assoc")
    body = json.loads(hit.body)
    assert body["kind"] == "disclosure"
    assert body["privacy"] == "sealed"
    assert body["event"]["ciphertext"] == sample(DisclosureSealed).ciphertext
    assert body["event"]["situation_id"] == str(situation)
    assert hit.headers["idempotency-key"] == body["notice_id"]
    assert NARRATIVE not in hit.body.decode()


async def _count(stack: Stack, needles: tuple[str, ...], mine: set[str], n: int) -> bool:
    return len(ours(mails(stack, *needles), mine)) >= n


async def _hits(stack: Stack, agency: str) -> list[Hit]:
    return _hits_now(stack, agency)


def _hits_now(stack: Stack, agency: str) -> list[Hit]:
    return [h for h in stack.receiver.hits if h.path == agency]


async def test_refusal_seen_before_its_command_waits_for_the_actor(stack: Stack) -> None:
    """A refusal recorded before refusals named their actor waits for its command."""
    situation = uuid7()
    command = sample(AssignAgencies, situation_id=situation,
                     actor=Actor(agency_id="housing-services", role="lead_agency"))
    record = emit(command, source=SOURCE)
    command_id = UUID(dict(record.headers)["ce_id"].decode())
    [cause] = await send(stack, sample(CommandRejected, command_id=command_id,
                                       target_id=situation, actor=None))

    async def pending() -> bool:
        return bool(await stack.admin.fetchval(
            "SELECT true FROM notifier.pending_refusals WHERE command_id = $1", command_id))

    await wait_for(pending, timeout=30)
    assert not ours(mails(stack, str(situation)), caused_by(stack, [cause]))
    await stack.producer.send_many([record])
    mine = caused_by(stack, [cause])
    [msg] = await wait_for(lambda: _ours_async(stack, str(situation), mine), timeout=60)
    assert msg["X-Envelope-To"] == _tagged("table@housing.example.org")
    assert msg["X-Commande-Notice-Kind"] == "command_rejected"
    assert "sample_reason" in text(msg)
    assert not await pending()


async def test_a_refusal_naming_its_actor_reaches_them_without_its_command(stack: Stack) -> None:
    """Convening names the actor in the refusal: notifier needs nothing else to tell them."""
    situation = uuid7()
    [cause] = await send(stack, sample(
        CommandRejected, command_id=uuid7(), target_id=situation,
        actor=Actor(agency_id="housing-services", role="lead_agency")))
    mine = caused_by(stack, [cause])
    [msg] = await wait_for(lambda: _ours_async(stack, str(situation), mine), timeout=60)
    assert msg["X-Envelope-To"] == _tagged("table@housing.example.org")
    assert msg["X-Commande-Notice-Kind"] == "command_rejected"


async def _ours_async(stack: Stack, needle: str, mine: set[str]) -> list[EmailMessage]:
    return ours(mails(stack, needle), mine)

async def test_receiver_failing_three_times_gets_one_delivery(stack: Stack) -> None:
    stack.receiver.script["housing-services"] = [503, 503, 503]
    situation = uuid7()
    [cause] = await send(stack, sample(DisclosureSealed, situation_id=situation,
                                       disclosure_id=uuid7(), recipient_agency="housing-services"))

    async def delivered() -> list[Message]:
        return [e for e in await notices(stack, cause) if isinstance(e, NoticeDelivered)]

    [done] = await wait_for(delivered, timeout=60)
    assert isinstance(done, NoticeDelivered)
    assert (done.attempt, done.channel, done.kind) == (4, "webhook", "disclosure")
    hits = stack.receiver.for_notice(done.notice_id)
    assert [h.status for h in hits] == [503, 503, 503, 200]
    for h in hits:
        verify_signature(h, "housing-services")
    failed = [e for e in await notices(stack, cause) if isinstance(e, NoticeFailed)]
    assert sorted((f.attempt, f.permanent, f.error) for f in failed) == [
        (1, False, "webhook_5xx"), (2, False, "webhook_5xx"), (3, False, "webhook_5xx")]
    assert all(f.next_attempt_at is not None for f in failed)
    row = await stack.admin.fetchrow(
        "SELECT state, attempts, message_id, payload FROM notifier.notices WHERE notice_id = $1",
        done.notice_id)
    assert row is not None
    assert dict(row) == {"state": "delivered", "attempts": 4, "message_id": str(done.notice_id),
                         "payload": None}


@pytest.mark.parametrize(("statuses", "error", "attempts"), [
    ([400] * 10, "webhook_4xx", 1),   # permanent at once
    ([500] * 10, "webhook_5xx", 5),   # transient every time: gives up after max attempts
])
async def test_failing_receiver_ends_in_notice_failed_and_dead_letter(
        stack: Stack, statuses: list[int], error: str, attempts: int) -> None:
    stack.receiver.script["mental-health-assoc"] = list(statuses)
    [cause] = await send(stack, sample(DisclosureSealed, situation_id=uuid7(),
                                       disclosure_id=uuid7(),
                                       recipient_agency="mental-health-assoc"))

    async def final() -> list[Message]:
        return [e for e in await notices(stack, cause)
                if isinstance(e, NoticeFailed) and e.permanent]

    [last] = await wait_for(final, timeout=60)
    assert isinstance(last, NoticeFailed)
    assert (last.attempt, last.error, last.next_attempt_at) == (attempts, error, None)
    events = await notices(stack, cause)
    assert not [e for e in events if isinstance(e, NoticeDelivered)]
    assert len(events) == attempts  # one NoticeFailed per attempt, the last one permanent
    assert len(stack.receiver.for_notice(last.notice_id)) == attempts
    stack.receiver.script["mental-health-assoc"] = []

    async def dead() -> list[Any]:
        return [r for r in await read_all(stack.settings, DLQ.name)
                if r.key == str(last.notice_id).encode()]

    # The documented shape (docs/operations.md): a copy of the last NoticeFailed, value and ce_*
    # headers, with error, error_consumer and orig_* headers; no address, no content.
    [dlq] = await wait_for(dead, timeout=30)
    [published] = [r for r in await read_all(stack.settings, NOTICES.name)
                   if r.key == str(last.notice_id).encode() and decode(r).event == last]
    headers = dict(dlq.headers)
    reason = "permanent" if attempts == 1 else "attempts_exhausted"
    assert headers["error"] == f"{error} ({reason})".encode()
    assert headers["error_consumer"] == b"notifier-delivery"
    assert (headers["orig_topic"], headers["orig_partition"], headers["orig_offset"]) == (
        NOTICES.name.encode(), b"-1", b"-1")
    assert headers["orig_size"] == str(len(published.value)).encode()
    assert headers["orig_sha256"] == hashlib.sha256(published.value).hexdigest().encode()
    assert dlq.value == published.value
    assert headers["ce_id"] == dict(published.headers)["ce_id"]
    assert dlq.headers[:len(published.headers)] == published.headers
    address = await stack.admin.fetchval(
        "SELECT address FROM notifier.notices WHERE notice_id = $1", last.notice_id)
    assert address.encode() not in dlq.value + b"".join(headers.values())
    row = await stack.admin.fetchrow(
        "SELECT state, attempts, last_error, payload FROM notifier.notices WHERE notice_id = $1",
        last.notice_id)
    assert row is not None
    assert dict(row) == {"state": "failed", "attempts": attempts, "last_error": error,
                         "payload": None}


async def test_ack_link_works_once(stack: Stack) -> None:
    situation = uuid7()
    [cause] = await send(stack, sample(SlaBreached, situation_id=situation, district="district_2",
                                       agency_id=None))
    [msg] = await wait_for(lambda: _mails_async(stack, str(situation)), timeout=60)
    assert msg["X-Envelope-To"] == _tagged("d2-staff-sergeant@police.example.org")
    link = re.search(r"http://notifier\.test(/ack/\S+)", text(msg))
    assert link is not None
    path = link.group(1)
    token = path.rsplit("/", 1)[1]
    notice = tokens.verify(ACK_SECRET.encode(), token, dt.datetime.now(dt.UTC))
    assert f"<{notice}@" in str(msg["Message-ID"])

    app = Starlette(routes=stack.svc.routes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://notifier.test") as client:
        head, tail = token.split(".")
        forged = tokens.sign(b"not-the-secret-at-all", notice,
                             dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        expired = tokens.sign(ACK_SECRET.encode(), notice,
                              dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        for bad, status in ((f"{head}.{tail[:-2]}AA", 400), (forged, 400), ("nonsense", 400),
                            (expired, 410)):
            assert (await client.get(f"/ack/{bad}")).status_code == status
            assert (await client.post(f"/ack/{bad}")).status_code == status
        assert await _acked_at(stack, notice) is None

        # a mail scanner follows the link: the page shows what it is for and records nothing
        for _ in range(3):
            shown = await client.get(path)
            assert shown.status_code == 200
            assert "an escalation sent to hrps-cmb-d2" in shown.text
            assert '<form method="post">' in shown.text
            assert shown.headers["referrer-policy"] == "no-referrer"
            assert "script" not in shown.text
        assert await _acked_at(stack, notice) is None

        first = await client.post(path)
        assert first.status_code == 200
        assert "the notice is acknowledged" in first.text
        when = await _acked_at(stack, notice)
        assert when is not None
        again = await client.post(path)
        assert again.status_code == 200
        assert "already acknowledged" in again.text
        assert await _acked_at(stack, notice) == when
        after = await client.get(path)
        assert "It was acknowledged on" in after.text
        assert "<form" not in after.text

    async def acks() -> list[Message]:
        return [e for rec in await read_all(stack.settings, NOTICES.name)
                if isinstance(e := decode(rec).event, NoticeAcknowledged)
                and e.notice_id == notice]

    [ack] = await wait_for(acks, timeout=30)
    assert isinstance(ack, NoticeAcknowledged)
    assert (ack.via, ack.recipient_agency) == ("link", "hrps-cmb-d2")
    await asyncio.sleep(1.0)
    assert len(await acks()) == 1
    delivered = [e for e in await notices(stack, cause) if isinstance(e, NoticeDelivered)]
    assert [d.notice_id for d in delivered] == [notice]


async def _mails_async(stack: Stack, needle: str) -> list[EmailMessage]:
    return mails(stack, needle)


async def _acked_at(stack: Stack, notice: UUID) -> dt.datetime | None:
    found: dt.datetime | None = await stack.admin.fetchval(
        "SELECT acknowledged_at FROM notifier.notices WHERE notice_id = $1", notice)
    return found



async def test_cli_acknowledges_once(stack: Stack) -> None:
    situation = uuid7()
    await send(stack, sample(SlaBreached, situation_id=situation, district="district_3",
                             agency_id=None))
    [msg] = await wait_for(lambda: _mails_async(stack, str(situation)), timeout=60)
    link = re.search(r"http://notifier\.test/ack/(\S+)", text(msg))
    assert link is not None
    token = link.group(1)
    notice = tokens.verify(ACK_SECRET.encode(), token, dt.datetime.now(dt.UTC))
    env = {**os.environ, "COMMANDE_NOTIFIER_ACK_SECRET": ACK_SECRET,
           "COMMANDE_DATABASE_URL": stack.settings.database_url.get_secret_value()}

    async def cli(arg: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from services.cli.notifier_cmd import app; app()", "ack", arg,
            env=env, cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip(), err.decode()

    code, _, err = await cli(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    assert code == 2
    assert "signature does not match" in err
    assert await _acked_at(stack, notice) is None
    assert (await cli(token))[:2] == (0, "acknowledged")
    assert (await cli(token))[:2] == (0, "already acknowledged")

    async def acks() -> list[Message]:
        return [e for rec in await read_all(stack.settings, NOTICES.name)
                if isinstance(e := decode(rec).event, NoticeAcknowledged)
                and e.notice_id == notice]

    [ack] = await wait_for(acks, timeout=30)
    assert isinstance(ack, NoticeAcknowledged)
    assert (ack.via, ack.recipient_agency) == ("api", "hrps-cmb-d3")


async def test_killed_mid_send_then_restarted_loses_nothing_and_repeats_only_in_flight(
        stack: Stack, tmp_path: Path) -> None:
    """notifier as an OS process, SIGKILLed while a webhook is in flight; a new instance takes over.

    Runs last: it replaces the module's in-process instance with the restarted one.
    """
    await stack.svc.faststream.stop()
    s = stack.settings
    secrets = {a: v.get_secret_value() for a, v in s.notifier_webhook_secrets.items()}
    env = {**os.environ,
           "COMMANDE_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
           "COMMANDE_DATABASE_URL": s.database_url.get_secret_value(),
           "COMMANDE_SMTP_PORT": str(s.smtp_port),
           "COMMANDE_NOTIFIER_DIRECTORY": str(s.notifier_directory),
           "COMMANDE_NOTIFIER_ACK_SECRET": ACK_SECRET,
           "COMMANDE_NOTIFIER_WEBHOOK_SECRETS": json.dumps(secrets),
           "COMMANDE_NOTIFIER_WEBHOOK_CA_FILE": str(s.notifier_webhook_ca_file),
           "COMMANDE_NOTIFIER_POLL_INTERVAL": "0.1",
           "COMMANDE_NOTIFIER_PUBLIC_URL": s.notifier_public_url}
    release = asyncio.Event()
    situation = uuid7()
    stack.receiver.hold = (str(situation), release)
    with (tmp_path / "notifier.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c",
            "import asyncio\n"
            "from services.notifier.main import build\n"
            "from services.notifier.settings import NotifierSettings\n"
            "asyncio.run(build(NotifierSettings()).faststream.run())\n",
            env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log)
    try:
        causes = await send(stack, *(
            sample(DisclosureSealed, situation_id=situation, disclosure_id=uuid7(),
                   recipient_agency="housing-services") for _ in range(4)), *(
            sample(SlaBreached, situation_id=situation, district=d, agency_id=None)
            for d in ("district_1", "district_2", "district_3")))
        mine = caused_by(stack, causes)

        async def in_flight() -> list[Hit]:
            return [h for h in stack.receiver.hits if h.held]

        before = await wait_for(in_flight, timeout=90, every=0.05)
        proc.kill()
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    release.set()
    [held] = before
    assert held.headers["idempotency-key"] in mine
    hits_at_kill = {h.headers["idempotency-key"] for h in stack.receiver.hits
                    if h.headers["idempotency-key"] in mine}

    stack.svc = build(s)
    await stack.svc.faststream.start()

    async def all_delivered() -> list[Message]:
        found: list[Message] = []
        for cause in causes:
            found += [e for e in await notices(stack, cause) if isinstance(e, NoticeDelivered)]
        return found if len(found) >= len(causes) else []

    delivered = await wait_for(all_delivered, timeout=90)
    await asyncio.sleep(1.0)
    delivered = await all_delivered()
    ids = [d.notice_id for d in delivered if isinstance(d, NoticeDelivered)]
    assert len(ids) == len(set(ids)) == len(causes)  # nothing lost, one NoticeDelivered each

    hits = [h for h in stack.receiver.hits if h.headers["idempotency-key"] in mine]
    per_key = Counter(h.headers["idempotency-key"] for h in hits)
    assert len(per_key) == 4
    for key, n in per_key.items():
        assert n == 1 or (n == 2 and key in hits_at_kill), (key, n)
    # The held request never got its answer: it is sent again, with the same Idempotency-Key.
    assert per_key[held.headers["idempotency-key"]] == 2
    for h in hits:
        verify_signature(h, "housing-services")
    emails = ours(mails(stack, str(situation)), mine)
    per_id = Counter(str(m["Message-ID"]) for m in emails)
    assert len(per_id) == 3  # one notice per district's Staff Sergeant
    assert all(n in (1, 2) for n in per_id.values())  # a repeat keeps its Message-ID
    repeats = sum(per_key.values()) - 4 + sum(per_id.values()) - 3
    assert repeats <= s.notifier_batch


class RefusingHandler:
    """An SMTP server that refuses some recipients: 550 (permanent) or 451 (try later)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 Accepted"


def _relay_tls(settings: Settings) -> ssl.SSLContext:
    """The embedded stack's server certificate, signed by the CA notifier trusts in development."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(stack_server_pem(settings)))
    return context


async def test_smtp_channel_tells_permanent_from_transient(settings: Settings) -> None:
    port = _free_port()
    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=port,
                            tls_context=_relay_tls(settings), require_starttls=True)
    controller.start()
    try:
        channel = SmtpChannel(NotifierSettings(**{**settings.model_dump(), "smtp_port": port,
                                                  "notifier_smtp_timeout": 5.0}))
        nid = uuid7()
        rendered = Rendered("COMMANDE test", "text", "<p>html</p>", {})

        def message(to: str) -> Mail:
            return build_message(nid, "escalation", to, rendered,
                                 mail_from="notices@halton-police.example.org",
                                 now=dt.datetime.now(dt.UTC))

        assert await channel.send(message("ok@example.org"), "ok@example.org") == (
            f"<{nid}@halton-police.example.org>")
        with pytest.raises(DeliveryError) as gone:
            await channel.send(message("gone@example.org"), "gone@example.org")
        assert (gone.value.code, gone.value.permanent) == ("smtp_5xx", True)
        with pytest.raises(DeliveryError) as busy:
            await channel.send(message("busy@example.org"), "busy@example.org")
        assert (busy.value.code, busy.value.permanent) == ("smtp_4xx", False)
        await channel.close()
    finally:
        controller.stop()
    closed = SmtpChannel(NotifierSettings(**{**settings.model_dump(), "smtp_port": port,
                                             "notifier_smtp_timeout": 2.0}))
    with pytest.raises(DeliveryError) as down:
        await closed.send(message("ok@example.org"), "ok@example.org")
    assert (down.value.code, down.value.permanent) == ("smtp_unavailable", False)


class CountingHandler(RefusingHandler):
    """Accepts everything and remembers from which connection (client port) each mail came."""

    def __init__(self) -> None:
        self.peers: list[object] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        return "250 Accepted"


async def test_smtp_connections_are_reused_and_a_dropped_one_is_replaced(
        settings: Settings) -> None:
    """Twelve e-mails sent four at a time over at most two connections; once the relay has
    closed them for idleness (its own limit, one second here) the next send still goes
    through, on a new connection."""
    port = _free_port()
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            tls_context=_relay_tls(settings), require_starttls=True, timeout=1.0)
    controller.start()
    channel = SmtpChannel(NotifierSettings(**{**settings.model_dump(), "smtp_port": port,
                                              "notifier_smtp_timeout": 5.0,
                                              "notifier_smtp_connections": 2}))

    def message() -> Mail:
        return build_message(uuid7(), "escalation", "ok@example.org",
                             Rendered("COMMANDE test", "text", "<p>html</p>", {}),
                             mail_from="notices@halton-police.example.org",
                             now=dt.datetime.now(dt.UTC))

    try:
        for _ in range(3):
            await asyncio.gather(*(channel.send(message(), "ok@example.org") for _ in range(4)))
        assert len(handler.peers) == 12
        assert len(set(handler.peers)) <= 2
        await asyncio.sleep(2.0)
        await channel.send(message(), "ok@example.org")
        assert len(handler.peers) == 13
        assert handler.peers[-1] not in handler.peers[:-1]
    finally:
        await channel.close()
        controller.stop()


async def test_smtp_requires_tls_and_never_sends_credentials_in_clear(settings: Settings) -> None:
    """TLS is required by default: a relay that does not offer STARTTLS gets nothing (aiosmtplib
    used to fall back to clear text when start_tls was off, the old default)."""
    port = _free_port()
    handler = RefusingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)  # no STARTTLS on offer
    controller.start()
    try:
        channel = SmtpChannel(NotifierSettings(**{**settings.model_dump(), "smtp_port": port,
                                                  "notifier_smtp_timeout": 5.0}))
        msg = build_message(uuid7(), "escalation", "ok@example.org",
                            Rendered("COMMANDE test", "text", "<p>html</p>", {}),
                            mail_from="notices@halton-police.example.org",
                            now=dt.datetime.now(dt.UTC))
        with pytest.raises(DeliveryError) as refused:
            await channel.send(msg, "ok@example.org")
        assert refused.value.code == "smtp_unavailable"
    finally:
        controller.stop()
    with pytest.raises(ConfigurationError, match="COMMANDE_SMTP_TLS=none"):
        SmtpChannel(NotifierSettings(**{**settings.model_dump(), "smtp_tls": "none",
                                        "smtp_username": "relay-user",
                                        "smtp_password": SecretStr("x")}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_settled_bookkeeping_is_pruned_after_its_window(stack: Stack) -> None:
    """Nothing kept past its purpose: a notice settled long ago, a meeting long over and the
    facts kept to join later events go; a pending notice and recent facts stay."""
    old, recent = uuid7(), uuid7()
    async with stack.svc.pool.acquire() as conn:
        for notice, state, days in ((old, "delivered", 401), (recent, "pending", 401)):
            await conn.execute(
                "INSERT INTO notices (notice_id, cause_id, cause_topic, kind, recipient_agency, "
                "recipient_key, channel, address, privacy, state, created_at) VALUES ($1, $1, "
                "'t', 'agenda', 'a', $4, 'email', 'x@example.org', 'p', $2, "
                "now() - make_interval(days => $3))", notice, state, days, str(notice))
        await conn.execute(
            "INSERT INTO meetings VALUES ($1, 'district_1', 'regular', now() - interval '402 days',"
            " now() - interval '401 days', 'v'), ($2, 'district_1', 'regular', now(), now(), 'v')",
            old, recent)
        await conn.execute(
            "INSERT INTO situations (situation_id, originating_agency, district, seen_at) VALUES "
            "($1, 'a', 'district_1', now() - interval '401 days'), ($2, 'a', 'district_1', now())",
            old, recent)
        await stack.svc.relay.housekeep(conn)
        for table, key in (("notices", "notice_id"), ("meetings", "meeting_id"),
                           ("situations", "situation_id")):
            kept = {r[0] for r in await conn.fetch(
                f"SELECT {key} FROM {table} WHERE {key} = ANY($1::uuid[])", [old, recent])}
            assert kept == {recent}, table
