"""Acknowledgements: ``GET /ack/{token}`` and the same from a terminal (``notice ack TOKEN``).

The first genuine use records the acknowledgement and publishes ``NoticeAcknowledged`` through the
outbox in the same transaction; later uses answer "already acknowledged". A tampered token gets
400, an expired one 410, a genuine one for a notice notifier does not know 404; none records
anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from schemas.notices import NoticeAcknowledged
from services.notifier import store, tokens
from services.runtime import outbox
from services.runtime.clock import Clock
from services.runtime.db import Pool
from services.runtime.events import emit
from services.runtime.service import Service

SOURCE = "/commande/notifier"


class AckOutcome(StrEnum):
    """What an acknowledgement did."""

    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already acknowledged"
    UNKNOWN = "unknown notice"


async def acknowledge(pool: Pool, schema: str, secret: bytes, token: str, clock: Clock, *,
                      via: Literal["link", "webhook", "api"] = "link") -> AckOutcome:
    """Verify ``token`` and record the acknowledgement once.

    Raises:
        TamperedToken: the token is malformed or wrongly signed.
        ExpiredToken: the token is genuine but expired.
    """
    now = clock.now()
    notice = tokens.verify(secret, token, now)
    async with pool.acquire() as conn, conn.transaction():
        agency = await store.acknowledge(conn, notice, now)
        if agency is None:
            known = await store.notice_exists(conn, notice)
            return AckOutcome.ALREADY if known else AckOutcome.UNKNOWN
        event = NoticeAcknowledged(notice_id=notice, recipient_agency=agency, via=via,
                                   acknowledged_at=now)
        await outbox.add(conn, schema, [emit(event, source=SOURCE)])
    return AckOutcome.ACKNOWLEDGED


_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>COMMANDE"
         "</title></head><body><p>{}</p></body></html>")
_STATUS = {AckOutcome.ACKNOWLEDGED: 200, AckOutcome.ALREADY: 200, AckOutcome.UNKNOWN: 404}
_WORDS = {
    AckOutcome.ACKNOWLEDGED: "Thank you: the notice is acknowledged.",
    AckOutcome.ALREADY: "This notice was already acknowledged.",
    AckOutcome.UNKNOWN: "This notice is unknown.",
}


def routes(svc: Service, secret: bytes, clock: Clock) -> list[Route]:
    """The acknowledgement route of notifier's HTTP app."""

    async def ack(request: Request) -> Response:
        token = str(request.path_params["token"])
        try:
            outcome = await acknowledge(svc.pool, svc.name, secret, token, clock)
        except tokens.ExpiredToken:
            return HTMLResponse(_PAGE.format("This acknowledgement link has expired."), 410)
        except tokens.TamperedToken:
            return HTMLResponse(_PAGE.format("This is not a valid acknowledgement link."), 400)
        return HTMLResponse(_PAGE.format(_WORDS[outcome]), _STATUS[outcome])

    return [Route("/ack/{token}", ack, methods=["GET"])]
