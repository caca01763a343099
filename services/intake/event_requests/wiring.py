"""Wires community event requests into intake's service (called by :func:`services.intake.main.build`):
the consumer on the submissions topic, the reminder and purge loop, and the HTTP route."""

from __future__ import annotations

from schemas.reference import Reference
from schemas.topics import EVENT_REQUEST_SUBMISSIONS
from services.directory import DirectoryHolder
from services.intake.event_requests import ingress, timers
from services.intake.event_requests.decide import EventConfig
from services.intake.event_requests.handlers import EventRequests
from services.intake.event_requests.rate_limit import RateLimiter
from services.intake.event_requests.rules import EventRuleConfig
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault
from services.runtime import events
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
        holidays=reference.holiday_dates)
    handlers = EventRequests(
        clock=clock, vault=vault, directory=directory, reference=reference,
        rule_config=EventRuleConfig(settings.intake_event_min_notice_days), config=config)
    svc.consume(EVENT_REQUEST_SUBMISSIONS.name, group=GROUP, name="intake-event-requests",
                decode=events.decode, handle=handlers.on_record,
                on_dead_letter=handlers.on_dead_letter)
    svc.background(timers.timer_loop(clock, config, settings.intake_event_timer_interval_seconds))
    svc.routes.extend(ingress.routes(
        svc, handlers, max_bytes=settings.intake_event_http_max_bytes,
        limiter=RateLimiter(settings.intake_event_rate_burst,
                            settings.intake_event_rate_per_minute)))
    return handlers
