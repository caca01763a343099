"""HTTP ingress for partners without a Kafka client (Starlette routes on intake's ASGI app).

``POST /v1/referrals`` takes the JSON of a ``ReferralSubmitted`` with a per-agency bearer token
(only SHA-256 hashes of tokens are stored) and has intake decide it in the request, with the same
rules and the same code as a referral from Kafka, once (:meth:`Intake.submit_direct`): the
subject goes from the request to the vault and never crosses Kafka. ``201`` with the situation
when accepted, ``400`` with every reason when rejected, ``409`` when the reference was used for
another referral, ``200`` with the first answer when the same referral comes again.
``GET /v1/referrals/{agency}/{ref}`` answers accepted or rejected (whichever way it came).

Errors are RFC 9457 problem details (``application/problem+json``): 400 with every reason, 409
for a reference already used, 401 without a valid token, 403 for another agency's referral, 404,
413 over the size limit, 415 for a content type other than JSON, 422 for a contract violation.
No problem echoes a value from the request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from directory import Directory
from schemas.reference.calendar import local_date
from schemas.referrals import Reason, ReferralSubmitted
from services.intake.decide import CONFLICT, CONFLICT_MESSAGE
from services.intake.handlers import Intake
from services.intake.ports import IntakeStore
from services.runtime import outbox
from services.runtime.db import Connection, Pool
from services.runtime.decision import Unchanged
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


async def token_agency(pool: Pool, stores: Callable[[Connection], IntakeStore], header: str,
                       now: datetime, directory: Directory, *, hint: str = "") -> str | Response:
    """The agency of the bearer token in ``header``, or the 401: a malformed header, a token
    that is unknown, revoked or expired, or one whose agency is no longer an active member of
    the directory. ``hint`` ends each problem's detail (what else the caller may do)."""
    match = BEARER.match(header)
    if match is None:
        return problem(401, "unauthenticated", "Authentication required",
                       f"Send 'Authorization: Bearer <token>' with your agency's token{hint}.")
    async with pool.acquire() as conn:
        agency = await stores(conn).agency_for_token(token_hash(match.group(1)), now)
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
        return await token_agency(svc.pool, intake.stores, request.headers.get("authorization", ""),
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
        async with svc.pool.acquire() as conn, conn.transaction():
            decision, records = await intake.submit_direct(conn, event)
            await outbox.add(conn, svc.name, records)
        url = f"/v1/referrals/{agency}/{event.referral_ref}"
        if isinstance(decision, Unchanged):
            if decision.code == CONFLICT:
                return problem(409, "duplicate_ref_conflict", "Reference already used",
                               CONFLICT_MESSAGE)
            return await answer(agency, event.referral_ref)  # the same referral again: its answer
        new = decision.state
        if new.outcome == "accepted":
            return JSONResponse({"status": "accepted", "situation_id": str(new.situation_id),
                                 "district": new.district, "status_url": url},
                                status_code=201, headers={"Location": url})
        return problem(400, "referral_rejected", "The referral does not meet Filter 1",
                       "Fix every reason and submit again.", reasons=_reasons(new.reasons))

    async def answer(agency: str, ref: str) -> Response:
        """The recorded answer to one of ``agency``'s references."""
        async with svc.pool.acquire() as conn:
            found = await intake.stores(conn).referral_status(agency, ref)
        if found is None:
            return problem(404, "unknown_referral", "Unknown referral",
                           "No referral with this reference was received from your agency.")
        if found.outcome == "accepted":
            return JSONResponse({"status": "accepted", "situation_id": str(found.situation_id),
                                 "district": found.district,
                                 "answered_at": found.answered_at.isoformat()})
        return JSONResponse({"status": "rejected", "reasons": found.reasons,
                             "answered_at": found.answered_at.isoformat()})

    async def status(request: Request) -> Response:
        agency = await authenticate(request)
        if isinstance(agency, Response):
            return agency
        wanted, ref = request.path_params["agency"], request.path_params["ref"]
        if wanted != agency:
            return problem(403, "wrong_agency", "Not your agency",
                           "Your token may only read your own agency's referrals.")
        return await answer(agency, ref)

    return [Route("/v1/referrals", submit, methods=["POST"]),
            Route("/v1/referrals/{agency}/{ref}", status, methods=["GET"])]
