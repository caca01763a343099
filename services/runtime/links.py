"""Signed, expiring link tokens (pure: the caller passes the secret and ``now``).

A token is ``base64url(id 16 bytes + expiry 8 bytes) . base64url(HMAC-SHA256)``, the MAC taken
over a *purpose* (``commande.notifier.ack.v1``, ``commande.event-request.confirm.v1``) and the
payload: it names one record (a notice, a request) and when it stops working, nothing about a
person, and cannot be forged, extended or reused for another purpose without the secret. Links
people follow in e-mails carry them (notifier's acknowledgements, the confirmation of an event
requester's address); the page behind such a link shows on ``GET`` and acts only on ``POST``,
because mail scanners follow every link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID

from pydantic import SecretStr

from schemas.errors import CommandeError, ConfigurationError

MIN_SECRET_BYTES = 16


class TokenError(CommandeError):
    """A link token that cannot be honoured."""


class TamperedToken(TokenError):
    """Malformed, wrongly signed, or signed for another purpose."""


class ExpiredToken(TokenError):
    """Correctly signed, but past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: bytes) -> bytes:
    return hmac.new(secret, purpose.encode() + b"|" + payload, hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, subject: UUID, expires_at: datetime) -> str:
    """A token for ``subject`` and ``purpose``, valid until ``expires_at`` (whole seconds)."""
    payload = subject.bytes + int(expires_at.timestamp()).to_bytes(8, "big")
    return f"{_b64(payload)}.{_b64(_mac(secret, purpose, payload))}"


def verify(secret: bytes, purpose: str, token: str, now: datetime) -> UUID:
    """The id in ``token``, signed for ``purpose``.

    Raises:
        TamperedToken: the token is malformed, or its signature does not match (another secret
            or another purpose).
        ExpiredToken: the token is genuine but expired.
    """
    if len(token) > 200 or token.count(".") != 1:
        raise TamperedToken("not a link token")
    head, tail = token.split(".")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except (binascii.Error, ValueError):
        raise TamperedToken("not a link token") from None
    if len(payload) != 24 or not hmac.compare_digest(mac, _mac(secret, purpose, payload)):
        raise TamperedToken("the link token's signature does not match")
    if now >= expires_of(payload):
        raise ExpiredToken("the link has expired")
    return UUID(bytes=payload[:16])


def expires_of(payload: bytes) -> datetime:
    """The expiry a token payload carries."""
    return datetime.fromtimestamp(int.from_bytes(payload[16:24], "big"), UTC)


def development_secret(purpose: str) -> bytes:
    """The clearly marked development secret for ``purpose`` (the embedded stack only; every
    service that signs or verifies such links derives the same one)."""
    return hashlib.sha256(f"commande-dev-link-secret/NOT-FOR-PRODUCTION/{purpose}".encode()).digest()


def secret_setting(value: SecretStr | None, *, setting: str, purpose: str,
                   development: bool) -> bytes:
    """The secret of a setting; the development secret when it is unset in development.

    Raises:
        ConfigurationError: unset outside development, or shorter than 16 characters.
    """
    if value is None:
        if development:
            return development_secret(purpose)
        raise ConfigurationError(f"set {setting} (at least {MIN_SECRET_BYTES} characters) to "
                                 "sign and check its links")
    secret = value.get_secret_value().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"{setting} is shorter than {MIN_SECRET_BYTES} characters")
    return secret


def secret_refusals(setting: str, value: SecretStr | None, purpose: str) -> list[str]:
    """What production refuses of a link secret that is set: too short, or the development one
    (an unset secret is refused with the other missing secrets)."""
    if value is None:
        return []
    secret = value.get_secret_value().encode()
    if len(secret) < MIN_SECRET_BYTES:
        return [f"{setting} is shorter than {MIN_SECRET_BYTES} characters"]
    if hmac.compare_digest(secret, development_secret(purpose)):
        return [f"{setting} is the development secret: set one of your own"]
    return []
