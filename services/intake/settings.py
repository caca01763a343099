"""Intake's settings (environment ``COMMANDE_*``), on top of the runtime's.

Secrets (the vault key, intake's private key) come from the environment or a file, never from
code. For the embedded local stack only (Kafka and PostgreSQL on loopback) clearly marked
development keys are used when none is set; anywhere else a missing key is a configuration error.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.runtime.settings import PROJECT_ROOT, Settings

DEFAULT_DISCLOSURE_FIELDS: dict[str, tuple[str, ...]] = {
    "lead": (
        "subject.people.given_name", "subject.people.family_name", "subject.address",
        "subject.location_description", "subject.people.phone", "subject.languages",
        "subject.safety_notes",
    ),
    "assisting": (
        "subject.people.given_name", "subject.people.family_name", "subject.languages",
    ),
}
"""The minimum necessary identified fields per role (domain.md section 5)."""


class IntakeSettings(Settings):
    """What intake reads from the environment.

    Attributes:
        directory_path: the partner directory (``COMMANDE_DIRECTORY_PATH``).
        intake_min_risk_factors: Filter 1 threshold on distinct risk factors.
        intake_min_sectors: Filter 1 threshold on distinct service sectors those factors reach.
        intake_require_sealed_subject: refuse a clear ``subject`` (only ``sealed_subject``): on by
            default (``COMMANDE_INTAKE_REQUIRE_SEALED_SUBJECT=false`` lets a legacy partner in).
        vault_key: base64 of a 32-byte AES-256-GCM key (``COMMANDE_VAULT_KEY``).
        vault_key_id: the id stored with each vault row (``COMMANDE_VAULT_KEY_ID``).
        vault_previous_keys: older ``{key_id: base64 key}`` still able to decrypt (rotation).
        intake_private_key: base64 X25519 private key for ``sealed_subject``
            (``COMMANDE_INTAKE_PRIVATE_KEY``).
        intake_signing_key: base64 of intake's Ed25519 signing key (its 32-byte seed,
            ``COMMANDE_INTAKE_SIGNING_KEY``): it signs disclosure packages; its public half is
            the directory's ``intake.signing_key``.
        intake_disclosure_fields: role (``lead``/``assisting``) -> allowed dotted field names.
        intake_retention_days: days identified data of a concluded situation is kept.
        intake_purge_interval_seconds: how often intake's timer worker looks for due purges (it
            looks at the shorter of this and ``intake_event_timer_interval_seconds``).
        intake_http_max_bytes: the largest referral body the HTTP ingress reads (413 above).
        intake_max_records: referrals handled per consumer batch (one transaction).
        intake_event_min_notice_days: days' notice a community event request needs (every
            preferred date at least this many days after the submission, America/Toronto).
        intake_event_reminder_business_days: business days without a decision before the
            district's CMB manager is reminded.
        intake_event_escalation_business_days: further business days before the district
            Staff Sergeant is.
        intake_event_contact_retention_days: days the requester's details are kept after the
            event (scheduled; the last preferred date if never decided) or the decision.
        intake_event_timer_interval_seconds: how often intake's timer worker looks for due
            reminders, expiries and contact purges (and the shared limits are pruned).
        intake_event_http_max_bytes: the largest body ``POST /v1/event-requests`` reads (413).
        intake_event_rate_burst: requests a client address may send at once (token bucket).
        intake_event_rate_per_minute: tokens a client address gets back per minute (429 when
            its bucket is empty, with Retry-After); the buckets are in PostgreSQL, shared by
            every instance.
        intake_event_confirm_hours: hours a requester from the public has to confirm their
            e-mail address (the link mailed to it) before the request expires and its contact is
            purged.
        intake_event_confirmations_per_day: confirmation e-mails one address may be sent per day
            (America/Toronto), whatever client addresses ask (429 beyond).
        event_confirm_secret: the secret confirmation links are signed with
            (``COMMANDE_EVENT_CONFIRM_SECRET``, at least 16 characters): notifier signs the link
            it mails, intake checks it; the same value in both. A development secret on the
            local stack only.
    """

    directory_path: Path = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
    intake_min_risk_factors: int = Field(default=2, ge=1)
    intake_min_sectors: int = Field(default=2, ge=1)
    intake_require_sealed_subject: bool = True
    vault_key: SecretStr | None = None
    vault_key_id: str = Field(default="dev-local-insecure", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    vault_previous_keys: dict[str, SecretStr] = Field(default_factory=dict)
    intake_private_key: SecretStr | None = None
    intake_signing_key: SecretStr | None = None
    intake_disclosure_fields: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_DISCLOSURE_FIELDS))
    intake_retention_days: int = Field(default=90, ge=0)
    intake_inactive_retention_days: int = Field(default=180, ge=1)
    """An open situation with no activity for this many days has its identity purged (reason
    ``inactive``) and its chair told: identity never outlives its purpose."""
    intake_purge_interval_seconds: float = Field(default=60.0, gt=0)
    intake_http_max_bytes: int = Field(default=256 * 1024, ge=1024)
    intake_token_days: int = Field(default=180, ge=1, le=730)
    """Days an HTTP ingress token issued by ``commande intake tokens issue`` is valid."""
    intake_max_records: int = Field(default=500, ge=1, le=10_000)
    intake_event_min_notice_days: int = Field(default=30, ge=0, le=365)
    intake_event_reminder_business_days: int = Field(default=3, ge=1, le=60)
    intake_event_escalation_business_days: int = Field(default=2, ge=1, le=60)
    intake_event_contact_retention_days: int = Field(default=30, ge=0, le=3650)
    intake_event_timer_interval_seconds: float = Field(default=30.0, gt=0)
    intake_event_http_max_bytes: int = Field(default=8 * 1024, ge=1024, le=1024 * 1024)
    intake_event_rate_burst: int = Field(default=5, ge=1)
    intake_event_rate_per_minute: float = Field(default=2.0, gt=0)
    intake_event_confirm_hours: int = Field(default=48, ge=1, le=30 * 24)
    intake_event_confirmations_per_day: int = Field(default=3, ge=1, le=1000)
    event_confirm_secret: SecretStr | None = None

