"""Delivery channels: SMTP e-mail and signed webhooks. Both raise :class:`DeliveryError`."""

from __future__ import annotations

from schemas.errors import CommandeError


class DeliveryError(CommandeError):
    """A delivery attempt failed; ``code`` is safe to log and publish, ``permanent`` ends retries."""

    def __init__(self, code: str, *, permanent: bool) -> None:
        super().__init__(f"{code} ({'permanent' if permanent else 'transient'})")
        self.code = code
        self.permanent = permanent
