"""Notifier settings, from ``COMMANDE_NOTIFIER_*`` environment variables (plus the shared ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.runtime.settings import PROJECT_ROOT, Settings


class NotifierSettings(Settings):
    """What notifier reads besides the shared settings (SMTP host/port/STARTTLS/auth among them).

    Secrets (``notifier_ack_secret``, ``notifier_webhook_secrets``) come from the environment only.
    ``COMMANDE_NOTIFIER_WEBHOOK_SECRETS`` is a JSON object ``{"agency-id": "secret", ...}``.
    """

    notifier_group: str = "notifier"
    notifier_bookkeeping_days: int = 400
    """Days notifier keeps a settled notice, a past meeting and the facts it joins later events
    with, before pruning them."""
    notifier_directory: Path = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
    notifier_mail_from: str = "commande-notices@halton-police.example.org"
    notifier_public_url: str = "http://127.0.0.1:8080"
    """Base URL of notifier's HTTP app, for acknowledgement links."""
    notifier_ack_secret: SecretStr | None = None
    notifier_ack_ttl_hours: int = 14 * 24
    intake_public_url: str = "http://127.0.0.1:8080"
    """Base URL of intake's public HTTP app (``COMMANDE_INTAKE_PUBLIC_URL``): the link that
    confirms an event requester's address points there."""
    event_confirm_secret: SecretStr | None = None
    """The secret confirmation links are signed with (``COMMANDE_EVENT_CONFIRM_SECRET``, the same
    value as intake's, at least 16 characters); a development secret on the local stack only."""
    notifier_webhook_secrets: dict[str, SecretStr] = {}
    notifier_webhook_ca_file: Path | None = None
    """A CA bundle to trust for webhooks (a partner's private CA); system roots otherwise."""
    notifier_webhook_timeout: float = 10.0
    notifier_smtp_timeout: float = 30.0
    notifier_smtp_connections: int = Field(default=4, ge=1)
    """SMTP connections kept open and used at once (``COMMANDE_NOTIFIER_SMTP_CONNECTIONS``)."""
    notifier_smtp_idle_seconds: float = Field(default=30.0, gt=0)
    """An SMTP connection unused this long is closed rather than reused
    (``COMMANDE_NOTIFIER_SMTP_IDLE_SECONDS``; keep it under the relay's own idle limit)."""
    notifier_max_attempts: int = 8
    notifier_backoff_base: float = 5.0
    notifier_backoff_cap: float = 3600.0
    notifier_batch: int = 50
    notifier_poll_interval: float = 1.0
    notifier_response_hours: int = 24
    """An assigned agency answers its assignment within this many hours (shown in the notice)."""
    notifier_first_contact_hours: int = 48
    """First contact is due this many hours after the assignment (shown in the notice)."""
    notifier_contact_key: SecretStr | None = None
    """Base64 32-byte AES-256-GCM key sealing event requesters' contact details and the notices
    that carry them (``COMMANDE_NOTIFIER_CONTACT_KEY``); a development key on the local stack."""
    notifier_contact_key_id: str = "notifier-contact-1"
    """The id stored with each sealed value (``COMMANDE_NOTIFIER_CONTACT_KEY_ID``)."""
    notifier_contact_previous_keys: dict[str, SecretStr] = {}
    """Older ``{key_id: base64 key}`` still able to open what they sealed, for rotation
    (``COMMANDE_NOTIFIER_CONTACT_PREVIOUS_KEYS``, a JSON object)."""
