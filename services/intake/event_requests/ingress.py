"""``POST /v1/event-requests``: the public (no token) and organizations (their agency token) ask a
district's CMB for a speaker, a district tour or event participation.

The ingress mints the request id (UUIDv7) and stamps ``submitted_at`` with the time it received
the body (a requester cannot backdate the 30 days' notice), sets ``agency_id`` from a token when
one is sent, and queues :class:`EventRequestSubmitted` on the restricted submissions topic
through intake's outbox, as intake (``ce_source`` ``/commande/intake``: the only producer intake
takes a submission from). intake's consumer then records it: a request from the public with a
usable address waits for its requester to confirm that address (notifier mails them a
fixed-text link, :mod:`.confirm`); an organization's is answered at once (acknowledged or
rejected), and notifier e-mails the requester and the district's CMB manager.

It also runs the same pure checks at once, so a person at a web form learns everything to fix
without waiting for an e-mail:

* ``202`` ``{"request_id", "status", "district", "answer"}``: the checks pass; ``status`` is
  ``awaiting_confirmation`` for the public (the link comes by e-mail; nothing else happens until
  it is used) and ``received`` for an organization (the acknowledgement comes by e-mail);
* ``422`` ``event_request_rejected`` with every reason and ``earliest_acceptable_date`` when the
  notice is too short: the request is STILL queued, so intake records it as
  ``EventRequestRejected`` (statistics count it; the reasons are e-mailed only to a confirmed
  address: an organization's, or the public's once they use the link) and answers with its
  ``request_id``;
* ``422`` ``contract_violation`` with every field error when the body is not even the contract's
  shape: nothing is queued (there is nothing to record);
* ``429`` (with ``Retry-After``) when the client address's token bucket is empty, or when the
  e-mail address given was already sent its daily number of confirmation e-mails
  (``too_many_confirmations``; both limits are shared by every instance,
  :mod:`.rate_limit`); ``413`` over the size limit, ``415`` for a body that is not JSON,
  ``401``/``403`` for a bad or foreign agency token. Problems are RFC 9457 and never echo a value
  from the request; the client address is used for the limit only, never logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from uuid6 import uuid7

from schemas.envelope import to_record
from schemas.event_requests import EventRequestSubmitted
from services.intake.event_requests.decide import confirmation_address
from services.intake.event_requests.handlers import EventRequests
from services.intake.event_requests.ports import EventLimits, EventLimitStores
from services.intake.handlers import SOURCE
from services.intake.ingress import token_agency
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime import events, outbox
from services.runtime.db import Connection
from services.runtime.logging import get_logger
from services.runtime.problems import field_errors, problem, read_json_body
from services.runtime.service import Service

PATH = "/v1/event-requests"
log = get_logger("commande.intake.http")


def routes(svc: Service, requests: EventRequests, *, max_bytes: int, limits: EventLimitStores,
           tokens: Callable[[Connection], IntakeStore] = PgIntakeStore) -> list[BaseRoute]:
    """The route, bound to a service (its pool exists once it started); the shared limits of
    each connection are ``limits`` (``SharedLimits.bound`` in the service), agency tokens are
    intake's (``tokens``)."""

    async def agency_of(request: Request) -> str | Response | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        return await token_agency(
            svc.pool, tokens, header, requests.clock.now(), requests.directory.current(),
            hint=", or send no Authorization header to ask as a member of the public")

    async def submit(request: Request) -> Response:
        now = requests.clock.now()
        client = request.client.host if request.client is not None else "unknown"
        async with svc.pool.acquire() as conn:
            wait = await limits(conn).take(client)
        if wait is not None:
            response = problem(429, "too_many_requests", "Too many requests",
                               f"Too many requests from your address; try again in {int(wait)} "
                               "seconds.")
            response.headers["Retry-After"] = str(int(wait))
            return response
        agency = await agency_of(request)
        if isinstance(agency, Response):
            return agency
        body = await read_json_body(request, max_bytes, "An event request")
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return problem(422, "contract_violation", "The body does not match the contract",
                           "Send a JSON object shaped like EventRequestSubmitted v1.",
                           errors=[{"field": None, "message": "the body is not a JSON object"}])
        claimed = data.get("agency_id")
        if claimed is not None and agency is None:
            return problem(401, "unauthenticated", "Authentication required",
                           "Only an organization with its agency token may set agency_id; send "
                           "the token, or leave agency_id out.")
        if claimed is not None and claimed != agency:
            return problem(403, "wrong_agency", "Not your agency",
                           "Your token may only submit requests as your own agency.")
        data.update(request_id=str(uuid7()), submitted_at=now.isoformat(), agency_id=agency)
        try:
            event = EventRequestSubmitted.model_validate_json(json.dumps(data))
        except ValidationError as exc:
            return problem(422, "contract_violation", "The body does not match the contract",
                           "Fix every listed field to match EventRequestSubmitted v1.",
                           errors=field_errors(exc))
        checked = requests.check(event)
        address = confirmation_address(event)
        confirm = address is not None
        rec = to_record(event, source=SOURCE, time=now)
        async with svc.pool.acquire() as conn, conn.transaction():
            counted = limits(conn)
            if address is not None and (
                    tomorrow := await counted.count_confirmation(address)) is not None:
                return _too_many_confirmations(counted, tomorrow)
            await outbox.add(conn, svc.name, [events.out_record(rec)])
        request_id = str(event.request_id)
        deadline = now.replace(microsecond=0) + timedelta(hours=requests.config.confirm_hours)
        if not checked.ok:
            log.info("http event request rejected", request_id=request_id,
                     codes=sorted({r.code for r in checked.reasons}), confirm=confirm)
            extra: dict[str, Any] = {
                "request_id": request_id,
                "reasons": [r.model_dump(mode="json") for r in checked.reasons]}
            if checked.earliest_acceptable_date is not None:
                extra["earliest_acceptable_date"] = checked.earliest_acceptable_date.isoformat()
            then = (" A link to confirm your e-mail address was sent to it: once confirmed "
                    f"(within {_hours(requests.config.confirm_hours)}), these reasons are "
                    "e-mailed to you as well." if confirm else "")
            return problem(422, "event_request_rejected", "The event request cannot be accepted",
                           "Fix every reason and submit a new request; this one is recorded as "
                           f"rejected.{then}", **extra)
        log.info("http event request queued", request_id=request_id, agency_id=agency,
                 district=checked.district, confirm=confirm)
        if confirm:
            return JSONResponse(
                {"request_id": request_id, "status": "awaiting_confirmation",
                 "district": checked.district, "confirm_by": deadline.isoformat(),
                 "answer": "A link to confirm your e-mail address was sent to it. Open it and "
                           "press the button within "
                           f"{_hours(requests.config.confirm_hours)}: only then does the "
                           "district's Community Mobilization Bureau receive your request "
                           "(otherwise it expires and is deleted)."},
                status_code=202)
        return JSONResponse(
            {"request_id": request_id, "status": "received", "district": checked.district,
             "answer": "An acknowledgement with this request id is sent to the e-mail address "
                       "you gave; the district's Community Mobilization Bureau will call you."},
            status_code=202)

    return [Route(PATH, submit, methods=["POST"])]


def _hours(hours: int) -> str:
    return f"{hours} hours" if hours != 1 else "1 hour"


def _too_many_confirmations(limits: EventLimits, wait: int) -> Response:
    """429: the address given was sent its daily number of confirmation e-mails; try tomorrow
    (Halton time, in ``wait`` seconds). Nothing is recorded."""
    response = problem(
        429, "too_many_confirmations", "Too many confirmation requests for this address",
        f"The e-mail address you gave was already sent {limits.config.confirmations_per_day} "
        "links to confirm a request today; nothing was recorded. Use one of the links already "
        "sent, or try again tomorrow.")
    response.headers["Retry-After"] = str(wait)
    return response
