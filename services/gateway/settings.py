"""The gateway's settings (environment ``COMMANDE_*``), on top of the runtime's.

In development (``COMMANDE_ENV=development``) the identity provider is the embedded stack's
Keycloak: issuer ``http://127.0.0.1:<COMMANDE_KEYCLOAK_PORT>/realms/commande``. In production the
issuer must be given (``COMMANDE_OIDC_ISSUER``, https) and nothing defaults to the local realm.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from schemas.errors import ConfigurationError
from services.runtime.settings import PROJECT_ROOT, Settings

LOCAL_REALM = "commande"
"""The embedded Keycloak's realm (``deploy/keycloak/commande-realm.json``)."""


class GatewaySettings(Settings):
    """What the gateway (and the CLI that talks to it) reads from the environment.

    Attributes:
        directory_path: the directory that maps sign-ins to agencies (``COMMANDE_DIRECTORY_PATH``).
        oidc_issuer: the OpenID Connect issuer people and partner systems sign in with; tokens
            must carry exactly this ``iss`` (``COMMANDE_OIDC_ISSUER``).
        oidc_audience: the ``aud`` every token must carry (``COMMANDE_OIDC_AUDIENCE``).
        oidc_jwks_url: where the issuer's signing keys are; from its discovery document when
            unset (``COMMANDE_OIDC_JWKS_URL``).
        oidc_groups_claim: the claim that lists the person's groups (``/agencies/<agency>/<role>``).
        oidc_leeway_seconds: clock skew tolerated on ``exp`` and ``iat``.
        oidc_client_id: the public client ``commande login`` and the console sign in with.
        oidc_internal_url: where the gateway itself reaches the issuer when the issuer's public
            address does not resolve from the gateway's network (Docker compose): the console's
            discovery and code exchange go there; browsers still go to the public address.
        gateway_url: where the CLI finds the gateway (default ``http://<http_host>:<http_port>``).
        gateway_answer_seconds: how long a command waits for convening's or intake's outcome
            before the gateway answers 504 with where to look later.
        gateway_max_bytes: the largest command body read (413 above).
        gateway_group: the consumer group of the gateway's read model.
        token_file: where ``commande login`` keeps tokens (one per issuer), mode 0600.
        console_idle_minutes: a console session unused this long ends (sign in again).
        console_lifetime_hours: a console session ends this long after signing in, used or not.
        console_package_days: a sealed disclosure package stays in the console this many days
            (it is also attached to its e-mail); intake's identity purge removes it earlier.
        sla_warning_hours, sla_breach_hours, lead_acceptance_overdue_hours: the 24/48-hour
            windows the console's clocks show: the same settings (and environment variables)
            convening's timers read.
    """

    directory_path: Path = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
    oidc_issuer: str | None = None
    oidc_audience: str = "commande-gateway"
    oidc_jwks_url: str | None = None
    oidc_groups_claim: str = "groups"
    oidc_leeway_seconds: float = Field(default=5.0, ge=0, le=300)
    oidc_client_id: str = "commande-people"
    oidc_internal_url: str | None = None
    gateway_url: str | None = None
    gateway_answer_seconds: float = Field(default=10.0, gt=0, le=120)
    gateway_max_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    gateway_group: str = "gateway"
    token_file: Path = Field(default_factory=lambda: Path.home() / ".config" / "commande" / "tokens.json")
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_lifetime_hours: int = Field(default=10, ge=1, le=7 * 24)
    console_package_days: int = Field(default=30, ge=1, le=400)
    sla_warning_hours: float = Field(default=24.0, gt=0)
    sla_breach_hours: float = Field(default=48.0, gt=0)
    lead_acceptance_overdue_hours: float = Field(default=12.0, gt=0)

    @property
    def issuer(self) -> str:
        """The issuer tokens must come from; the embedded realm in development.

        Raises:
            ConfigurationError: production without ``COMMANDE_OIDC_ISSUER``.
        """
        if self.oidc_issuer is not None:
            return self.oidc_issuer.rstrip("/")
        if self.development:
            return f"http://127.0.0.1:{self.keycloak_port}/realms/{LOCAL_REALM}"
        raise ConfigurationError(
            "COMMANDE_OIDC_ISSUER is not set: give your identity provider's issuer URL "
            "(docs/operations.md, 'The gateway and your identity provider')")

    @property
    def base_url(self) -> str:
        """The gateway's address for the CLI."""
        return (self.gateway_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")
