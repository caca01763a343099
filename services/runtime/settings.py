"""Settings from ``COMMANDE_*`` environment variables, defaulting to the embedded local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """What every service and the local stack read from the environment.

    The defaults are the embedded stack's (``commande stack up``): Kafka, PostgreSQL and the SMTP
    sink on 127.0.0.1, state under ``.state/`` in the project. Setting ``COMMANDE_KAFKA_BOOTSTRAP``,
    ``COMMANDE_DATABASE_URL`` and ``COMMANDE_SMTP_PORT`` moves both the stack and the services.
    """

    model_config = SettingsConfigDict(env_prefix="COMMANDE_", extra="ignore", frozen=True)

    env: Literal["production", "development"] = "production"
    """``COMMANDE_ENV``: production (the default) refuses development keys, the sample directory,
    plaintext connections and missing secrets at start; ``development`` is the embedded stack's."""
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_replication_factor: int | None = Field(default=None, ge=1)
    """Replicas of each topic ``commande topics apply`` creates: 3 unless set (1 in development:
    the embedded broker is one node)."""
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    """``min.insync.replicas`` of each topic: 2 unless set (1 in development)."""
    kafka_security_protocol: Literal["SASL_SSL", "SSL", "PLAINTEXT"] = "SASL_SSL"
    """``SASL_SSL`` (SCRAM over TLS, the default), ``SSL`` (mutual TLS: ``kafka_cert_file`` and
    ``kafka_key_file``), or ``PLAINTEXT`` (development only: a throwaway benchmark broker)."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    """The Kafka principal; by default each client's own (``intake``, ``convening``, …)."""
    kafka_password: SecretStr | None = None
    kafka_password_file: Path | None = None
    """A file holding the password (one line), instead of ``kafka_password``."""
    kafka_ca_file: Path | None = None
    """PEM CA bundle that signed the brokers' certificates; the system's trust store if unset
    (the embedded stack's own CA in development)."""
    kafka_cert_file: Path | None = None
    """mutual TLS: this client's certificate (PEM), with ``kafka_key_file``."""
    kafka_key_file: Path | None = None
    database_url: SecretStr = SecretStr("postgresql://commande@127.0.0.1:15432/commande")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_tls: Literal["starttls", "implicit", "none"] = "starttls"
    """``starttls`` (required, not opportunistic; the default), ``implicit`` (TLS from the first
    byte, port 465), or ``none`` (development only; never with credentials)."""
    smtp_ca_file: Path | None = None
    """PEM CA bundle for the mail relay's certificate; the system's trust store if unset (the
    embedded stack's CA in development)."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    admin_host: str = "127.0.0.1"
    """Health, readiness and metrics listen here (``COMMANDE_ADMIN_HOST``), apart from the
    public ingress."""
    admin_port: int = 9080
    lag_refresh_seconds: float = Field(default=15.0, ge=0)
    """The consumer-lag gauge is read from Kafka at most this often; scrapes in between see the
    last reading."""
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "commande")
    log_level: str = "INFO"
    log_format: str = "json"
    """``json`` (one object a line, the default) or ``console`` (for people at a terminal)."""
    kafka_version: str = "4.1.1"
    db_pool_min: int = 1
    db_pool_max: int = 6
    """Connections per service process. Two to four are held by workers that ``LISTEN`` (the
    outbox relay's two passes, timers, notifier's deliveries); the rest serve the consumers'
    transactions, the relay's batches and HTTP. 6 since the urgent relay pass took one more."""
    outbox_batch: int = 500
    inbox_retention_days: int = Field(default=400, ge=1)
    """Days a handled event's inbox row is kept: redeliveries within it are dropped. Longer than
    any finite topic retention (365 days), so only a consumer group reset to the beginning of a
    forever topic could bring back an older event."""
    dlq_public_key: str | None = None
    """Base64 X25519 public key of the operators: dead letters of restricted topics are sealed to
    it (``COMMANDE_DLQ_PUBLIC_KEY``); without it they are kept as stubs (hash and size only)."""
    clock_offset_file: Path | None = None
    """Demo and e2e tests only: a file holding seconds to add to the real time (see clock.py)."""
    keycloak_port: int = 18180
    """The embedded stack's Keycloak (identity provider) on 127.0.0.1; in development the
    gateway's issuer is ``http://127.0.0.1:<port>/realms/commande``."""
    keycloak_version: str = "26.5.6"
    public_url: str | None = None
    """The table console's public address (``COMMANDE_PUBLIC_URL``, https in production): e-mails
    link to its pages, and the identity provider sends people back to it after signing in. In
    development it defaults to ``http://<http_host>:<http_port>``."""

    @property
    def console_base(self) -> str:
        """The console's public address without a trailing slash (``public_url``; in
        development the gateway's own HTTP address when unset)."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def kafka_port(self) -> int:
        """The broker port of ``kafka_bootstrap`` (first server)."""
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def database_port(self) -> int:
        """The PostgreSQL port of ``database_url``."""
        return urlsplit(self.database_url.get_secret_value()).port or 5432

    @property
    def database_name(self) -> str:
        """The database name of ``database_url``."""
        return urlsplit(self.database_url.get_secret_value()).path.lstrip("/") or "commande"

    @property
    def database_user(self) -> str:
        """The role name of ``database_url``."""
        return urlsplit(self.database_url.get_secret_value()).username or "commande"

    @property
    def development(self) -> bool:
        """``COMMANDE_ENV=development``: the only mode where development keys, the sample
        directory and the embedded stack's credentials are used."""
        return self.env == "development"

    @property
    def replication_factor(self) -> int:
        """Replicas per topic (the setting, else 3; 1 in development)."""
        return self.kafka_replication_factor or (1 if self.development else 3)

    @property
    def min_insync_replicas(self) -> int:
        """``min.insync.replicas`` per topic (the setting, else 2; 1 in development)."""
        return self.kafka_min_insync_replicas or (1 if self.development else 2)

    @property
    def kafka_state(self) -> Path:
        """The embedded broker's folder (its CA and the development credentials live there)."""
        return self.state_dir / "kafka"

    @property
    def mail_dir(self) -> Path:
        """Where the local SMTP sink keeps what it receives (a Maildir)."""
        return self.state_dir / "mail"


S = TypeVar("S", bound=Settings)


def complete(settings: Settings, kind: type[S]) -> S:
    """A service's own settings (``kind``) from what ``build`` was given: as they are when they
    are already ``kind``; from plain runtime settings (the test fixture's, ``commande run``'s)
    with the service's own fields from their defaults and the environment."""
    return settings if isinstance(settings, kind) else kind(**settings.model_dump())
