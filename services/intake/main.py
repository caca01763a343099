"""intake's composition root: ``build(settings, clock) -> Service`` (``commande run intake`` runs it).

Consumers:

* group ``intake`` on ``commande.referrals.v1``: Filter 1, vault, de-duplication, withdrawals;
  records that cannot be decoded go to the DLQ and their agency gets a ``ReferralRejected``;
* group ``intake-urgent`` on ``commande.referrals.urgent.v1``: the same, for urgent referrals,
  with the same inbox (docs/adr/0006-urgent-lane.md);
* group ``intake-disclosures`` on ``commande.situations.v1``: sealed Filter 3/4 disclosures on
  assignment, and the retention policy on conclusion.
* group ``intake-event-requests`` on ``commande.event-request-submissions.v1``: community
  event requests and the CMB's follow-up commands (:mod:`services.intake.event_requests`), with
  ``POST /v1/event-requests`` and the worker pruning their shared rate limits.

One timer worker (``intake-timers``, :mod:`services.intake.timer_loop`, on the runtime's durable
timers) purges the identity of concluded situations once their retention period ends and of open
ones inactive too long, and fires the event requests' reminders, expiries and contact purges.
"""

from __future__ import annotations

from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from directory import Directory, DirectoryHolder, reference_codes
from schemas.errors import ConfigurationError
from schemas.event_requests import CONFIRMATION_PURPOSE
from schemas.reference import Reference, reference
from schemas.registry import allowed_types
from schemas.situations import (
    AgenciesAssigned,
    AssignmentResponded,
    SituationConcluded,
    SituationReopened,
)
from schemas.topics import EVENT_REQUEST_SUBMISSIONS, REFERRALS, REFERRALS_URGENT, SITUATIONS
from services.intake import ingress, sealing, signing, timer_loop
from services.intake.event_requests import confirm, timers
from services.intake.event_requests import ingress as event_ingress
from services.intake.event_requests.decide import EventConfig
from services.intake.event_requests.handlers import EventRequests
from services.intake.event_requests.rate_limit import LimitConfig, SharedLimits
from services.intake.event_requests.rules import EventRuleConfig
from services.intake.handlers import ACTIVITY, Intake
from services.intake.rules import RuleConfig
from services.intake.settings import IntakeSettings
from services.intake.vault import DEV_KEY_ID, Vault, decode_key
from services.runtime import events, links, production
from services.runtime.clock import Clock, SystemClock
from services.runtime.logging import get_logger
from services.runtime.service import Service
from services.runtime.settings import Settings, complete

NAME = "intake"
EVENT_REQUESTS_GROUP = "intake-event-requests"
MIGRATIONS = Path(__file__).with_name("sql")
log = get_logger("commande.intake")


def make_vault(settings: IntakeSettings) -> Vault:
    """The vault from settings; the development key only on the local stack."""
    if settings.vault_key is None:
        if not settings.development:
            raise ConfigurationError(
                "COMMANDE_VAULT_KEY is not set: give a base64 32-byte key and COMMANDE_VAULT_KEY_ID "
                "(the development key is only for the embedded local stack)")
        log.warning("using the DEVELOPMENT vault key: local stack only", key_id=DEV_KEY_ID)
        return Vault.development()
    if settings.vault_key_id == DEV_KEY_ID:
        raise ConfigurationError(f"set COMMANDE_VAULT_KEY_ID to your key's id (not {DEV_KEY_ID!r})")
    keys = {kid: decode_key(k.get_secret_value(), f"COMMANDE_VAULT_PREVIOUS_KEYS[{kid}]")
            for kid, k in settings.vault_previous_keys.items()}
    keys[settings.vault_key_id] = decode_key(settings.vault_key.get_secret_value(),
                                             "COMMANDE_VAULT_KEY")
    return Vault(settings.vault_key_id, keys)


def intake_private_key(settings: IntakeSettings) -> PrivateKey:
    """intake's X25519 private key for ``sealed_subject``; a test key only on the local stack."""
    if settings.intake_private_key is not None:
        return sealing.private_key_from_b64(settings.intake_private_key.get_secret_value(),
                                            "COMMANDE_INTAKE_PRIVATE_KEY")
    if not settings.development:
        raise ConfigurationError("COMMANDE_INTAKE_PRIVATE_KEY is not set (base64 X25519 key; "
                                 "`commande intake keys generate --agency intake` makes one)")
    log.warning("using the synthetic TEST key of intake: local stack only")
    return sealing.development_private_key(sealing.INTAKE_KEY_NAME)


def intake_signing_key(settings: IntakeSettings) -> SigningKey:
    """intake's Ed25519 signing key; the synthetic TEST key only in development."""
    if settings.intake_signing_key is not None:
        return signing.signing_key_setting(settings.intake_signing_key.get_secret_value(),
                                           "COMMANDE_INTAKE_SIGNING_KEY")
    if not settings.development:
        raise ConfigurationError(
            "COMMANDE_INTAKE_SIGNING_KEY is not set (base64 Ed25519 seed; `commande intake keys "
            "generate --agency intake` makes one and prints the directory's intake.signing_key)")
    log.warning("using the synthetic TEST signing key of intake: development only")
    return signing.development_signing_key(sealing.INTAKE_KEY_NAME)


def check_signing_key(key: SigningKey, directory: Directory, path: Path) -> None:
    """Refuse to start when the directory does not publish ``key``'s public half as intake's
    current signing key: every package intake signed would then be refused by its opener."""
    public = signing.key_to_b64(key.verify_key)
    if directory.intake.signing_key != public:
        raise ConfigurationError(
            f"COMMANDE_INTAKE_SIGNING_KEY does not match the directory: set intake.signing_key "
            f"in {path} to {public} (move the old value to intake.previous_signing_keys), or "
            "give intake the private key of the directory's intake.signing_key")


def production_refusals(settings: IntakeSettings) -> list[str]:
    """What intake refuses to start on in production (see :mod:`services.runtime.production`)."""
    out = [*production.runtime_refusals(settings),
           *production.directory_refusals("COMMANDE_DIRECTORY_PATH", settings.directory_path)]
    missing = {"COMMANDE_VAULT_KEY": settings.vault_key,
               "COMMANDE_INTAKE_PRIVATE_KEY": settings.intake_private_key,
               "COMMANDE_INTAKE_SIGNING_KEY": settings.intake_signing_key,
               "COMMANDE_EVENT_CONFIRM_SECRET": settings.event_confirm_secret}
    out.extend(f"{name} is not set (README, 'Configuration')"
               for name, value in missing.items() if value is None)
    out.extend(links.secret_refusals("COMMANDE_EVENT_CONFIRM_SECRET",
                                     settings.event_confirm_secret, CONFIRMATION_PURPOSE))
    if settings.vault_key is not None and Vault.is_development_key(
            decode_key(settings.vault_key.get_secret_value(), "COMMANDE_VAULT_KEY")):
        out.append("COMMANDE_VAULT_KEY is the development vault key: generate a key of your own")
    if settings.intake_private_key is not None and bytes(intake_private_key(settings)) == bytes(
            sealing.development_private_key(sealing.INTAKE_KEY_NAME)):
        out.append("COMMANDE_INTAKE_PRIVATE_KEY is the synthetic test key: `commande intake keys "
                   "generate --agency intake` makes one")
    if settings.intake_signing_key is not None and bytes(intake_signing_key(settings)) == bytes(
            signing.development_signing_key(sealing.INTAKE_KEY_NAME)):
        out.append("COMMANDE_INTAKE_SIGNING_KEY is the synthetic test key: `commande intake keys "
                   "generate --agency intake` makes one")
    return out


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """The intake service, wired: consumers, the timer worker and the HTTP ingress routes.

    Args:
        settings: :class:`IntakeSettings`; plain runtime :class:`Settings` (``commande run``)
            are completed from the environment.
        clock: the clock (a ``ManualClock`` in tests); the system clock by default.
    """
    clock = clock or SystemClock()
    settings = complete(settings, IntakeSettings)
    production.enforce(settings, production_refusals(settings))
    ref = reference()
    unknown = set(settings.intake_disclosure_fields) - {"lead", "assisting"}
    if unknown:
        raise ConfigurationError(f"COMMANDE_INTAKE_DISCLOSURE_FIELDS: unknown roles {sorted(unknown)}")
    bad = {f for fs in settings.intake_disclosure_fields.values() for f in fs} - set(
        sealing.ALL_FIELDS)
    if bad:
        raise ConfigurationError(f"COMMANDE_INTAKE_DISCLOSURE_FIELDS: unknown fields {sorted(bad)}")
    directory = DirectoryHolder(settings.directory_path, reference_codes(ref))
    signing_key = intake_signing_key(settings)
    check_signing_key(signing_key, directory.current(), settings.directory_path)
    intake = Intake(
        clock=clock, vault=make_vault(settings), intake_key=intake_private_key(settings),
        signing_key=signing_key, directory=directory, reference=ref,
        config=RuleConfig(settings.intake_min_risk_factors, settings.intake_min_sectors),
        require_sealed=settings.intake_require_sealed_subject,
        disclosure_fields=dict(settings.intake_disclosure_fields),
        retention_days=settings.intake_retention_days,
        inactive_days=settings.intake_inactive_retention_days,
    )
    svc = Service(NAME, settings, MIGRATIONS)
    svc.consume(REFERRALS.name, group="intake", name="intake-referrals", decode=events.decode,
                handle=intake.on_referral, handle_batch=intake.on_referrals,
                on_dead_letter=intake.on_dead_letter, max_records=settings.intake_max_records,
                urgent_lane=REFERRALS_URGENT.name,
                gather=True)  # an urgent referral comes by the lane
    handled = {m.ce_type for m in (AgenciesAssigned, AssignmentResponded, SituationConcluded,
                                    SituationReopened, *ACTIVITY)}
    svc.consume(SITUATIONS.name, group="intake-disclosures", name="intake-situations",
                decode=events.decode, handle=intake.on_situation,
                handle_batch=intake.on_situations,
                skip_types=allowed_types(SITUATIONS.name) - handled,
                gather=True)  # retention and disclosures: never on a referral's way to its table
    svc.routes.extend(ingress.routes(svc, intake, settings.intake_http_max_bytes))
    requests = _event_requests(svc, settings, intake, ref)
    fire = timer_loop.firing(inactive_days=settings.intake_inactive_retention_days,
                             event_config=requests.config, event_stores=requests.stores)
    svc.background(timer_loop.timer_worker(fire, clock, min(
        settings.intake_purge_interval_seconds, settings.intake_event_timer_interval_seconds)))
    return svc


def _event_requests(svc: Service, settings: IntakeSettings, intake: Intake,
                    ref: Reference) -> EventRequests:
    """Community event requests, a room of intake (docs/adr/0014): their consumer, the worker
    pruning their shared rate limits, ``POST /v1/event-requests`` and the confirmation link's
    page, on intake's clock, vault and directory. Their timers are fired by intake's one timer
    worker (registered by :func:`build`)."""
    config = EventConfig(
        reminder_business_days=settings.intake_event_reminder_business_days,
        escalation_business_days=settings.intake_event_escalation_business_days,
        contact_retention_days=settings.intake_event_contact_retention_days,
        holidays=ref.holiday_dates, confirm_hours=settings.intake_event_confirm_hours)
    requests = EventRequests(
        clock=intake.clock, vault=intake.vault, directory=intake.directory, reference=ref,
        rule_config=EventRuleConfig(settings.intake_event_min_notice_days), config=config)
    svc.consume(EVENT_REQUEST_SUBMISSIONS.name, group=EVENT_REQUESTS_GROUP,
                name="intake-event-requests", decode=events.decode, handle=requests.on_record,
                on_dead_letter=requests.on_dead_letter)
    limits = SharedLimits(LimitConfig(
        burst=settings.intake_event_rate_burst, per_minute=settings.intake_event_rate_per_minute,
        confirmations_per_day=settings.intake_event_confirmations_per_day),
        intake.vault.fingerprint)
    svc.background(timers.prune_worker(limits.bound,
                                       settings.intake_event_timer_interval_seconds))
    svc.routes.extend(event_ingress.routes(svc, requests,
                                           max_bytes=settings.intake_event_http_max_bytes,
                                           limits=limits.bound))
    svc.routes.extend(confirm.routes(svc, requests, confirm.confirm_secret(settings)))
    return requests
