"""The console's forms (POST): each becomes the same command the API builds, issued through the
gateway as the signed-in person, and the page says what convening made of it."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from services.gateway.console import forms, outcome
from services.gateway.console.app import Console, Visitor, read_form
from services.gateway.routes import Refusal


class Actions:
    """The form posts, bound to the console."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.gw = console.gw

    async def act(self, request: Request) -> Response:
        """``POST /console/situations/{id}/{action}``: session, origin and CSRF checked first;
        nothing is sent when any fails."""
        form = await read_form(request)
        who = await self.c.form_visitor(request, form)
        if not isinstance(who, Visitor):
            return who
        action = forms.ACTIONS.get(str(request.path_params["action"]))
        try:
            sid = UUID(str(request.path_params["situation_id"]))
        except ValueError:
            action = None
        if action is None:
            return self.c.message(who, 404, "No such form", "Nothing was sent.")
        operation, parse, what = action
        back = f"/console/situations/{sid}"
        try:
            body = parse(form)
        except forms.FormError as exc:
            return self._page(who, outcome.invalid(what, exc), back)
        wait = self.gw.settings.gateway_answer_seconds
        issued = await self.gw.issue(who.identity, self.gw.builders()[operation], body, sid, wait)
        view = (outcome.stopped(what, issued) if isinstance(issued, Refusal)
                else outcome.issued(what, issued, self.c.labels, wait))
        return self._page(who, view, back)

    def _page(self, who: Visitor, view: outcome.OutcomeView, back: str) -> Response:
        return self.c.render("outcome.html.j2", who, status=view.status, view=view, back=back)

    def routes(self) -> list[BaseRoute]:
        """Every form's route."""
        return [Route("/console/situations/{situation_id}/{action}", self.act, methods=["POST"])]
