"""Signing people in to the console: OpenID Connect authorization code with PKCE (S256) against
the gateway's issuer, with httpx and the gateway's own token checks (no client library: the
flow is three requests, and PyJWT already checks the tokens).

1. ``authorize_url``: the browser goes to the provider with ``state``, ``nonce`` and the S256
   challenge of a fresh verifier (the three kept server-side, bound to the browser by a cookie);
2. the provider sends the browser back with ``code`` and ``state``; the gateway checks the state,
   then :meth:`Provider.exchange` trades the code and the verifier for tokens (server to server);
3. the ID token is checked (signature, issuer, audience = the client, nonce) and the access
   token goes through the same :class:`~services.gateway.tokens.TokenVerifier` as every API call
   (issuer, audience ``commande-gateway``, expiry); its groups make the session.

Sign-out ends the provider's session too (its ``end_session_endpoint``, with the ID token as
the hint, posted by the browser).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from schemas.errors import TransientError, Unauthenticated
from services.gateway.tokens import TokenVerifier, discovery_document


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the console needs of the issuer's discovery document."""

    authorization: str
    token: str
    end_session: str | None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A successful code exchange: the groups the access token grants, and the ID token (kept,
    sealed, only to end the provider's session at sign-out)."""

    groups: tuple[str, ...]
    id_token: str


def authorize_url(endpoint: str, *, client_id: str, redirect_uri: str, state: str, nonce: str,
                  challenge: str) -> str:
    """The provider's sign-in address for this attempt (scope ``openid`` only: no name, no
    e-mail address in the tokens)."""
    query = urlencode({"response_type": "code", "client_id": client_id,
                       "redirect_uri": redirect_uri, "scope": "openid", "state": state,
                       "nonce": nonce, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    return f"{endpoint}?{query}"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (for the CSP's form-action)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Provider:
    """The issuer's endpoints, discovered once, and the code exchange."""

    def __init__(self, verifier: TokenVerifier, client_id: str, groups_claim: str,
                 timeout: float = 10.0, internal_url: str | None = None) -> None:
        self.verifier = verifier
        self.client_id = client_id
        self._groups_claim = groups_claim
        self._timeout = timeout
        self._internal = internal_url.rstrip("/") if internal_url else None
        self._endpoints: Endpoints | None = None
        self._lock = asyncio.Lock()

    def _server_side(self, url: str) -> str:
        """``url`` as the gateway reaches it (the internal address in place of the public one)."""
        if self._internal and url.startswith(self.issuer):
            return self._internal + url[len(self.issuer):]
        return url

    @property
    def issuer(self) -> str:
        """The issuer every token must come from."""
        return self.verifier.issuer

    async def endpoints(self) -> Endpoints:
        """The issuer's endpoints (discovered on first use; the document must name the issuer).

        Raises:
            TransientError: the provider does not answer, or its document is not usable.
        """
        async with self._lock:
            if self._endpoints is None:
                document = await discovery_document(
                    self._server_side(f"{self.issuer}/.well-known/openid-configuration"),
                    self.issuer, self._timeout)
                auth, token = document.get("authorization_endpoint"), document.get("token_endpoint")
                if not isinstance(auth, str) or not isinstance(token, str):
                    raise TransientError("the identity provider publishes no authorization or "
                                         "token endpoint")
                end = document.get("end_session_endpoint")
                self._endpoints = Endpoints(auth, token, end if isinstance(end, str) else None)
            return self._endpoints

    async def exchange(self, code: str, verifier: str, redirect_uri: str,
                       nonce: str) -> SignedIn:
        """Trade the code for tokens and check them.

        Raises:
            Unauthenticated: the provider refused the code, or a token fails a check.
            TransientError: the provider does not answer.
        """
        endpoints = await self.endpoints()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": verifier}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                answer = await http.post(self._server_side(endpoints.token), data=form)
        except httpx.HTTPError as exc:
            raise TransientError(f"the identity provider does not answer: {type(exc).__name__}") from None
        if answer.status_code >= 500:
            raise TransientError(f"the identity provider answered {answer.status_code}")
        body = _json(answer)
        if answer.status_code != 200:
            error = body.get("error")
            raise Unauthenticated("sign_in_refused", "The identity provider refused the sign-in"
                                  + (f" ({error})." if isinstance(error, str) else "."))
        id_token, access = body.get("id_token"), body.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access, str):
            raise Unauthenticated("sign_in_refused", "The identity provider sent no ID or access token.")
        identity = await self.verifier.verify_id_token(id_token, self.client_id, nonce)
        claims = await self.verifier.verify(f"Bearer {access}")
        if claims.get("sub") != identity.get("sub"):
            raise Unauthenticated("invalid_token", "The ID and access tokens are not for the same person.")
        if claims.get("azp") not in (None, self.client_id):
            raise Unauthenticated("invalid_token", "The access token was issued to another client.")
        raw = claims.get(self._groups_claim)
        groups = tuple(g for g in raw if isinstance(g, str)) if isinstance(raw, list) else ()
        return SignedIn(groups=groups, id_token=id_token)

def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
