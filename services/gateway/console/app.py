"""The console's shell: templates, static files, sessions, sign-in and sign-out, and the
checks every request passes (session, CSRF, origin). Pages are :mod:`.pages`, forms
:mod:`.actions`; both act and read only through the gateway (:class:`~services.gateway.routes.Gateway`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from schemas.errors import TransientError, Unauthenticated
from schemas.reference import reference
from services.gateway.console import oidc, security, sessions, views
from services.gateway.console.forms import parse
from services.gateway.console.labels import Labels
from services.gateway.identity import Identity, principal_from_claims, resolve
from services.gateway.routes import Gateway
from services.runtime.logging import get_logger

HERE = Path(__file__).parent
STATIC = HERE / "static"
log = get_logger("commande.gateway.console")
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in person: their session and who the directory takes them for."""

    session: sessions.Session
    identity: Identity

    @property
    def agencies(self) -> list[str]:
        """The agencies they act for, in token order."""
        return list(dict.fromkeys(c.agency_id for c in self.identity.capacities))

    @property
    def chairs(self) -> bool:
        """Chairs a table."""
        return any(c.chairs for c in self.identity.capacities)

    @property
    def oversees(self) -> list[str]:
        """Districts whose CMB they belong to (SLA alerts, event requests)."""
        return sorted(self.identity.cmb_districts())

    @property
    def answers(self) -> bool:
        """Acts for an agency that can be assigned (not only a CMB)."""
        return any(not c.is_cmb for c in self.identity.capacities)


class Console:
    """The console's dependencies and its shared machinery."""

    def __init__(self, gateway: Gateway, provider: oidc.Provider) -> None:
        settings = gateway.settings
        self.gw = gateway
        self.provider = provider
        self.ref = reference()
        self.base = settings.console_base
        self.redirect_uri = f"{self.base}/console/signed-in"
        self.cookies = security.CookiePolicy.for_public_url(self.base)
        self.lifetimes = security.Lifetimes(
            idle=timedelta(minutes=settings.console_idle_minutes),
            absolute=timedelta(hours=settings.console_lifetime_hours))
        self.idp_origin = oidc.origin(provider.issuer)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
            trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(local=views.local, duration=views.duration,
                                      local_input=views.local_input,
                                      csrf_field=security.CSRF_FIELD)
        self.static = {p.relative_to(STATIC).as_posix(): p.read_bytes()
                       for p in sorted(STATIC.rglob("*")) if p.is_file() and p.suffix != ".md"}

    @property
    def labels(self) -> Labels:
        """Names of codes and agencies (the directory as it is now)."""
        return Labels(self.ref, self.gw.directory.current())

    # -- answers --------------------------------------------------------------------------

    def headers(self, *, wasm: bool = False) -> dict[str, str]:
        """Security headers of every answer."""
        return security.page_headers(wasm=wasm, secure=self.cookies.secure,
                                     form_targets=(self.idp_origin,))

    def render(self, template: str, visitor: Visitor | None, *, status: int = 200,
               wasm: bool = False, **values: Any) -> HTMLResponse:
        """A page of ``template`` for ``visitor`` (``None``: not signed in)."""
        html = self.templates.get_template(template).render(
            visitor=visitor, labels=self.labels, **values)
        return HTMLResponse(html, status_code=status, headers=self.headers(wasm=wasm))

    def message(self, visitor: Visitor | None, status: int, heading: str, *sentences: str,
                links: tuple[tuple[str, str], ...] = (("/console/", "Back to your console"),),
                ) -> HTMLResponse:
        """A short page saying what happened and what the person can do next."""
        return self.render("message.html.j2", visitor, status=status, heading=heading,
                           sentences=sentences, links=links)

    def redirect(self, url: str, *, cookies: tuple[str, ...] = ()) -> Response:
        """A 303 to ``url`` with the security headers (and ``Set-Cookie`` values)."""
        answer = RedirectResponse(url, status_code=303, headers=self.headers())
        for cookie in cookies:
            answer.headers.append("set-cookie", cookie)
        return answer

    # -- who is asking ----------------------------------------------------------------------

    async def visitor(self, request: Request) -> Visitor | security.SessionState | None:
        """The signed-in person, why their session ended, or ``None`` (no session)."""
        found = await sessions.find_session(self.gw.svc.pool, self.lifetimes,
                                            request.cookies.get(security.SESSION_COOKIE))
        if not isinstance(found, sessions.Session):
            return found
        principal = principal_from_claims({"groups": list(found.groups)}, "groups")
        return Visitor(found, resolve(principal, self.gw.directory.current(), self.gw._today()))

    def page(self, handler: Callable[[Request, Visitor], Awaitable[Response]]) -> Handler:
        """A GET page for signed-in people: anyone else is sent to sign in (and back here)."""

        async def endpoint(request: Request) -> Response:
            who = await self.visitor(request)
            if isinstance(who, Visitor):
                return await handler(request, who)
            back = quote(request.url.path, safe="/")
            if who is None:
                return self.redirect(f"/console/sign-in?next={back}")
            return self.ended(who, back)

        return endpoint

    def ended(self, why: security.SessionState, back: str) -> Response:
        """A session ended by idleness or its lifetime: say so, clear the cookie."""
        words = (f"you did nothing for {self.lifetimes.idle.seconds // 60} minutes"
                 if why is security.SessionState.IDLE else
                 f"sessions last at most {int(self.lifetimes.absolute.total_seconds() // 3600)} hours")
        answer = self.message(None, 401, "Your session has ended",
                              f"For your safety it ended: {words}. Sign in again to carry on; "
                              "nothing you sent before was lost.",
                              links=((f"/console/sign-in?next={back}", "Sign in again"),))
        answer.headers.append("set-cookie", self.cookies.header(security.SESSION_COOKIE, "", 0))
        return answer

    async def form_visitor(self, request: Request, form: dict[str, list[str]]) -> Visitor | Response:
        """The signed-in person behind a form post, once the post passed every check: a live
        session, a same-origin request, the session's CSRF token. Nothing is sent otherwise."""
        who = await self.visitor(request)
        if who is None:
            return self.message(None, 401, "You are not signed in",
                                "Nothing was sent. Sign in, then fill in the form again.",
                                links=(("/console/sign-in", "Sign in"),))
        if not isinstance(who, Visitor):
            return self.ended(who, "/console/")
        origin = request.headers.get("origin")
        if origin not in (None, "null", oidc.origin(self.base)):  # "null": a privacy setting
            log.warning("console form from another origin refused")
            return self.message(who, 403, "Refused: this form came from another site",
                                "Nothing was sent. Use the forms of the console itself.")
        given = next(iter(form.get(security.CSRF_FIELD) or ()), None)
        if not security.same(who.session.csrf, given):
            log.warning("console form with a wrong CSRF token refused")
            return self.message(who, 403, "Refused: the form's security token does not match",
                                "Nothing was sent. This happens when a form is older than your "
                                "session, or was not made by the console. Reload the page and "
                                "send it again.")
        return who

    # -- signing in and out -----------------------------------------------------------------

    async def sign_in(self, request: Request) -> Response:
        """``GET /console/sign-in``: begin the code flow with PKCE at the identity provider."""
        try:
            endpoints = await self.provider.endpoints()
        except TransientError as exc:
            log.warning("identity provider unavailable", error=str(exc))
            return self.message(None, 503, "Signing in is not possible right now",
                                "The identity provider does not answer. Try again in a minute.",
                                links=(("/console/sign-in", "Try again"),))
        login_id, state, nonce = (security.random_token() for _ in range(3))
        verifier = security.random_token(48)
        back = security.safe_return_path(request.query_params.get("next"))
        await sessions.begin_login(self.gw.svc.pool, login_id, state, nonce, verifier, back)
        url = oidc.authorize_url(endpoints.authorization, client_id=self.provider.client_id,
                                 redirect_uri=self.redirect_uri, state=state, nonce=nonce,
                                 challenge=security.pkce_challenge(verifier))
        return self.redirect(url, cookies=(self.cookies.header(
            security.LOGIN_COOKIE, login_id, security.LOGIN_MINUTES * 60),))

    async def signed_in(self, request: Request) -> Response:
        """``GET /console/signed-in``: the provider's answer; check it, open a session."""
        clear = self.cookies.header(security.LOGIN_COOKIE, "", 0)
        again = (("/console/sign-in", "Sign in again"),)
        login_id = request.cookies.get(security.LOGIN_COOKIE)
        attempt = await sessions.take_login(self.gw.svc.pool, login_id) if login_id else None
        params = request.query_params
        if attempt is None or not security.same(attempt.state, params.get("state")):
            answer = self.message(None, 400, "This sign-in cannot be completed",
                                  "It was not begun in this browser, began more than ten minutes "
                                  "ago, or was already used. Nothing was signed in.", links=again)
        elif params.get("iss") not in (None, self.provider.issuer):  # RFC 9207: a mix-up
            answer = self.message(None, 401, "This sign-in came from another identity provider",
                                  "Nothing was signed in.", links=again)
        elif params.get("error") or not params.get("code"):
            answer = self.message(None, 401, "The identity provider did not sign you in",
                                  "Nothing was signed in. Try again, or ask your identity "
                                  "administrator if it keeps failing.", links=again)
        else:
            try:
                signed = await self.provider.exchange(str(params["code"]), attempt.verifier,
                                                      self.redirect_uri, attempt.nonce)
            except Unauthenticated as exc:
                log.warning("console sign-in refused", code=exc.code)
                answer = self.message(None, 401, "Your sign-in was not accepted", str(exc),
                                      links=again)
            except TransientError as exc:
                log.warning("identity provider unavailable", error=str(exc))
                answer = self.message(None, 503, "Signing in is not possible right now",
                                      "The identity provider does not answer. Try again in a "
                                      "minute.", links=again)
            else:
                session = await sessions.open_session(self.gw.svc.pool, self.lifetimes,
                                                      signed.groups, signed.id_token)
                log.info("console session opened", groups=len(signed.groups))
                lifetime = int(self.lifetimes.absolute.total_seconds())
                return self.redirect(attempt.return_to, cookies=(clear, self.cookies.header(
                    security.SESSION_COOKIE, session.session_id, lifetime)))
        answer.headers.append("set-cookie", clear)
        return answer

    async def sign_out(self, request: Request) -> Response:
        """``POST /console/sign-out``: end the session here, then at the identity provider."""
        form = await read_form(request)
        who = await self.form_visitor(request, form)
        if isinstance(who, Response):
            return who
        async with self.gw.svc.pool.acquire() as conn:
            id_token = await sessions.end_session(conn, who.session.session_id)
        log.info("console session closed")
        clear = self.cookies.header(security.SESSION_COOKIE, "", 0)
        try:
            end = (await self.provider.endpoints()).end_session
        except TransientError:
            end = None
        if end is None or id_token is None:
            return self.redirect("/console/signed-out", cookies=(clear,))
        answer = self.render("signing_out.html.j2", None, end_session=end, id_token=id_token,
                             client_id=self.provider.client_id,
                             after=f"{self.base}/console/signed-out")
        answer.headers.append("set-cookie", clear)
        return answer

    async def signed_out(self, request: Request) -> Response:
        """``GET /console/signed-out``: where the provider sends people back."""
        return self.message(None, 200, "You are signed out",
                            "You are signed out of the console and of the identity provider. "
                            "Close this window, or sign in again.",
                            links=(("/console/sign-in", "Sign in again"),))

    async def static_file(self, request: Request) -> Response:
        """``GET /console/static/{path}``: the console's own files (no listing, nothing else)."""
        name = str(request.path_params["path"])
        body = self.static.get(name)
        if body is None:
            return self.message(None, 404, "Not found", "There is no such file.")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {**self.headers(), "Cache-Control": "public, max-age=3600"}
        return Response(body, media_type=kind, headers=headers)

    def routes(self, pages: list[BaseRoute]) -> list[BaseRoute]:
        """The sign-in routes, the static files, then ``pages``."""
        return [
            Route("/console/sign-in", self.sign_in, methods=["GET"]),
            Route("/console/signed-in", self.signed_in, methods=["GET"]),
            Route("/console/sign-out", self.sign_out, methods=["POST"]),
            Route("/console/signed-out", self.signed_out, methods=["GET"]),
            Route("/console/static/{path:path}", self.static_file, methods=["GET"]),
            *pages,
            Route("/console/{rest:path}", self.not_found, methods=["GET", "POST"]),
        ]

    async def not_found(self, request: Request) -> Response:
        """Any other console address: a page (with the security headers) saying so."""
        return self.message(None, 404, "There is no such page",
                            "The address may be mistyped or out of date.")


MAX_FORM_BYTES = 16 * 1024


async def read_form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body of at most 16 KiB (anything else reads as empty, so its CSRF
    check fails and nothing is sent)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            return {}
    return parse(bytes(body))
