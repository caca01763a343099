"""What the people-facing commands need of the gateway: a token, a call, the outcome printed.

The token is ``--token`` (or ``COMMANDE_TOKEN``), else the one ``commande login`` stored for the
configured issuer (refreshed when it expired and the sign-in session still holds). A command's
answer is printed in full: accepted with the facts it caused, or refused with every reason and
who was refused. Exit codes: 0 accepted, 1 refused, 2 no answer or no valid sign-in.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer

from schemas.errors import CommandeError, TransientError
from services.gateway.settings import GatewaySettings

TIMEOUT = 10.0


class NotSignedIn(CommandeError):
    """No token to send: sign in first."""


def discovery(settings: GatewaySettings) -> dict[str, Any]:
    """The issuer's OpenID Connect discovery document."""
    url = f"{settings.issuer}/.well-known/openid-configuration"
    try:
        answer = httpx.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise TransientError(f"the identity provider at {settings.issuer} does not answer "
                             f"({type(exc).__name__}); is the stack up?") from None
    if answer.status_code != 200:
        raise TransientError(f"the identity provider's discovery document answered {answer.status_code}")
    document: dict[str, Any] = answer.json()
    return document


@dataclass(frozen=True, slots=True)
class TokenStore:
    """Tokens per issuer in one JSON file, readable by its owner only."""

    path: Path

    def _all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, issuer: str) -> dict[str, Any] | None:
        """The stored sign-in for ``issuer``."""
        found = self._all().get(issuer)
        return found if isinstance(found, dict) else None

    def put(self, issuer: str, tokens: dict[str, Any]) -> None:
        """Keep the token endpoint's answer (with when it expires)."""
        now = time.time()
        entry = {"access_token": tokens["access_token"],
                 "refresh_token": tokens.get("refresh_token"),
                 "expires_at": now + float(tokens.get("expires_in", 60)),
                 "refresh_expires_at": now + float(tokens.get("refresh_expires_in", 0) or 0)}
        data = self._all()
        data[issuer] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)
        self.path.write_text(json.dumps(data, indent=1))

    def drop(self, issuer: str) -> bool:
        """Forget the sign-in for ``issuer``; whether there was one."""
        data = self._all()
        if data.pop(issuer, None) is None:
            return False
        self.path.write_text(json.dumps(data, indent=1))
        return True


def token_request(settings: GatewaySettings, form: dict[str, str]) -> httpx.Response:
    """POST ``form`` to the issuer's token endpoint (as the CLI's public client)."""
    endpoint = discovery(settings)["token_endpoint"]
    try:
        return httpx.post(endpoint, data={"client_id": settings.oidc_client_id, **form},
                          timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise TransientError(f"the identity provider does not answer ({type(exc).__name__})") from None


def access_token(settings: GatewaySettings, given: str | None) -> str:
    """The bearer token to send: ``given``, else the stored one (refreshed if need be)."""
    if given:
        return given
    store = TokenStore(settings.token_file)
    stored = store.get(settings.issuer)
    if stored is None:
        raise NotSignedIn(f"not signed in to {settings.issuer}: run `commande login` "
                          "(or give --token / COMMANDE_TOKEN)")
    now = time.time()
    if float(stored.get("expires_at", 0)) > now + 15:
        return str(stored["access_token"])
    if stored.get("refresh_token") and float(stored.get("refresh_expires_at", 0)) > now + 5:
        answer = token_request(settings, {"grant_type": "refresh_token",
                                          "refresh_token": str(stored["refresh_token"])})
        if answer.status_code == 200:
            store.put(settings.issuer, answer.json())
            return str(answer.json()["access_token"])
    raise NotSignedIn("your sign-in has expired: run `commande login` again")


def call(settings: GatewaySettings, method: str, path: str, token: str,
         body: dict[str, Any] | None = None, wait: float | None = None) -> httpx.Response:
    """One request to the gateway; an unreachable gateway is a :class:`TransientError`."""
    params = {"wait": f"{wait:g}"} if wait is not None else None
    try:
        return httpx.request(method, f"{settings.base_url}{path}", json=body, params=params,
                             headers={"Authorization": f"Bearer {token}"},
                             timeout=(wait if wait is not None else settings.gateway_answer_seconds) + 15)
    except httpx.HTTPError as exc:
        raise TransientError(f"the gateway at {settings.base_url} does not answer "
                             f"({type(exc).__name__}): is `commande run all` (or run gateway) "
                             "running?") from None


def describe(status: int, answer: Any, what: str) -> tuple[int, list[str]]:
    """The exit code and the lines to print for the gateway's answer to a command."""
    answer = answer if isinstance(answer, dict) else {}
    actor = answer.get("actor") if isinstance(answer.get("actor"), dict) else {}
    who = "/".join(str(actor[k]) for k in ("agency_id", "role") if actor.get(k))
    if status == 200 and answer.get("outcome") == "accepted":
        lines = [f"accepted: {what} as {who} (command {answer.get('command_id')})"]
        lines += [f"  - {_short(e.get('type', ''))}{_gist(e.get('data', {}))}"
                  for e in answer.get("events", []) if isinstance(e, dict)]
        return 0, lines
    if status == 202:
        return 2, [f"published: {what} as {who} (command {answer.get('command_id')}); "
                   "not settled yet"]
    if status == 401:
        return 2, [f"not signed in ({answer.get('detail', 'token refused')}): run `commande login`"]
    if status == 504:
        return 2, [f"no outcome within the wait: {what} was published (command "
                   f"{answer.get('command_id')}); its outcome will be at {answer.get('status_url')}"]
    if status in (403, 409, 422) or answer.get("reasons") or answer.get("errors"):
        head = "refused" if str(answer.get("type", "")).endswith(":command_rejected") else \
            f"refused by the gateway ({answer.get('title', status)})"
        lines = [f"{head} ({status}): {what}" + (f" as {who}" if who else "")
                 + (f" (command {answer['command_id']})" if answer.get("command_id") else "")]
        lines += [f"  - {r.get('code')} ({r.get('field') or '-'}): {r.get('message')}"
                  for r in answer.get("reasons", []) or [] if isinstance(r, dict)]
        lines += [f"  - {e.get('field') or '(body)'}: {e.get('message')}"
                  for e in answer.get("errors", []) or [] if isinstance(e, dict)]
        if not answer.get("reasons") and not answer.get("errors") and answer.get("detail"):
            lines.append(f"  - {answer['detail']}")
        return 1, lines
    return 2, [f"the gateway answered {status}: {answer.get('detail') or answer.get('title') or '-'}"]


def send(settings: GatewaySettings, path: str, body: dict[str, Any], what: str,
         token: str | None, wait: float | None) -> None:
    """POST a command, print the outcome, exit 0 accepted, 1 refused, 2 otherwise."""
    answer = call(settings, "POST", path, access_token(settings, token),
                  {k: v for k, v in body.items() if v is not None}, wait)
    try:
        data = answer.json()
    except ValueError:
        data = {}
    code, lines = describe(answer.status_code, data, what)
    for line in lines:
        typer.echo(line, err=code == 2)
    if code:
        raise typer.Exit(code)


def _short(ce_type: str) -> str:
    return ce_type.removeprefix("ca.halton.commande.").rsplit(".", 1)[0]


def _gist(data: Any) -> str:
    """A few de-identified fields of a fact, for the terminal."""
    if not isinstance(data, dict):
        return ""
    keys = ("decision", "conclusion", "to_state", "outcome", "identity_release", "date", "reason")
    parts = [f"{k}={data[k]}" for k in keys if data.get(k) is not None]
    lead = data.get("lead")
    if isinstance(lead, dict):
        parts.append(f"lead={lead.get('agency_id')}")
    if data.get("agency_id"):
        parts.append(f"agency={data['agency_id']}")
    return f" ({', '.join(parts)})" if parts else ""
