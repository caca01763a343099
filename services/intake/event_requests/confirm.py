"""The link that confirms an event requester's address: ``/v1/event-requests/confirm/{token}``.

notifier mails it to the address a member of the public gave (a fixed text: the request id, the
district, the dates, the link; nothing the requester wrote). The token names the request and its
confirmation deadline, signed with ``COMMANDE_EVENT_CONFIRM_SECRET`` for
:data:`~schemas.event_requests.CONFIRMATION_PURPOSE` (:mod:`services.runtime.links`); it says
nothing about the requester.

* ``GET`` shows which request the link confirms (id, district, deadline) and a button; it changes
  nothing, because mail scanners (Safe Links, Proofpoint) follow every link in a message.
* ``POST`` (the button) confirms: intake's pure core decides under the request's row lock, and
  ``EventRequestConfirmed`` and the answer (acknowledgement or rejection) go to the outbox in the
  same transaction. The page then says what happens next; a second ``POST`` says it was already
  confirmed. A tampered token is 400, an expired one (or a request that expired) 410, a genuine
  token for a request intake does not know 404; none of them changes anything.

The POST lands here, in intake, rather than in notifier: the request's state, its deadline and
the expiry timer are intake's, so the confirmation is decided and answered in one transaction
(no race with the expiry, a true answer on the page) and intake takes no new producer's word on
its submissions topic.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schemas.event_requests import CONFIRMATION_PATH, CONFIRMATION_PURPOSE, EventRequestRejected
from schemas.reference.calendar import ZONE
from services.intake.event_requests.decide import EventRequestState
from services.intake.event_requests.handlers import EventRequests
from services.intake.settings import IntakeSettings
from services.runtime import links, outbox, pages
from services.runtime.decision import Decided
from services.runtime.service import Service

TITLE = "Halton Regional Police: confirm your community event request"
HEADING = "Confirm your community event request"
BUTTON = "Confirm my e-mail address"


def _when(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def _page(*paragraphs: str, button: bool = False, status: int = 200) -> Response:
    return pages.page(TITLE, HEADING, *paragraphs, button=BUTTON if button else None,
                      status=status)


def confirm_secret(settings: IntakeSettings) -> bytes:
    """The secret confirmation links are signed with (shared with notifier, which mails them);
    the development secret on the local stack only."""
    return links.secret_setting(settings.event_confirm_secret,
                                setting="COMMANDE_EVENT_CONFIRM_SECRET",
                                purpose=CONFIRMATION_PURPOSE, development=settings.development)


def routes(svc: Service, requests: EventRequests, secret: bytes) -> list[BaseRoute]:
    """The confirmation routes of intake's HTTP app (the pool exists once the service started)."""
    districts = {d.code: d.name for d in requests.reference.districts}

    def district(state: EventRequestState) -> str:
        return districts.get(state.district or "", "the District")

    def request_of(request: Request) -> UUID | Response:
        try:
            return links.verify(secret, CONFIRMATION_PURPOSE, str(request.path_params["token"]),
                                requests.clock.now())
        except links.ExpiredToken:
            return _page("This confirmation link has expired, and the request with it: nothing "
                         "was sent to the District. You are welcome to submit the request again.",
                         status=410)
        except links.TamperedToken:
            return _page("This is not a valid confirmation link. Open the link exactly as it is "
                         "in the e-mail.", status=400)

    async def show(request: Request) -> Response:
        rid = request_of(request)
        if isinstance(rid, Response):
            return rid
        async with svc.pool.acquire() as conn:
            state = await requests.stores(conn).peek_request(rid)
        if state is None:
            return _page("This request is unknown.", status=404)
        if state.confirmed_at is not None:
            return _page(f"The e-mail address of community event request {rid} was confirmed on "
                         f"{_when(state.confirmed_at)} (Toronto). Nothing more is needed.")
        if state.status == "expired":
            return _page(f"Community event request {rid} expired unconfirmed; nothing was sent to "
                         "the District. You are welcome to submit it again.", status=410)
        if state.status != "awaiting_confirmation" or state.confirm_expires_at is None:
            return _page(f"Community event request {rid} needs no confirmation.")
        return _page(
            f"This link confirms the e-mail address given with community event request {rid} "
            f"for {district(state)}.",
            "Press the button to confirm it: only then is the request sent to the District's "
            "Community Mobilization Bureau, and its answer to this address. Without a "
            f"confirmation by {_when(state.confirm_expires_at)} (Toronto) the request is deleted.",
            button=True)

    async def confirm(request: Request) -> Response:
        rid = request_of(request)
        if isinstance(rid, Response):
            return rid
        async with svc.pool.acquire() as conn, conn.transaction():
            decision, records = await requests.confirm(conn, rid)
            await outbox.add(conn, svc.name, records)
        if isinstance(decision, Decided):
            if isinstance(decision.events[-1], EventRequestRejected):
                return _page("Thank you: your e-mail address is confirmed.",
                             f"Request {rid} cannot be accepted as it was sent; every reason is "
                             "on its way to this address. You are welcome to send a corrected "
                             "request.")
            return _page("Thank you: your e-mail address is confirmed.",
                         f"Request {rid} is now with {district(decision.state)}'s Community "
                         "Mobilization Bureau; an acknowledgement is on its way to this address, "
                         "and the District will contact you.")
        code = decision.code
        if code == "unknown_request":
            return _page("This request is unknown.", status=404)
        if code == "confirmation_expired":
            return _page(f"Community event request {rid} expired unconfirmed; nothing was sent to "
                         "the District. You are welcome to submit it again.", status=410)
        if code == "already_confirmed":
            return _page(f"The e-mail address of community event request {rid} was already "
                         "confirmed. Nothing more is needed.")
        return _page(f"Community event request {rid} needs no confirmation.")

    path = CONFIRMATION_PATH + "{token}"
    return [Route(path, show, methods=["GET"]), Route(path, confirm, methods=["POST"])]
