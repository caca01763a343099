"""Acknowledgements: ``/ack/{token}`` in a browser, and the same from a terminal
(``notice ack TOKEN``).

``GET`` only shows which notice the link is for (kind, recipient, when) and a button: mail
scanners (Safe Links, Proofpoint) follow every link, and must not acknowledge what nobody read.
``POST`` (the button) records the acknowledgement and publishes ``NoticeAcknowledged`` through the
outbox in the same transaction; later uses answer "already acknowledged". A tampered token gets
400, an expired one 410, a genuine one for a notice notifier does not know 404; none records
anything.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from schemas.notices import NoticeAcknowledged
from schemas.reference.calendar import ZONE
from services.notifier import tokens
from services.notifier.ports import NoticeSummary, NotifierStore, Stores
from services.notifier.store import PgNotifierStore
from services.runtime import outbox, pages
from services.runtime.clock import Clock
from services.runtime.db import Pool
from services.runtime.events import emit
from services.runtime.kafka import OutRecord
from services.runtime.service import Service

SOURCE = "/commande/notifier"


class AckOutcome(StrEnum):
    """What an acknowledgement did."""

    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already acknowledged"
    UNKNOWN = "unknown notice"


Via = Literal["link", "webhook", "api"]
"""How the recipient acknowledged (``NoticeAcknowledged.via``)."""


async def acknowledge(pool: Pool, schema: str, secret: bytes, token: str, clock: Clock, *,
                      via: Via = "link", stores: Stores = PgNotifierStore) -> AckOutcome:
    """Verify ``token`` and record the acknowledgement once (in ``stores(conn)``).

    Raises:
        TamperedToken: the token is malformed or wrongly signed.
        ExpiredToken: the token is genuine but expired.
    """
    now = clock.now()
    notice = tokens.verify(secret, token, now)
    async with pool.acquire() as conn, conn.transaction():
        outcome, records = await acknowledged(stores(conn), notice, now, via)
        await outbox.add(conn, schema, records)
    return outcome


async def acknowledged(store: NotifierStore, notice: UUID, now: datetime,
                       via: Via) -> tuple[AckOutcome, list[OutRecord]]:
    """Record the acknowledgement of ``notice`` in ``store``; returns what it did and the
    ``NoticeAcknowledged`` to publish (only the first time) in the same transaction."""
    agency = await store.acknowledge(notice, now)
    if agency is None:
        known = await store.notice_exists(notice)
        return (AckOutcome.ALREADY if known else AckOutcome.UNKNOWN), []
    event = NoticeAcknowledged(notice_id=notice, recipient_agency=agency, via=via,
                               acknowledged_at=now)
    return AckOutcome.ACKNOWLEDGED, [emit(event, source=SOURCE)]


KIND_WORDS = {
    "invitation": "an invitation to a table meeting", "agenda": "a meeting's agenda",
    "assignment": "an assignment", "disclosure": "a sealed disclosure",
    "sla_warning": "a response-time warning", "escalation": "an escalation",
    "referral_status": "the answer to a referral", "command_rejected": "a refused command",
    "event_request": "a community event request",
    "event_request_reminder": "a reminder about a community event request",
    "event_request_acknowledgement": "the acknowledgement of your event request",
    "event_request_outcome": "the outcome of your event request",
    "event_request_confirmation": "the link to confirm your event request's address",
}
_STATUS = {AckOutcome.ACKNOWLEDGED: 200, AckOutcome.ALREADY: 200, AckOutcome.UNKNOWN: 404}
_WORDS = {
    AckOutcome.ACKNOWLEDGED: "Thank you: the notice is acknowledged.",
    AckOutcome.ALREADY: "This notice was already acknowledged.",
    AckOutcome.UNKNOWN: "This notice is unknown.",
}


def page(*paragraphs: str, button: bool = False, status: int = 200) -> HTMLResponse:
    """A plain page (no script, no style) with an optional acknowledge button."""
    return pages.page("COMMANDE: acknowledge a notice", "COMMANDE notice", *paragraphs,
                      button="Acknowledge this notice" if button else None, status=status)


def describe(summary: NoticeSummary) -> str:
    """One sentence about a notice, in Toronto time (kind, recipient, when; never content)."""
    sent = summary.sent_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    what = KIND_WORDS.get(summary.kind, "a notice")
    return f"This link acknowledges {what} sent to {summary.recipient_agency} on {sent} (Toronto)."


def routes(svc: Service, secret: bytes, clock: Clock, *,
           stores: Stores = PgNotifierStore) -> list[Route]:
    """The acknowledgement routes of notifier's HTTP app: GET shows the notice and a button
    (mail scanners follow links: a GET never records), POST records."""

    def refused(request: Request) -> Response | None:
        try:
            tokens.verify(secret, str(request.path_params["token"]), clock.now())
        except tokens.ExpiredToken:
            return page("This acknowledgement link has expired.", status=410)
        except tokens.TamperedToken:
            return page("This is not a valid acknowledgement link.", status=400)
        return None

    async def show(request: Request) -> Response:
        if (problem := refused(request)) is not None:
            return problem
        notice = tokens.verify(secret, str(request.path_params["token"]), clock.now())
        async with svc.pool.acquire() as conn:
            summary = await stores(conn).notice_summary(notice)
        if summary is None:
            return page(_WORDS[AckOutcome.UNKNOWN], status=404)
        if summary.acknowledged_at is not None:
            when = summary.acknowledged_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
            return page(describe(summary), f"It was acknowledged on {when} (Toronto).")
        return page(describe(summary), "Press the button to tell the table you have read it.",
                    button=True)

    async def record(request: Request) -> Response:
        if (problem := refused(request)) is not None:
            return problem
        outcome = await acknowledge(svc.pool, svc.name, secret, str(request.path_params["token"]),
                                    clock, stores=stores)
        return page(_WORDS[outcome], status=_STATUS[outcome])

    return [Route("/ack/{token}", show, methods=["GET"]),
            Route("/ack/{token}", record, methods=["POST"])]
