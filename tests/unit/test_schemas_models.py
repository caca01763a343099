"""The event and command models: frozen, closed, strict, and consistent with the registry."""

from __future__ import annotations

import re
import typing
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError
from uuid6 import uuid7

from schemas.base import CE_TYPE_PATTERN, TASK_STATES_NEEDING_REASON, LegalBasis, TaskState
from schemas.commands import AssignAgencies, RespondToAssignment
from schemas.errors import UnknownEventType, WrongTopic
from schemas.meetings import AgendaIssued, MeetingScheduled
from schemas.reference import reference
from schemas.referrals import ReferralSubmitted
from schemas.registry import (
    BY_TYPE,
    MESSAGES,
    TYPES_BY_TOPIC,
    allowed_types,
    check_topic,
    model_for,
)
from schemas.situations import AgenciesAssigned, AgencyTask, SituationOpened
from schemas.topics import DLQ, TOPICS
from tests.support.samples import (
    NOW,
    SITUATION_ID,
    all_samples,
    sample,
    sample_fields,
    sealed_referral,
)

pytestmark = pytest.mark.unit


def test_every_message_declares_type_topic_and_docstring() -> None:
    for model in MESSAGES:
        assert re.match(CE_TYPE_PATTERN, model.ce_type), model
        assert model.topic in TOPICS, model
        assert model.topic is not DLQ
        assert (model.__doc__ or "").strip(), model
    assert len(BY_TYPE) == len(MESSAGES) == 46


def test_registry_maps_types_and_topics_both_ways() -> None:
    for model in MESSAGES:
        assert model_for(model.ce_type) is model
        assert model.ce_type in allowed_types(model.topic.name)
        check_topic(model.ce_type, model.topic.name)
    assert allowed_types(DLQ.name) == frozenset()
    assert set(TYPES_BY_TOPIC) == {t.name for t in TOPICS}
    with pytest.raises(UnknownEventType):
        model_for("ca.halton.commande.situation.nope.v1")
    with pytest.raises(WrongTopic):
        check_topic(SituationOpened.ce_type, "commande.notices.v1")


def test_samples_are_valid_and_frozen() -> None:
    samples = all_samples()
    assert [type(s) for s in samples] == list(MESSAGES)
    event = samples[0]
    with pytest.raises(ValidationError):
        event.agency_id = "other-agency"  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", MESSAGES, ids=lambda m: m.__name__)
def test_unknown_fields_are_forbidden(model: type) -> None:
    with pytest.raises(ValidationError, match="extra"):
        model(**sample_fields(model), unexpected="x")


def test_naive_datetimes_are_rejected_and_aware_ones_normalised_to_utc() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        sample(SituationOpened, opened_at=datetime(2026, 1, 5, 9, 0))
    eastern = timezone(timedelta(hours=-5))
    event = sample(SituationOpened, opened_at=datetime(2026, 1, 5, 9, 0, tzinfo=eastern))
    assert event.opened_at == NOW
    assert event.opened_at.utcoffset() == timedelta(0)


def test_ids_must_be_uuid7() -> None:
    with pytest.raises(ValidationError, match="UUIDv7"):
        sample(SituationOpened, situation_id=uuid4())
    assert sample(SituationOpened, situation_id=uuid7()).situation_id.version == 7


def test_scalars_are_strict() -> None:
    with pytest.raises(ValidationError):
        sample(SituationOpened, situation_id=str(SITUATION_ID))
    with pytest.raises(ValidationError):
        sample(AgendaIssued, revision="1")


def test_referral_needs_exactly_one_subject_block() -> None:
    assert sample(ReferralSubmitted).subject is not None
    assert sealed_referral().sealed_subject is not None
    with pytest.raises(ValidationError, match="exactly one"):
        sample(ReferralSubmitted, subject=None)
    with pytest.raises(ValidationError, match="exactly one"):
        sample(ReferralSubmitted, sealed_subject="U3ludGhldGlj")
    with pytest.raises(ValidationError):
        sealed_referral(sealed_subject="not base64!")


def test_task_reason_is_required_for_some_states() -> None:
    for state in TASK_STATES_NEEDING_REASON:
        with pytest.raises(ValidationError, match="reason"):
            AgencyTask(agency_id="sample-lead-agency", state=state)
        AgencyTask(agency_id="sample-lead-agency", state=state, reason="Synthetic.")
    with pytest.raises(ValidationError, match="reason"):
        sample(RespondToAssignment, answer="rejected")


def test_an_agency_is_lead_or_assisting_once() -> None:
    with pytest.raises(ValidationError, match="once"):
        sample(AssignAgencies, assisting=("sample-lead-agency",))
    with pytest.raises(ValidationError, match="once"):
        sample(AgenciesAssigned, assisting=(AgencyTask(agency_id="sample-lead-agency"),))


def test_agenda_kind_matches_revision_and_meetings_end_after_start() -> None:
    assert sample(AgendaIssued, kind="update", revision=2).revision == 2
    with pytest.raises(ValidationError, match="revision"):
        sample(AgendaIssued, kind="update", revision=1)
    with pytest.raises(ValidationError, match="after"):
        sample(MeetingScheduled, ends_at=NOW)


def test_keys_and_subjects_carry_ids_only() -> None:
    safe_key = re.compile(r"^[a-z][a-z0-9-]+/[A-Za-z0-9._-]+$|^[0-9a-f-]{36}$")
    for event in all_samples():
        assert safe_key.match(event.key()), event
        subject = event.subject_id()
        assert subject is None or isinstance(subject, UUID)
    referral = sample(ReferralSubmitted)
    assert "Sample" not in referral.key()
    assert "Person" not in referral.key()


def test_literal_vocabularies_match_reference_data() -> None:
    ref = reference()
    assert set(typing.get_args(LegalBasis)) == ref.codes("legal_bases")
    assert set(typing.get_args(TaskState)) == ref.codes("task_states")
    assert set(TASK_STATES_NEEDING_REASON) == set(ref.task_states.reason_required)


def test_sample_codes_exist_in_reference_data() -> None:
    ref = reference()
    opened = sample(SituationOpened)
    assert opened.district in ref.codes("districts")
    assert opened.summary.municipality in ref.codes("municipalities")
    assert set(opened.summary.risk_factors) <= ref.codes("risk_factors")
    assert set(opened.summary.protective_factors) <= ref.codes("protective_factors")
    assert {p.age_group for p in opened.summary.persons} <= ref.codes("age_groups")
    assert {p.gender for p in opened.summary.persons} <= ref.codes("genders")
    concluded = all_samples()[MESSAGES.index(BY_TYPE["ca.halton.commande.situation.concluded.v1"])]
    assert concluded.conclusion in ref.codes("conclusions")  # type: ignore[attr-defined]
