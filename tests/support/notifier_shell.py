"""Notifier's shell over the in-memory store, for the shell's unit tests
(``tests/unit/test_notifier_shell.py``, ``tests/unit/test_notifier_request_shell.py``): the
consumer's handler, records as the consumer passes them, and scripted channels for the delivery
loop's batch. No Kafka, no PostgreSQL, no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cache
from typing import Any, cast
from uuid import UUID

from pydantic import SecretStr

from directory import DirectoryHolder, reference_codes
from schemas.base import Message
from schemas.reference import reference
from services.notifier.channels import DeliveryError
from services.notifier.channels.mime import Mail
from services.notifier.channels.smtp import SmtpChannel
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.contacts import ContactBox
from services.notifier.delivery import Deliverer
from services.notifier.handlers import Handlers
from services.notifier.ports import Due
from services.notifier.settings import NotifierSettings
from services.runtime.clock import ManualClock
from services.runtime.db import Connection, Pool
from services.runtime.events import decode, emit
from services.runtime.kafka import InRecord, OutRecord
from tests.support.fakes.notifier import InMemoryNotifierStore
from tests.support.samples import NOW

SOURCE = "/commande/tests/notifier"
SECRET = b"synthetic-ack-secret-for-shell-tests"
FAR = NOW + timedelta(days=3650)
CONN = cast(Connection, object())
"""The consumer's connection: the shell only hands it to its store factory (the fake's ignores
it)."""
def settings(**overrides: Any) -> NotifierSettings:
    """Notifier's settings for the shell tests (development, synthetic secrets)."""
    return NotifierSettings(**{
        "env": "development", "notifier_public_url": "http://notifier.test",
        "event_confirm_secret": SecretStr("synthetic-confirm-secret-0123456789"),
        "notifier_ack_secret": SecretStr(SECRET.decode()), **overrides})


@dataclass
class Shell:
    """Notifier's consumer handler over one in-memory store."""

    settings: NotifierSettings = field(default_factory=settings)
    clock: ManualClock = field(default_factory=lambda: ManualClock(NOW))
    store: InMemoryNotifierStore = field(default_factory=InMemoryNotifierStore)

    def __post_init__(self) -> None:
        self.handlers = Handlers(self.settings, self.clock, sample_directory(), reference(),
                                 SECRET, ContactBox.development(), stores=lambda conn: self.store)

    async def feed(self, *events: Message) -> list[UUID]:
        """Handle each event's record; notifier's consumer emits nothing."""
        ids = []
        for event in events:
            rec = record(event)
            assert not await self.handle(rec)
            ids.append(decode(rec).id)
        return ids

    async def handle(self, rec: InRecord) -> Sequence[OutRecord]:
        return await self.handlers.handle(CONN, decode(rec), rec)

    async def pending(self) -> list[Due]:
        """Every notice waiting to be sent, in the order the delivery loop takes them."""
        return await self.store.take_due(FAR, 1000)


@cache
def sample_directory() -> DirectoryHolder:
    """The sample directory (``deploy/directory/halton.yaml``), read once for the module."""
    return DirectoryHolder(settings().notifier_directory, reference_codes(reference()))


def record(event: Message) -> InRecord:
    """``event`` as consumed from its topic."""
    out = emit(event, source=SOURCE)
    return InRecord(out.topic, 0, 0, out.key, out.value, out.headers)


def published(records: Sequence[OutRecord]) -> list[Message]:
    """The events of ``records``, decoded as a consumer would."""
    return [decode(InRecord(r.topic, 0, 0, r.key, r.value, r.headers)).event for r in records]


@dataclass
class Channels:
    """Scripted SMTP and webhook channels: each send takes the next outcome scripted for its
    address (``None`` = accepted), accepted when none is left."""

    script: dict[str, list[DeliveryError | None]] = field(default_factory=dict)
    sent: list[tuple[str, UUID]] = field(default_factory=list)
    mails: dict[UUID, EmailMessage] = field(default_factory=dict)
    """Notice id -> the last e-mail sent for it, as a mail client parses it."""

    async def send_mail(self, mail: Mail, to: str) -> str:
        msg = message_from_bytes(mail.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["Message-ID"] == mail.message_id
        notice = UUID(mail.message_id.strip("<>").split("@")[0])
        self.mails[notice] = msg
        return self._outcome(to, notice, mail.message_id)

    async def send_hook(self, url: str, agency_id: str, notice: UUID, body: dict[str, Any],
                        timestamp: int) -> str:
        return self._outcome(url, notice, str(notice))

    def _outcome(self, address: str, notice: UUID, ok: str) -> str:
        self.sent.append((address, notice))
        plan = self.script.get(address, [])
        error = plan.pop(0) if plan else None
        if error is not None:
            raise error
        return ok


@dataclass
class _Smtp:
    channels: Channels

    async def send(self, mail: Mail, to: str) -> str:
        return await self.channels.send_mail(mail, to)


@dataclass
class _Webhook:
    channels: Channels

    async def send(self, url: str, agency_id: str, notice: UUID, body: dict[str, Any],
                   timestamp: int) -> str:
        return await self.channels.send_hook(url, agency_id, notice, body, timestamp)


def deliverer(shell: Shell, channels: Channels) -> Deliverer:
    """The delivery loop's batch over ``shell``'s store, sending through ``channels``."""
    return Deliverer(cast(Pool, object()), "notifier", shell.settings, shell.clock,
                     cast(SmtpChannel, _Smtp(channels)), cast(WebhookChannel, _Webhook(channels)),
                     ContactBox.development())
