"""A command's outcome in words (pure): done, or refused with every reason, or not settled yet.

The console waits for convening's (or intake's) answer like the API does, and says what it was:
never "sent" or "published" as if that were an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.gateway.console.forms import FormError
from services.gateway.console.labels import Labels
from services.gateway.outcomes import Accepted, Refused, refusal_status
from services.gateway.routes import Issued, Refusal

_PREFIX = "ca.halton.commande."


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason, as convening (or the gateway) gave it."""

    message: str
    code: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeView:
    """What the outcome page says, and its HTTP status."""

    status: int
    state: str
    """``done``, ``refused`` or ``pending``."""
    heading: str
    detail: str
    reasons: list[Reason] = field(default_factory=list)
    actor: str | None = None
    facts: list[str] = field(default_factory=list)
    command_id: str | None = None


def _reasons(raw: list[dict[str, Any]]) -> list[Reason]:
    return [Reason(str(r.get("message") or r.get("code") or "refused"), str(r.get("code", "")),
                   r.get("field") if isinstance(r.get("field"), str) else None) for r in raw]


def _actor(actor: dict[str, Any] | None, labels: Labels) -> str | None:
    if not actor:
        return None
    agency = labels.agency(actor.get("agency_id"))
    role = actor.get("role")
    return f"{agency} as {labels('actor_role', role)}" if isinstance(role, str) else agency


def issued(what: str, outcome: Issued, labels: Labels, wait: float) -> OutcomeView:
    """The page after a published command: its facts, its refusal, or that it is not settled."""
    actor = outcome.command.actor.model_dump()
    command_id = str(outcome.command_id)
    result = outcome.outcome
    if isinstance(result, Accepted):
        facts = [labels("event", f.ce_type.removeprefix(_PREFIX).split(".", 1)[-1].rsplit(".", 1)[0])
                 for f in result.facts]
        return OutcomeView(200, "done", f"Done: {what} recorded",
                           "Convening applied it; the table and the agencies concerned see it now.",
                           actor=_actor(actor, labels), facts=facts, command_id=command_id)
    if isinstance(result, Refused):
        reasons = result.reasons
        return OutcomeView(refusal_status(r.get("code", "") for r in reasons), "refused",
                           f"Refused: {what}", "Convening refused it, on record, for every reason "
                           "below. Nothing changed.", reasons=_reasons(reasons),
                           actor=_actor(result.actor or actor, labels), command_id=command_id)
    return OutcomeView(504, "pending", f"No answer yet: {what}",
                       f"It was sent, but convening did not settle it within {wait:g} seconds. "
                       "Open the situation again in a moment: its timeline shows whether it was "
                       "applied.", actor=_actor(actor, labels), command_id=command_id)


def stopped(what: str, refusal: Refusal) -> OutcomeView:
    """The page after a command the gateway did not publish (nobody to act as, identifying
    text, a default it does not know, its database down)."""
    raw = refusal.extra.get("reasons") or refusal.extra.get("errors") or []
    return OutcomeView(refusal.status, "refused", f"Not sent: {what}",
                       f"{refusal.title}: {refusal.detail}", reasons=_reasons(list(raw)))


def invalid(what: str, error: FormError) -> OutcomeView:
    """The page after a form that does not make a command (nothing was sent)."""
    return OutcomeView(422, "refused", f"Not sent: {what}",
                       "The form is incomplete; nothing was sent. Go back and fix every field "
                       "listed.", reasons=[Reason(str(e["message"]), "form", e.get("field"))
                                           for e in error.errors])
