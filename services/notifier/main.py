"""Notifier's composition root: ``build(settings, clock)`` wires consumers, delivery and acks.

``faststream run services.notifier.main:app`` builds it from the environment (``app`` is made on
first access, so importing this module needs no secret).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream import FastStream

from schemas.errors import ConfigurationError
from schemas.reference import reference
from schemas.topics import DISCLOSURES, MEETINGS, REFERRAL_STATUS, SITUATIONS, TABLE_ACTIONS
from services.directory import DirectoryHolder, reference_codes
from services.notifier import acks
from services.notifier.delivery import delivery_loop
from services.notifier.handlers import Handlers
from services.notifier.settings import NotifierSettings
from services.runtime import events
from services.runtime.clock import Clock, SystemClock
from services.runtime.logging import get_logger
from services.runtime.service import Service
from services.runtime.settings import Settings

NAME = "notifier"
MIGRATIONS = Path(__file__).with_name("sql")
TOPICS = (MEETINGS, SITUATIONS, DISCLOSURES, REFERRAL_STATUS, TABLE_ACTIONS)
"""Meetings (agendas, refusals, meeting facts), situations (assignments, SLA, conclusions,
originators), disclosures, referral status (rejection copies) and table actions (who issued a
command, for its refusal)."""


log = get_logger("commande.notifier")
DEV_ACK_SECRET = b"commande-synthetic-dev-ack-secret"


def ack_secret(settings: NotifierSettings) -> bytes:
    """The acknowledgement-token secret; required, except on the embedded local stack where a
    clearly marked development secret is used (as intake does for its keys)."""
    if settings.notifier_ack_secret is None and settings.is_local_stack:
        log.warning("using the synthetic DEV acknowledgement secret: local stack only")
        return DEV_ACK_SECRET
    if settings.notifier_ack_secret is None or len(
            settings.notifier_ack_secret.get_secret_value()) < 16:
        raise ConfigurationError(
            "set COMMANDE_NOTIFIER_ACK_SECRET (at least 16 characters) to sign "
            "acknowledgement links")
    return settings.notifier_ack_secret.get_secret_value().encode()


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """The notifier service, ready to start (plain runtime settings are completed from the
    environment with notifier's own)."""
    if not isinstance(settings, NotifierSettings):
        settings = NotifierSettings(**settings.model_dump())
    clock = clock or SystemClock()
    secret = ack_secret(settings)
    ref = reference()
    holder = DirectoryHolder(settings.notifier_directory, reference_codes(ref))
    svc = Service(NAME, settings, migrations=MIGRATIONS)
    handlers = Handlers(settings, clock, holder, ref, secret)
    svc.consume([spec.name for spec in TOPICS], group=settings.notifier_group, name="notifier",
                decode=events.decode, handle=handlers.handle)
    svc.background(delivery_loop(settings, clock))
    svc.routes.extend(acks.routes(svc, secret, clock))
    return svc


def __getattr__(name: str) -> Any:
    if name == "app":
        app: FastStream = build(NotifierSettings()).faststream
        globals()["app"] = app
        return app
    raise AttributeError(name)
