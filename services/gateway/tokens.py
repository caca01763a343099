"""Bearer-token validation against the issuer's published keys (PyJWT): the gateway's adapter to
the identity provider.

A token is accepted only when it is an RS256 JWT from exactly the configured issuer, signed with
a key of that issuer's JWKS (discovered from ``<issuer>/.well-known/openid-configuration`` unless
``COMMANDE_OIDC_JWKS_URL`` is given), for the configured audience, not expired, with ``sub``,
``iat`` and ``exp``. The issuer is compared before any key is fetched, so a token from elsewhere
never makes the gateway fetch keys. Keys are cached (PyJWT's ``PyJWKClient``: the set for
5 minutes, and fetched again at once for an unknown key id, at most every 30 s: rotation).

Errors are :class:`~schemas.errors.Unauthenticated` with a code a client can act on
(``unauthenticated``, ``invalid_token``, ``token_expired``, ``wrong_issuer``,
``wrong_audience``); an unreachable identity provider is a :class:`TransientError`. No message
echoes the token or a claim value.
"""

from __future__ import annotations

import asyncio
import binascii
import hmac
import json
import re
import time
from typing import Any

import httpx
import jwt
from jwt import PyJWKClient
from jwt.utils import base64url_decode

from schemas.errors import TransientError, Unauthenticated

KEY_TTL = 300.0
"""Seconds a signing key is used from memory before it is looked up in the JWKS again (a key the
issuer withdrew stops being accepted within this time)."""
ALGORITHMS = ["RS256"]
REQUIRED = ["exp", "iat", "iss", "aud", "sub"]
BEARER = re.compile(r"^Bearer\s+([A-Za-z0-9._~+/=-]{16,8192})$")


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header."""
    match = BEARER.match(authorization or "")
    if match is None:
        raise Unauthenticated("unauthenticated",
                              "Send 'Authorization: Bearer <access token>' (commande login).")
    return match.group(1)


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``token``, unverified: only to pick the issuer's check and the key
    (PyJWT's own unverified parsing costs as much as the verified decode that follows)."""
    try:
        head, body, _ = token.split(".")
        header = json.loads(base64url_decode(head))
        claims = json.loads(base64url_decode(body))
    except (ValueError, binascii.Error):
        raise Unauthenticated("invalid_token", "The bearer token is not a valid JWT.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unauthenticated("invalid_token", "The bearer token is not a valid JWT.")
    return header, claims


class TokenVerifier:
    """Validates access tokens of one issuer for one audience."""

    def __init__(self, issuer: str, audience: str, *, jwks_url: str | None = None,
                 leeway: float = 5.0, timeout: float = 5.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._jwks_url = jwks_url
        self._leeway = leeway
        self._timeout = timeout
        self._client: PyJWKClient | None = None
        self._known: dict[str, tuple[Any, float]] = {}
        self._discovering = asyncio.Lock()

    async def verify(self, authorization: str | None) -> dict[str, Any]:
        """The claims of the bearer token in ``authorization``.

        Raises:
            Unauthenticated: no token, or a token this gateway does not accept (``code`` says why).
            TransientError: the identity provider's keys cannot be fetched now.
        """
        token = bearer(authorization)
        header, unverified = _peek(token)
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("invalid_token", "The token is not signed with RS256.")
        if unverified.get("iss") != self.issuer:
            raise Unauthenticated("wrong_issuer",
                                  "The token was not issued by this gateway's identity provider.")
        key = await self._signing_key(token, header.get("kid"))
        try:
            return jwt.decode(token, key, algorithms=ALGORITHMS, audience=self.audience,
                              issuer=self.issuer, leeway=self._leeway,
                              options={"require": REQUIRED})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token_expired", "The token has expired; sign in again.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("wrong_audience",
                                  f"The token is not meant for {self.audience}.") from None
        except jwt.MissingRequiredClaimError as exc:
            if exc.claim == "aud":
                raise Unauthenticated("wrong_audience",
                                      f"The token is not meant for {self.audience}.") from None
            raise Unauthenticated("invalid_token", f"The token has no {exc.claim} claim.") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("wrong_issuer",
                                  "The token was not issued by this gateway's identity provider.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid_token", "The token's signature or claims are not valid.") from None

    async def verify_id_token(self, token: str, client_id: str, nonce: str) -> dict[str, Any]:
        """The claims of an OpenID Connect ID token issued to ``client_id`` for the sign-in that
        sent ``nonce`` (the console's code flow): RS256, this issuer, audience the client,
        not expired, the nonce matching.

        Raises:
            Unauthenticated: any check fails (``code`` says which).
            TransientError: the identity provider's keys cannot be fetched now.
        """
        header, unverified = _peek(token)
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("invalid_token", "The ID token is not signed with RS256.")
        if unverified.get("iss") != self.issuer:
            raise Unauthenticated("wrong_issuer",
                                  "The ID token was not issued by this gateway's identity provider.")
        key = await self._signing_key(token, header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=client_id, issuer=self.issuer,
                leeway=self._leeway, options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token_expired", "The ID token has expired; sign in again.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid_token",
                                  "The ID token's signature or claims are not valid.") from None
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
                claims["nonce"].encode(), nonce.encode()):
            raise Unauthenticated("invalid_token", "The ID token is not for this sign-in (nonce).")
        return claims

    async def _signing_key(self, token: str, kid: object) -> Any:
        """The key that signed ``token``: from memory while it is fresh (no thread hop: a check
        then costs little more than PyJWT's decode), else from the JWKS, off the event loop."""
        now = time.monotonic()
        known = self._known.get(kid) if isinstance(kid, str) else None
        if known is not None and known[1] > now:
            return known[0]
        client = await self._keys()
        try:
            # PyJWKClient fetches with urllib (blocking) when its cache misses: off the loop.
            signing = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise TransientError(
                f"the identity provider's keys cannot be fetched: {type(exc).__name__}") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("invalid_token",
                                  "The token is signed with a key its issuer does not publish.") from None
        if isinstance(kid, str):
            self._known[kid] = (signing.key, now + KEY_TTL)
        return signing.key

    async def _keys(self) -> PyJWKClient:
        async with self._discovering:
            if self._client is None:
                url = self._jwks_url or await self._discover()
                self._client = PyJWKClient(url, cache_keys=True, lifespan=300,
                                           timeout=self._timeout)
            return self._client

    async def _discover(self) -> str:
        """The issuer's ``jwks_uri`` from its discovery document."""
        document = await discovery_document(f"{self.issuer}/.well-known/openid-configuration",
                                            self.issuer, self._timeout)
        jwks = document.get("jwks_uri")
        if not isinstance(jwks, str):
            raise TransientError("the identity provider's discovery document has no jwks_uri")
        return jwks


async def discovery_document(url: str, issuer: str, timeout: float) -> dict[str, Any]:
    """An OpenID Connect discovery document fetched from ``url``, which must name ``issuer``.

    Raises:
        TransientError: the provider does not answer, answers an error, or names another issuer.
    """
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            answer = await http.get(url)
    except httpx.HTTPError as exc:
        raise TransientError(f"the identity provider does not answer: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise TransientError(f"the identity provider's discovery document answered {answer.status_code}")
    try:
        document = answer.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise TransientError("the identity provider's discovery document names another issuer: "
                             "check COMMANDE_OIDC_ISSUER")
    return document
