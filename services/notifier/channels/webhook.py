"""Signed webhooks through httpx.

Each POST carries ``Idempotency-Key: <notice id>`` and ``X-Commande-Signature: t=<unix>,v1=<hex>``
where ``v1`` is HMAC-SHA256 with the recipient agency's secret over ``"<t>." + body``. A receiver
recomputes it, rejects old timestamps, and drops repeats by the key. HTTP 2xx is delivered; 408,
429 and 5xx, timeouts and connection failures are transient; any other status is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from typing import Any
from uuid import UUID

import httpx

from services.notifier.channels import DeliveryError
from services.notifier.settings import NotifierSettings

SIGNATURE_HEADER = "X-Commande-Signature"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def classify(status: int) -> DeliveryError | None:
    """``None`` for success, else the error for an HTTP status."""
    if 200 <= status < 300:
        return None
    transient = status in (408, 429) or status >= 500
    return DeliveryError(f"webhook_{status // 100}xx" if status < 600 else "webhook_status",
                         permanent=not transient)


class WebhookChannel:
    """One shared httpx client; start with :meth:`open`, end with :meth:`close`."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._s = settings
        verify: ssl.SSLContext | bool = True
        if settings.notifier_webhook_ca_file is not None:
            verify = ssl.create_default_context(cafile=str(settings.notifier_webhook_ca_file))
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.notifier_webhook_timeout), verify=verify,
            follow_redirects=False, headers={"User-Agent": "commande-notifier/1"},
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def send(self, url: str, agency_id: str, notice: UUID, body: dict[str, Any],
                   timestamp: int) -> str:
        """POST ``body`` to ``url``; returns the idempotency key. Raises :class:`DeliveryError`."""
        secret = self._s.notifier_webhook_secrets.get(agency_id)
        if secret is None:
            raise DeliveryError("webhook_no_secret", permanent=True)
        raw = encode(body)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(notice),
            SIGNATURE_HEADER: signature(secret.get_secret_value().encode(), timestamp, raw),
        }
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("webhook_timeout", permanent=False) from None
        except httpx.HTTPError:
            raise DeliveryError("webhook_unreachable", permanent=False) from None
        error = classify(response.status_code)
        if error is not None:
            raise error
        return str(notice)
