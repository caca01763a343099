"""The gateway's composition root: ``build(settings, clock) -> Service``.

Wires, on a runtime :class:`~services.runtime.service.Service` named ``gateway`` (its Kafka
principal and its PostgreSQL schema too):

* the token verifier for the configured OpenID Connect issuer and audience;
* the consumer (group ``gateway``) of the situations, meetings, event-requests, notices and
  disclosures topics that keeps the outcomes of its commands and the read model (:mod:`.readmodel`);
* the outcome listener (:mod:`.waiting`);
* the HTTP API of :data:`services.gateway.api.OPERATIONS` (:mod:`.routes`), whose commands go to
  ``commande.table-actions.v1`` and ``commande.event-request-submissions.v1`` through the outbox;
* the table console under ``/console/`` (:mod:`.console`), signed in with the same issuer and
  acting through the same commands.
"""

from __future__ import annotations

from pathlib import Path

from directory import DirectoryHolder, reference_codes
from schemas.reference import reference
from schemas.topics import DISCLOSURES, EVENT_REQUESTS, MEETINGS, NOTICES, SITUATIONS
from services.gateway.console import store as console_store
from services.gateway.console.actions import Actions
from services.gateway.console.app import Console
from services.gateway.console.oidc import Provider
from services.gateway.console.pages import Pages
from services.gateway.console.sessions import PRUNES as SESSION_PRUNES
from services.gateway.readmodel import ReadModel
from services.gateway.routes import Gateway
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import TokenVerifier
from services.gateway.waiting import Waiters
from services.runtime import events, production
from services.runtime.clock import Clock, SystemClock
from services.runtime.service import Service
from services.runtime.settings import Settings, complete

NAME = "gateway"
MIGRATIONS = Path(__file__).with_name("sql")


def production_refusals(settings: GatewaySettings) -> list[str]:
    """What the gateway refuses in production, besides the runtime's: no issuer, an issuer
    reached without TLS, the sample directory."""
    out = [*production.runtime_refusals(settings),
           *production.directory_refusals("COMMANDE_DIRECTORY_PATH", settings.directory_path)]
    if settings.oidc_issuer is None:
        out.append("COMMANDE_OIDC_ISSUER is not set: give your identity provider's issuer URL "
                   "(https)")
    elif not settings.oidc_issuer.startswith("https://"):
        out.append(f"COMMANDE_OIDC_ISSUER={settings.oidc_issuer} is not https: tokens and keys "
                   "would travel in clear")
    if settings.oidc_jwks_url is not None and not settings.oidc_jwks_url.startswith("https://"):
        out.append(f"COMMANDE_OIDC_JWKS_URL={settings.oidc_jwks_url} is not https")
    if settings.oidc_internal_url is not None and not settings.oidc_internal_url.startswith("https://"):
        out.append(f"COMMANDE_OIDC_INTERNAL_URL={settings.oidc_internal_url} is not https: sign-in "
                   "codes and tokens would travel in clear")
    out.extend(production.console_url_refusals(settings))
    return out


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """The gateway, ready for ``svc.faststream.start()`` and its routes in an ASGI app.

    Args:
        settings: :class:`GatewaySettings`; plain runtime settings are completed from the
            environment.
        clock: the clock commands are stamped with (the demo's offset clock; never used to
            judge a token's expiry, which is real time).

    Raises:
        ConfigurationError: production refusals, a missing issuer, an invalid directory.
    """
    settings = complete(settings, GatewaySettings)
    production.enforce(settings, production_refusals(settings))
    clock = clock or SystemClock()
    directory = DirectoryHolder(settings.directory_path, reference_codes(reference()))
    verifier = TokenVerifier(settings.issuer, settings.oidc_audience,
                             jwks_url=settings.oidc_jwks_url,
                             leeway=settings.oidc_leeway_seconds)
    svc = Service(NAME, settings, migrations=MIGRATIONS)
    read_model = ReadModel(clock)
    topics = [SITUATIONS.name, MEETINGS.name, EVENT_REQUESTS.name, NOTICES.name, DISCLOSURES.name]
    svc.consume(topics, group=settings.gateway_group, name="gateway-read-model",
                decode=events.decode, handle=read_model.handle)
    waiters = Waiters()
    svc.background(waiters.listen)
    gateway = Gateway(svc, settings, clock, directory, verifier, waiters)
    svc.routes.extend(gateway.routes())
    console = Console(gateway, Provider(verifier, settings.oidc_client_id,
                                        settings.oidc_groups_claim,
                                        internal_url=settings.oidc_internal_url))
    svc.routes.extend(console.routes([*Pages(console).routes(), *Actions(console).routes()]))
    for name, sql, days in SESSION_PRUNES:
        svc.prune(name, sql, days)
    svc.prune("console_disclosures", console_store.PRUNE_DISCLOSURES, settings.console_package_days)
    return svc
