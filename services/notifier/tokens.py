"""Signed, expiring acknowledgement tokens (pure: the caller passes the secret and ``now``).

A token is ``base64url(notice id 16 bytes + expiry 8 bytes) . base64url(HMAC-SHA256)``
(:mod:`services.runtime.links`, purpose :data:`PURPOSE`): it says nothing about the recipient or
the notice's content, and cannot be forged or extended without the secret.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.runtime import links
from services.runtime.links import ExpiredToken, TamperedToken, TokenError

__all__ = ["PURPOSE", "ExpiredToken", "TamperedToken", "TokenError", "sign", "verify"]

PURPOSE = "commande.notifier.ack.v1"
"""What an acknowledgement token is for (the MAC covers it: no other link's token passes)."""


def sign(secret: bytes, notice: UUID, expires_at: datetime) -> str:
    """A token acknowledging ``notice`` until ``expires_at``."""
    return links.sign(secret, PURPOSE, notice, expires_at)


def verify(secret: bytes, token: str, now: datetime) -> UUID:
    """The notice id in ``token``.

    Raises:
        TamperedToken: the token is malformed or its signature does not match.
        ExpiredToken: the token is genuine but expired.
    """
    return links.verify(secret, PURPOSE, token, now)
