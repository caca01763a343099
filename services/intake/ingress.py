"""HTTP ingress for partners without a Kafka client (Starlette routes on intake's ASGI app).

``POST /v1/referrals`` takes the JSON of a ``ReferralSubmitted`` with a per-agency bearer token
(only SHA-256 hashes of tokens are stored), runs the same Filter 1 checks at once, seals a clear
subject to intake's own key (identity never crosses Kafka in the clear), and queues the referral
on ``commande.referrals.v1`` through the outbox, published as intake (``ce_source``
``/commande/intake``) and signed with intake's signing key (the token bound it to its agency):
``202`` with a status URL.
``GET /v1/referrals/{agency}/{ref}`` answers pending, accepted or rejected.

Errors are RFC 9457 problem details (``application/problem+json``): 400 with every reason,
401 without a valid token, 403 for another agency's referral, 404, 413 over the size limit,
415 for a content type other than JSON, 422 for a contract violation. No problem echoes a value
from the request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from directory import Directory
from schemas.envelope import to_record
from schemas.reference.calendar import local_date
from schemas.referrals import Reason, ReferralSubmitted
from schemas.signing import sign_record
from services.intake import sealing, store
from services.intake.handlers import SOURCE, Intake
from services.runtime import events, outbox
from services.runtime.db import Pool
from services.runtime.logging import get_logger
from services.runtime.problems import field_errors, problem, read_json_body
from services.runtime.service import Service

TOKEN_PREFIX = "cmdi_"  # noqa: S105 - a public prefix, not a secret
BEARER = re.compile(r"^Bearer\s+([A-Za-z0-9._~+/=-]{16,200})$")
log = get_logger("commande.intake.http")


def new_token() -> str:
    """A fresh bearer token (shown once; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).digest()


def _with_receipt_time(body: bytes, now: datetime) -> bytes:
    """A body without ``submitted_at`` gets the time the ingress received it (what an HTTP
    client would put there anyway); anything that is not a JSON object is left to the contract."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and "submitted_at" not in data:
        data["submitted_at"] = now.isoformat()
        return json.dumps(data).encode()
    return body


async def token_agency(pool: Pool, header: str, now: datetime, directory: Directory, *,
                       hint: str = "") -> str | Response:
    """The agency of the bearer token in ``header``, or the 401: a malformed header, a token
    that is unknown, revoked or expired, or one whose agency is no longer an active member of
    the directory. ``hint`` ends each problem's detail (what else the caller may do)."""
    match = BEARER.match(header)
    if match is None:
        return problem(401, "unauthenticated", "Authentication required",
                       f"Send 'Authorization: Bearer <token>' with your agency's token{hint}.")
    async with pool.acquire() as conn:
        agency = await store.agency_for_token(conn, token_hash(match.group(1)), now)
    if agency is None:
        return problem(401, "invalid_token", "Invalid token",
                       f"The token is unknown, expired or revoked; ask for a new one{hint}.")
    org = directory.organization(agency)
    if org is None or not org.is_active(local_date(now)):
        return problem(401, "invalid_token", "Invalid token",
                       "The token's agency is no longer an active member of the directory; ask "
                       f"the table's coordinator{hint}.")
    return agency


def _reasons(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in reasons]


def routes(svc: Service, intake: Intake, max_bytes: int) -> list[BaseRoute]:
    """The ingress routes, bound to a service (its pool exists once it started)."""

    async def authenticate(request: Request) -> str | Response:
        return await token_agency(svc.pool, request.headers.get("authorization", ""),
                                  intake.clock.now(), intake.directory.current())

    async def submit(request: Request) -> Response:
        agency = await authenticate(request)
        if isinstance(agency, Response):
            return agency
        body = await read_json_body(request, max_bytes, "A referral")
        if isinstance(body, Response):
            return body
        try:
            event = ReferralSubmitted.model_validate_json(_with_receipt_time(body, intake.clock.now()))
        except ValidationError as exc:
            return problem(422, "contract_violation", "The body does not match the contract",
                           "Fix every listed field to match ReferralSubmitted v1.",
                           errors=field_errors(exc))
        if event.agency_id != agency:
            return problem(403, "wrong_agency", "Not your agency",
                           "Your token may only submit referrals of your own agency.")
        if event.subject is not None:
            sealed = sealing.seal_subject(event.subject, intake.intake_key.public_key)
            event = event.model_copy(update={"subject": None, "sealed_subject": sealed})
        now = intake.clock.now()
        _, checked = intake.check(event, now)
        if not checked.ok:
            log.info("http referral refused", agency_id=agency,
                     codes=sorted({r.code for r in checked.reasons}))
            return problem(400, "referral_rejected", "The referral does not meet Filter 1",
                           "Fix every reason and submit again.", reasons=_reasons(checked.reasons))
        rec = sign_record(to_record(event, source=SOURCE, time=now), intake.signing_key)
        event_id = dict(rec.headers)["ce_id"].decode()
        async with svc.pool.acquire() as conn, conn.transaction():
            await store.add_http_submission(conn, agency, event.referral_ref,
                                            UUID(event_id), now)
            await outbox.add(conn, svc.name, [events.out_record(rec)])
        url = f"/v1/referrals/{agency}/{event.referral_ref}"
        log.info("http referral queued", agency_id=agency, event_id=event_id)
        return JSONResponse({"status": "pending", "status_url": url, "event_id": event_id},
                            status_code=202, headers={"Location": url})

    async def status(request: Request) -> Response:
        agency = await authenticate(request)
        if isinstance(agency, Response):
            return agency
        wanted, ref = request.path_params["agency"], request.path_params["ref"]
        if wanted != agency:
            return problem(403, "wrong_agency", "Not your agency",
                           "Your token may only read your own agency's referrals.")
        async with svc.pool.acquire() as conn:
            answer, last_http = await store.referral_status(conn, agency, ref)
        if answer is None and last_http is None:
            return problem(404, "unknown_referral", "Unknown referral",
                           "No referral with this reference was received from your agency.")
        if answer is None or (last_http is not None and last_http > answer["answered_at"]):
            return JSONResponse({"status": "pending"})
        if answer["outcome"] == "accepted":
            return JSONResponse({"status": "accepted", "situation_id": str(answer["situation_id"]),
                                 "district": answer["district"],
                                 "answered_at": answer["answered_at"].isoformat()})
        return JSONResponse({"status": "rejected", "reasons": answer["reasons"],
                             "answered_at": answer["answered_at"].isoformat()})

    return [Route("/v1/referrals", submit, methods=["POST"]),
            Route("/v1/referrals/{agency}/{ref}", status, methods=["GET"])]
