"""The console's forms (pure): an urlencoded body → the same request body the API takes.

A form never carries an actor (the gateway stamps the signed-in person's), and what it does
carry is checked by the API's own body models, so a form and an API call build the same command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from schemas.reference.calendar import ZONE
from services.gateway import api
from services.runtime.problems import field_errors

Form = Mapping[str, Sequence[str]]


class FormError(ValueError):
    """A form that does not make a body: every field and what is wrong with it."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse(body: bytes) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body (UTF-8; blank values kept)."""
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                    max_num_fields=200)


def one(form: Form, name: str) -> str | None:
    """A single field, stripped; ``None`` when absent or blank."""
    values = form.get(name) or []
    value = values[0].strip() if values else ""
    return value or None


def many(form: Form, name: str) -> tuple[str, ...]:
    """A repeated field (checkboxes, multiple select), blanks dropped, order kept, no repeats."""
    return tuple(dict.fromkeys(v.strip() for v in form.get(name, []) if v.strip()))


def local_moment(text: str | None) -> datetime | None:
    """A ``datetime-local`` value (``2026-01-06T15:00``) read in America/Toronto.

    Raises:
        FormError: it is not such a value.
    """
    if text is None:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise FormError([{"field": "first_contact_at",
                          "message": "give a date and time, e.g. 2026-01-06T15:00"}]) from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZONE)


def _validated(model: type[api.Body], values: dict[str, Any]) -> api.Body:
    try:
        return model.model_validate({k: v for k, v in values.items() if v not in (None, ())})
    except ValidationError as exc:
        raise FormError(field_errors(exc)) from None


def decision(form: Form) -> api.Body:
    """The Filter 2 decision form."""
    return _validated(api.DecisionBody, {"decision": one(form, "decision"), "note": one(form, "note")})


def assignment(form: Form) -> api.Body:
    """The lead and assisting agencies (the identity release is the table's, from the
    directory: the form shows it and does not send it)."""
    lead = one(form, "lead")
    return _validated(api.AssignmentBody, {
        "lead": lead, "assisting": tuple(a for a in many(form, "assisting") if a != lead)})


def response(form: Form) -> api.Body:
    """An agency's answer to its assignment (a reason where the answer needs one)."""
    return _validated(api.ResponseBody, {"answer": one(form, "answer"), "reason": one(form, "reason")})


def intervention(form: Form) -> api.Body:
    """The intervention: outcome, when first contact was made, services mobilized."""
    return _validated(api.InterventionBody, {
        "outcome": one(form, "outcome"),
        "first_contact_at": local_moment(one(form, "first_contact_at")),
        "services_mobilized": many(form, "services")})


def conclusion(form: Form) -> api.Body:
    """A conclusion code."""
    return _validated(api.ConclusionBody, {"conclusion": one(form, "conclusion")})


def reopening(form: Form) -> api.Body:
    """Why a concluded situation is reopened."""
    return _validated(api.ReopeningBody, {"reason": one(form, "reason")})


ACTIONS: Mapping[str, tuple[str, Callable[[Form], api.Body], str]] = {
    "decision": ("decide", decision, "Filter 2 decision"),
    "assignment": ("assign", assignment, "Assignment of the lead and assisting agencies"),
    "response": ("respond", response, "Answer to the assignment"),
    "intervention": ("intervene", intervention, "Intervention"),
    "conclusion": ("conclude", conclusion, "Conclusion"),
    "reopening": ("reopen", reopening, "Reopening"),
}
"""Form path → (the gateway's operation id, the parser, what it is in words)."""
