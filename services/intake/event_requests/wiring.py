"""Wires community event requests into intake's service (called by :func:`services.intake.main.build`):
the consumer on the submissions topic, the worker pruning the shared limits, the HTTP route and
the confirmation link's page. Their reminder, expiry and purge timers are fired by intake's one
timer worker (:mod:`services.intake.timer_loop`, registered by intake's main)."""

from __future__ import annotations

from directory import DirectoryHolder
from schemas.event_requests import CONFIRMATION_PURPOSE
from schemas.reference import Reference
from schemas.topics import EVENT_REQUEST_SUBMISSIONS
from services.intake.event_requests import confirm, ingress, timers
from services.intake.event_requests.decide import EventConfig
from services.intake.event_requests.handlers import EventRequests
from services.intake.event_requests.rate_limit import LimitConfig, SharedLimits
from services.intake.event_requests.rules import EventRuleConfig
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault
from services.runtime import events, links
from services.runtime.clock import Clock
from services.runtime.service import Service

GROUP = "intake-event-requests"


def install(svc: Service, settings: IntakeSettings, *, clock: Clock, vault: Vault,
            directory: DirectoryHolder, reference: Reference) -> EventRequests:
    """Register the event-request consumer, timers and route on ``svc``; returns the handlers."""
    config = EventConfig(
        reminder_business_days=settings.intake_event_reminder_business_days,
        escalation_business_days=settings.intake_event_escalation_business_days,
        contact_retention_days=settings.intake_event_contact_retention_days,
        holidays=reference.holiday_dates, confirm_hours=settings.intake_event_confirm_hours)
    handlers = EventRequests(
        clock=clock, vault=vault, directory=directory, reference=reference,
        rule_config=EventRuleConfig(settings.intake_event_min_notice_days), config=config)
    svc.consume(EVENT_REQUEST_SUBMISSIONS.name, group=GROUP, name="intake-event-requests",
                decode=events.decode, handle=handlers.on_record,
                on_dead_letter=handlers.on_dead_letter)
    limits = SharedLimits(LimitConfig(
        burst=settings.intake_event_rate_burst, per_minute=settings.intake_event_rate_per_minute,
        confirmations_per_day=settings.intake_event_confirmations_per_day), vault.fingerprint)
    svc.background(timers.prune_worker(limits.bound,
                                       settings.intake_event_timer_interval_seconds))
    svc.routes.extend(ingress.routes(svc, handlers, max_bytes=settings.intake_event_http_max_bytes,
                                     limits=limits.bound))
    svc.routes.extend(confirm.routes(svc, handlers, confirm_secret(settings)))
    return handlers


def confirm_secret(settings: IntakeSettings) -> bytes:
    """The secret confirmation links are signed with (shared with notifier, which mails them);
    the development secret on the local stack only."""
    return links.secret_setting(settings.event_confirm_secret,
                                setting="COMMANDE_EVENT_CONFIRM_SECRET",
                                purpose=CONFIRMATION_PURPOSE, development=settings.development)
