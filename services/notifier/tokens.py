"""Signed, expiring acknowledgement tokens (pure: the caller passes the secret and ``now``).

A token is ``base64url(notice id 16 bytes + expiry 8 bytes) . base64url(HMAC-SHA256)``: it says
nothing about the recipient or the notice's content, and cannot be forged or extended without
the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID

from schemas.errors import CommandeError

_CONTEXT = b"commande.notifier.ack.v1|"


class TokenError(CommandeError):
    """An acknowledgement token that cannot be honoured."""


class TamperedToken(TokenError):
    """Malformed or wrongly signed."""


class ExpiredToken(TokenError):
    """Correctly signed, but past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()


def sign(secret: bytes, notice: UUID, expires_at: datetime) -> str:
    """A token acknowledging ``notice`` until ``expires_at``."""
    payload = notice.bytes + int(expires_at.timestamp()).to_bytes(8, "big")
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify(secret: bytes, token: str, now: datetime) -> UUID:
    """The notice id in ``token``.

    Raises:
        TamperedToken: the token is malformed or its signature does not match.
        ExpiredToken: the token is genuine but expired.
    """
    if len(token) > 200 or token.count(".") != 1:
        raise TamperedToken("not an acknowledgement token")
    head, tail = token.split(".")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except (binascii.Error, ValueError):
        raise TamperedToken("not an acknowledgement token") from None
    if len(payload) != 24 or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise TamperedToken("the acknowledgement token's signature does not match")
    expires = datetime.fromtimestamp(int.from_bytes(payload[16:], "big"), UTC)
    if now >= expires:
        raise ExpiredToken("the acknowledgement link has expired")
    return UUID(bytes=payload[:16])
