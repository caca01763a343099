"""Notifier's composition root: ``build(settings, clock)`` wires consumers, delivery and acks.

``commande run notifier`` builds it from the environment (docs/adr/0007).
"""

from __future__ import annotations

from pathlib import Path

from directory import DirectoryHolder, reference_codes
from schemas.errors import ConfigurationError
from schemas.event_requests import (
    CONFIRMATION_PURPOSE,
    DeclineEventRequest,
    EventRequestCommandRefused,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.reference import reference
from schemas.topics import (
    DISCLOSURES,
    EVENT_REQUEST_SUBMISSIONS,
    EVENT_REQUESTS,
    MEETINGS,
    MEETINGS_URGENT,
    REFERRAL_STATUS,
    SITUATIONS,
    TABLE_ACTIONS,
)
from services.notifier import acks, store
from services.notifier.contacts import DEV_KEY_ID, ContactBox
from services.notifier.delivery import delivery_loop
from services.notifier.handlers import Handlers
from services.notifier.settings import NotifierSettings
from services.runtime import events, links, production
from services.runtime.clock import Clock, SystemClock
from services.runtime.logging import get_logger
from services.runtime.service import Service
from services.runtime.settings import Settings, complete

NAME = "notifier"
MIGRATIONS = Path(__file__).with_name("sql")
TOPICS = (MEETINGS, SITUATIONS, DISCLOSURES, REFERRAL_STATUS, TABLE_ACTIONS,
          EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS)
"""Meetings (agendas, refusals, meeting facts), situations (assignments, SLA, conclusions,
originators), disclosures, referral status (rejection copies), table actions (who issued a
command, for its refusal), and community event requests (the submissions, for the requester's
details, and intake's de-identified facts)."""
SKIPPED = frozenset(t.ce_type for t in (ScheduleEventRequest, DeclineEventRequest,
                                        WithdrawEventRequest, EventRequestCommandRefused))
"""The CMB's follow-up commands and their refusals: intake's business, not notifier's."""


log = get_logger("commande.notifier")
DEV_ACK_SECRET = b"commande-synthetic-dev-ack-secret"


def ack_secret(settings: NotifierSettings) -> bytes:
    """The acknowledgement-token secret; required, except on the embedded local stack where a
    clearly marked development secret is used (as intake does for its keys)."""
    if settings.notifier_ack_secret is None and settings.development:
        log.warning("using the synthetic DEV acknowledgement secret: local stack only")
        return DEV_ACK_SECRET
    if settings.notifier_ack_secret is None or len(
            settings.notifier_ack_secret.get_secret_value()) < 16:
        raise ConfigurationError(
            "set COMMANDE_NOTIFIER_ACK_SECRET (at least 16 characters) to sign "
            "acknowledgement links")
    return settings.notifier_ack_secret.get_secret_value().encode()


def contact_box(settings: NotifierSettings) -> ContactBox:
    """The cipher for event requesters' details; required, except on the embedded local stack
    where a clearly marked development key is used."""
    if settings.notifier_contact_key is None:
        if not settings.development:
            raise ConfigurationError(
                "set COMMANDE_NOTIFIER_CONTACT_KEY (base64 of 32 bytes) to seal event "
                "requesters' contact details (the development key is only for the local stack)")
        log.warning("using the DEVELOPMENT contact key: local stack only", key_id=DEV_KEY_ID)
        return ContactBox.development()
    return ContactBox.from_settings(
        settings.notifier_contact_key_id, settings.notifier_contact_key.get_secret_value(),
        {kid: k.get_secret_value() for kid, k in settings.notifier_contact_previous_keys.items()})


def production_refusals(settings: NotifierSettings) -> list[str]:
    """What notifier refuses to start on in production (see :mod:`services.runtime.production`)."""
    out = [*production.runtime_refusals(settings),
           *production.directory_refusals("COMMANDE_NOTIFIER_DIRECTORY", settings.notifier_directory),
           *production.public_url_refusals("COMMANDE_NOTIFIER_PUBLIC_URL",
                                           settings.notifier_public_url),
           *production.console_url_refusals(settings)]
    if settings.smtp_tls == "none":
        out.append("COMMANDE_SMTP_TLS=none: notices would cross the network in clear; use "
                   "starttls (the default) or implicit")
    if settings.notifier_ack_secret is None:
        out.append("COMMANDE_NOTIFIER_ACK_SECRET is not set (at least 16 characters)")
    elif settings.notifier_ack_secret.get_secret_value().encode() == DEV_ACK_SECRET:
        out.append("COMMANDE_NOTIFIER_ACK_SECRET is the development secret: set one of your own")
    out.extend(production.public_url_refusals("COMMANDE_INTAKE_PUBLIC_URL",
                                              settings.intake_public_url))
    if settings.event_confirm_secret is None:
        out.append("COMMANDE_EVENT_CONFIRM_SECRET is not set (at least 16 characters; the same "
                   "value as intake's)")
    out.extend(links.secret_refusals("COMMANDE_EVENT_CONFIRM_SECRET",
                                     settings.event_confirm_secret, CONFIRMATION_PURPOSE))
    if settings.notifier_contact_key is None:
        out.append("COMMANDE_NOTIFIER_CONTACT_KEY is not set (base64 of 32 bytes)")
    elif ContactBox.is_development_key(settings.notifier_contact_key.get_secret_value()):
        out.append("COMMANDE_NOTIFIER_CONTACT_KEY is the development key: generate one of your own")
    return out


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """The notifier service, ready to start (plain runtime settings are completed from the
    environment with notifier's own)."""
    settings = complete(settings, NotifierSettings)
    production.enforce(settings, production_refusals(settings))
    clock = clock or SystemClock()
    secret = ack_secret(settings)
    ref = reference()
    holder = DirectoryHolder(settings.notifier_directory, reference_codes(ref))
    svc = Service(NAME, settings, migrations=MIGRATIONS)
    box = contact_box(settings)
    handlers = Handlers(settings, clock, holder, ref, secret, box)
    svc.consume([spec.name for spec in TOPICS], group=settings.notifier_group, name="notifier",
                decode=events.decode, handle=handlers.handle, skip_types=SKIPPED,
                urgent_lane=MEETINGS_URGENT.name, both_ways=events.copied_to(MEETINGS_URGENT.name),
                gather=True)  # what goes first comes by the lane; agendas are coalesced
    svc.background(delivery_loop(settings, clock, box))
    for name, sql in store.PRUNES:
        svc.prune(name, sql, settings.notifier_bookkeeping_days)
    svc.routes.extend(acks.routes(svc, secret, clock))
    return svc
