"""``commande login | logout``: sign in to the identity provider for the table commands.

In development (``COMMANDE_ENV=development``: the embedded stack's Keycloak and its synthetic
people) ``commande login USERNAME`` uses the password grant, the password from a prompt or
``--password-stdin``. Anywhere else it uses the device-authorization grant: it prints a short
code and an address to open in a browser, where the person signs in as they always do (their
provider's own second factor included), and waits.

The tokens are kept per issuer in ``COMMANDE_TOKEN_FILE`` (``~/.config/commande/tokens.json``,
mode 0600) and refreshed while the sign-in session lasts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import time
from typing import Annotated, Any

import typer

from services.cli.gateway_client import TokenStore, discovery, token_request
from services.gateway.settings import GatewaySettings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def login(
    username: Annotated[str | None, typer.Argument(
        help="Development only: the synthetic person to sign in as (e.g. d1-chair).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Development only: read the password from standard input.")] = False,
) -> None:
    """Sign in for the table commands (decide, assign, respond, ...).

    Example: commande login d1-chair            (local stack: password grant)
             commande login                     (elsewhere: a code to enter in your browser)
    """
    settings = GatewaySettings()
    if settings.development and username:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
            f"password for {username}", hide_input=True)
        answer = token_request(settings, {"grant_type": "password", "username": username,
                                          "password": password, "scope": "openid"})
        if answer.status_code != 200:
            typer.secho(f"sign-in refused: {answer.json().get('error_description', answer.status_code)}",
                        fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
        tokens: dict[str, Any] = answer.json()
    elif username or password_stdin:
        typer.secho("a password sign-in is for the local stack only (COMMANDE_ENV=development); "
                    "run `commande login` without a name", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    else:
        tokens = _device_flow(settings)
    TokenStore(settings.token_file).put(settings.issuer, tokens)
    groups = ", ".join(_claims(tokens["access_token"]).get("groups", [])) or "no groups"
    typer.echo(f"signed in to {settings.issuer} ({groups})")


def logout() -> None:
    """Forget the stored sign-in for the configured issuer.

    Example: commande logout
    """
    settings = GatewaySettings()
    dropped = TokenStore(settings.token_file).drop(settings.issuer)
    typer.echo("signed out" if dropped else "was not signed in")


def _device_flow(settings: GatewaySettings) -> dict[str, Any]:
    import httpx

    endpoint = discovery(settings).get("device_authorization_endpoint")
    if not endpoint:
        typer.secho("the identity provider offers no device sign-in; use --token",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    # PKCE on the device grant too: a client that requires it (the stack's does) refuses without.
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    answer = httpx.post(endpoint, data={"client_id": settings.oidc_client_id, "scope": "openid",
                                        "code_challenge": challenge,
                                        "code_challenge_method": "S256"}, timeout=10)
    started = answer.json()
    if answer.status_code != 200 or "device_code" not in started:
        typer.secho(f"the identity provider refused the device sign-in: "
                    f"{started.get('error_description') or started.get('error') or answer.status_code}",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"Open {started.get('verification_uri_complete') or started['verification_uri']} "
               f"and enter the code {started['user_code']}")
    interval = float(started.get("interval", 5))
    deadline = time.monotonic() + float(started.get("expires_in", 600))
    while time.monotonic() < deadline:
        time.sleep(interval)
        answer = token_request(settings, {"grant_type": DEVICE_GRANT, "code_verifier": verifier,
                                          "device_code": started["device_code"]})
        if answer.status_code == 200:
            tokens: dict[str, Any] = answer.json()
            return tokens
        error = answer.json().get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            typer.secho(f"sign-in refused: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
    typer.secho("the code expired before the sign-in finished", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _claims(token: str) -> dict[str, Any]:
    """The payload of our own fresh token, to say who signed in (not a validation)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
