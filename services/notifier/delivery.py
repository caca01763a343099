"""The delivery loop: take due notices (``FOR UPDATE SKIP LOCKED``), send, record the outcome.

One transaction per batch: the rows stay locked while their attempts run (concurrently), then
their new state and the events that say so (``NoticeDelivered`` / ``NoticeFailed``, and a dead
letter when notifier gives up: :func:`given_up`) are written together through the outbox.
Retries are rows with a later ``next_attempt_at``: nothing waits in a consumer, so no partition
is ever blocked. A crash between a send and its commit repeats that send with the same
Message-ID / Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from schemas.notices import NoticeDelivered, NoticeFailed
from services.notifier.channels import DeliveryError
from services.notifier.channels.mime import build_message
from services.notifier.channels.smtp import SmtpChannel
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.contacts import CipherError, ContactBox
from services.notifier.model import Attachment, Rendered
from services.notifier.ports import Due, NotifierStore, Stores
from services.notifier.settings import NotifierSettings
from services.notifier.store import WAKE_CHANNEL, PgNotifierStore
from services.runtime import outbox, worker
from services.runtime.clock import Clock
from services.runtime.db import Pool
from services.runtime.dead_letters import DeadLetters
from services.runtime.events import emit
from services.runtime.failure import DeadLetter, FailurePolicy
from services.runtime.kafka import OutRecord
from services.runtime.logging import get_logger
from services.runtime.service import BackgroundLoop, Service

SOURCE = "/commande/notifier"
DEAD_LETTER_CONSUMER = "notifier-delivery"
log = get_logger("commande.notifier.delivery")


class Deliverer:
    """Attempts due notices; :meth:`run_once` handles one batch in one transaction,
    :meth:`deliver` is that batch on any :class:`~services.notifier.ports.NotifierStore`."""

    def __init__(self, pool: Pool, schema: str, settings: NotifierSettings, clock: Clock,
                 smtp: SmtpChannel, webhook: WebhookChannel,
                 box: ContactBox | None = None, dead_letters: DeadLetters | None = None,
                 stores: Stores = PgNotifierStore) -> None:
        self._pool = pool
        self._stores = stores
        self._dead_letters = dead_letters or DeadLetters()
        self._box = box
        self._schema = schema
        self._s = settings
        self._clock = clock
        self._smtp = smtp
        self._webhook = webhook
        self._policy = FailurePolicy(base=settings.notifier_backoff_base,
                                     cap=settings.notifier_backoff_cap,
                                     attempts=settings.notifier_max_attempts)

    async def run_once(self) -> int:
        """Attempt one batch of due notices; returns how many were attempted."""
        async with self._pool.acquire() as conn, conn.transaction():
            attempted, records = await self.deliver(self._stores(conn))
            await outbox.add(conn, self._schema, records)
        return attempted

    async def deliver(self, store: NotifierStore) -> tuple[int, list[OutRecord]]:
        """Take a batch of due notices from ``store``, attempt them and record each outcome
        there; returns how many were attempted and the records that say so (for the outbox of
        the same transaction)."""
        due = await store.take_due(self._clock.now(), self._s.notifier_batch)
        if not due:
            return 0, []
        outcomes = await asyncio.gather(*(self._attempt(d) for d in due))
        now = self._clock.now()
        records: list[OutRecord] = []
        for d, outcome in zip(due, outcomes, strict=True):
            records += await self._record(store, d, outcome, now)
        return len(due), records

    async def _attempt(self, d: Due) -> str | DeliveryError:
        try:
            payload, address = self._open(d)
            if d.channel == "email":
                msg = build_message(d.notice_id, d.kind, address, _rendered(payload),
                                    mail_from=self._s.notifier_mail_from, now=self._clock.now())
                return await self._smtp.send(msg, address)
            return await self._webhook.send(address, d.recipient_agency, d.notice_id,
                                            payload["body"], int(self._clock.now().timestamp()))
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug must not stop the loop; it counts as an attempt
            log.exception("delivery attempt crashed", notice_id=str(d.notice_id),
                          error=type(exc).__name__)
            return DeliveryError("internal_error", permanent=False)

    def _open(self, d: Due) -> tuple[dict[str, Any], str]:
        """The payload and address to send to: a sealed payload (a community event request's
        notice) is opened here, and a requester's e-mail is inside it, not in the row."""
        if "sealed" not in d.payload:
            return d.payload, d.address
        if self._box is None:
            raise DeliveryError("sealed_payload_no_key", permanent=True)
        try:
            payload = self._box.open_payload(d.notice_id, d.payload)
        except CipherError:
            raise DeliveryError("sealed_payload_unreadable", permanent=True) from None
        return payload, str(payload.get("to") or d.address)

    async def _record(self, store: NotifierStore, d: Due, outcome: str | DeliveryError,
                      now: datetime) -> list[OutRecord]:
        attempt = d.attempts + 1
        channel = "email" if d.channel == "email" else "webhook"
        common = {"notice_id": d.notice_id, "recipient_agency": d.recipient_agency,
                  "kind": d.kind, "cause_id": d.cause_id, "channel": channel, "attempt": attempt}
        if not isinstance(outcome, DeliveryError):
            await store.mark_delivered(d.notice_id, attempt, outcome, now)
            log.info("notice delivered", notice_id=str(d.notice_id), kind=d.kind,
                     channel=channel, attempt=attempt)
            return [emit(NoticeDelivered(**common, delivered_at=now), source=SOURCE, time=now,
                         cause_id=d.cause_id)]
        decision = self._policy.decide_outcome(permanent=outcome.permanent, attempt=attempt,
                                               jitter=random.random())
        if isinstance(decision, DeadLetter):
            await store.mark_failed(d.notice_id, attempt, outcome.code, now)
            log.warning("notice given up", notice_id=str(d.notice_id), kind=d.kind,
                        channel=channel, attempt=attempt, error=outcome.code,
                        reason=decision.reason)
            return list(given_up(self._dead_letters, d, outcome.code, decision.reason, attempt,
                                 now))
        retry_at = now + timedelta(seconds=decision.after)
        await store.mark_retry(d.notice_id, attempt, retry_at, outcome.code)
        log.info("notice attempt failed", notice_id=str(d.notice_id), kind=d.kind,
                 channel=channel, attempt=attempt, error=outcome.code)
        failed = NoticeFailed(**common, error=outcome.code, permanent=False,
                              next_attempt_at=retry_at, failed_at=now)
        return [emit(failed, source=SOURCE, time=now, cause_id=d.cause_id)]


def _rendered(payload: dict[str, object]) -> Rendered:
    atts = payload.get("attachments") or []
    assert isinstance(atts, list)
    return Rendered(
        subject=str(payload["subject"]), text=str(payload["text"]), html=str(payload["html"]),
        body={},
        attachments=tuple(Attachment(a["filename"], a["content_type"], base64.b64decode(
            a["content"])) for a in atts),
    )


def given_up(dead_letters: DeadLetters, d: Due, error: str, reason: str, attempt: int,
             now: datetime) -> tuple[OutRecord, OutRecord]:
    """The last ``NoticeFailed`` (``permanent``) of a notice notifier gives up, and its dead letter.

    The dead letter has the shape of every other (docs/operations.md): a copy of that
    ``NoticeFailed`` record, value and ``ce_*`` headers, keyed by the notice id, with ``error``
    (``<code> (permanent|attempts_exhausted)``), ``error_consumer`` and ``orig_*`` headers
    (``orig_topic`` the notices topic, ``orig_partition`` and ``orig_offset`` -1: it was not yet
    published). It names the notice, its cause (``cause_id``), agency, kind, channel and the error
    code: never the address or the rendered content.
    """
    channel = "email" if d.channel == "email" else "webhook"
    failed = emit(NoticeFailed(notice_id=d.notice_id, recipient_agency=d.recipient_agency,
                               kind=d.kind, cause_id=d.cause_id, channel=channel,
                               attempt=attempt, error=error, permanent=True, failed_at=now),
                  source=SOURCE, time=now, cause_id=d.cause_id)
    return failed, dead_letters.unpublished(failed, f"{error} ({reason})", DEAD_LETTER_CONSUMER)


def delivery_loop(settings: NotifierSettings, clock: Clock,
                  box: ContactBox | None = None) -> BackgroundLoop:
    """The background worker for ``svc.background``: a batch every ``notifier_poll_interval``,
    at once when a new notice is inserted (``NOTIFY`` on
    :data:`~services.notifier.store.WAKE_CHANNEL`) or a full batch suggests more are due."""

    async def loop(svc: Service, stopping: asyncio.Event) -> None:
        webhook = WebhookChannel(settings)
        smtp = SmtpChannel(settings)
        deliverer = Deliverer(svc.pool, svc.name, settings, clock, smtp, webhook, box,
                              svc.dead_letters)

        async def step() -> bool:
            return await deliverer.run_once() >= settings.notifier_batch

        try:
            await worker.run("notifier-delivery", svc.pool, stopping, step,
                             interval=settings.notifier_poll_interval,
                             channel=WAKE_CHANNEL)
        finally:
            await webhook.close()
            await smtp.close()

    return loop


__all__: Sequence[str] = ("Deliverer", "delivery_loop")
