"""Settings from ``COMMANDE_*`` environment variables, defaulting to the embedded local stack."""

from __future__ import annotations

from pathlib import Path
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

    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: SecretStr = SecretStr("postgresql://commande@127.0.0.1:15432/commande")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "commande")
    log_level: str = "INFO"
    log_format: str = "json"
    """``json`` (one object a line, the default) or ``console`` (for people at a terminal)."""
    kafka_version: str = "4.1.1"
    db_pool_min: int = 1
    db_pool_max: int = 5
    outbox_batch: int = 500
    clock_offset_file: Path | None = None
    """Demo and e2e tests only: a file holding seconds to add to the real time (see clock.py)."""

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
    def is_local_stack(self) -> bool:
        """Kafka and PostgreSQL both on loopback: the only place development keys are allowed."""
        loopback = {"127.0.0.1", "localhost", "::1"}
        hosts = {server.rsplit(":", 1)[0].strip("[]") for server in self.kafka_bootstrap.split(",")}
        db_host = urlsplit(self.database_url.get_secret_value()).hostname or ""
        return hosts <= loopback and db_host in loopback

    @property
    def mail_dir(self) -> Path:
        """Where the local SMTP sink keeps what it receives (a Maildir)."""
        return self.state_dir / "mail"
