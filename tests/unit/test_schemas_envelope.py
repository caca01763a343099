"""The CloudEvents Kafka binary-mode envelope: round trips and precise, typed failures."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from uuid6 import uuid7

from schemas.envelope import Record, expect, from_record, to_record
from schemas.errors import (
    BadSpecVersion,
    ContractError,
    InvalidBody,
    InvalidHeader,
    MissingHeader,
    UnknownEventType,
    UnsupportedContentType,
    WrongTopic,
)
from schemas.meetings import MeetingScheduled
from schemas.referrals import ReferralSubmitted
from schemas.situations import SituationOpened
from tests.support.samples import (
    EVENT_ID,
    NOW,
    SITUATION_ID,
    SOURCE,
    all_samples,
    sample,
    sealed_referral,
)

pytestmark = pytest.mark.unit


def _record(**kwargs: object) -> Record:
    return to_record(sample(SituationOpened), source=SOURCE, **kwargs)  # type: ignore[arg-type]


def _without(record: Record, name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in record.headers if k != name]


def _replace(record: Record, name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(k, value if k == name else v) for k, v in record.headers]


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_every_sample_round_trips(event: object) -> None:
    record = to_record(event, source=SOURCE, correlation_id=EVENT_ID, causation_id="partner:42")  # type: ignore[arg-type]
    envelope = from_record(record.headers, record.value, topic=record.topic)
    assert envelope.event == event
    assert envelope.type == type(event).ce_type
    assert envelope.source == SOURCE
    assert envelope.correlationid == str(EVENT_ID)
    assert envelope.causationid == "partner:42"
    assert envelope.id.version == 7
    assert envelope.time.tzinfo is not None
    assert record.key == event.key().encode()


def test_headers_are_cloudevents_attributes() -> None:
    event_id = uuid7()
    record = _record(id=event_id, time=NOW)
    headers = dict(record.headers)
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": str(event_id).encode(),
        "ce_source": SOURCE.encode(),
        "ce_type": b"ca.halton.commande.situation.opened.v1",
        "ce_time": b"2026-01-05T14:00:00.000000Z",
        "ce_subject": str(SITUATION_ID).encode(),
        "content-type": b"application/json",
    }
    assert record.topic == "commande.situations.v1"
    assert record.key == str(SITUATION_ID).encode()


def test_no_personal_data_in_key_or_headers() -> None:
    for event in (sample(ReferralSubmitted), sealed_referral()):
        record = to_record(
            event, source="https://sample-originator.example.org/agency", id=EVENT_ID, time=NOW
        )
        exposed = record.key + b"".join(v for _, v in record.headers)
        for secret in (b"Sample", b"Person", b"1990", b"555", b"Example Street"):
            assert secret not in exposed
    assert b"Sample Person" not in to_record(sample(ReferralSubmitted), source=SOURCE).key


def test_meeting_events_have_no_subject() -> None:
    record = to_record(sample(MeetingScheduled), source=SOURCE)
    assert "ce_subject" not in dict(record.headers)
    assert from_record(record.headers, record.value).subject is None


def test_to_record_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="source"):
        to_record(sample(SituationOpened), source="has space")
    with pytest.raises(ValueError, match="UUIDv7"):
        _record(id=UUID(int=1))
    with pytest.raises(ValueError, match="ce_correlationid"):
        _record(correlation_id="no spaces allowed")


@pytest.mark.parametrize(
    "header", ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"]
)
def test_missing_required_header(header: str) -> None:
    record = _record()
    with pytest.raises(MissingHeader) as caught:
        from_record(_without(record, header), record.value)
    assert caught.value.header == header


def test_null_header_value_counts_as_missing() -> None:
    record = _record()
    headers: list[tuple[str, bytes | None]] = [
        (k, None if k == "ce_id" else v) for k, v in record.headers
    ]
    with pytest.raises(MissingHeader):
        from_record(headers, record.value)


def test_wrong_specversion() -> None:
    record = _record()
    with pytest.raises(BadSpecVersion, match=r"1\.0"):
        from_record(_replace(record, "ce_specversion", b"0.3"), record.value)


def test_unknown_type() -> None:
    record = _record()
    with pytest.raises(UnknownEventType, match="not a registered"):
        from_record(_replace(record, "ce_type", b"com.example.other.v1"), record.value)


def test_wrong_topic() -> None:
    record = _record()
    with pytest.raises(WrongTopic, match=r"commande\.situations\.v1"):
        from_record(record.headers, record.value, topic="commande.notices.v1")


@pytest.mark.parametrize(
    "content_type", [b"text/plain", b"application/cloudevents+json", b"application/xml", b""]
)
def test_non_json_content_type(content_type: bytes) -> None:
    record = _record()
    with pytest.raises(UnsupportedContentType):
        from_record(_replace(record, "content-type", content_type), record.value)


def test_json_content_type_with_parameters_is_accepted() -> None:
    record = _record()
    headers = _replace(record, "content-type", b"application/json; charset=utf-8")
    assert from_record(headers, record.value).event == sample(SituationOpened)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce_id", b"not-a-uuid"),
        ("ce_id", b"6b1f1f4e-8a4f-4f43-9bd6-0c1d2e3f4a5b"),  # a UUIDv4
        ("ce_time", b"2026-01-05T14:00:00"),  # naive
        ("ce_time", b"yesterday"),
        ("ce_time", b"2026-02-30T14:00:00Z"),
        ("ce_subject", b"Sample Person"),
        ("ce_source", b"has space"),
        ("ce_type", b"\xff\xfe"),
    ],
)
def test_malformed_headers(header: str, value: bytes) -> None:
    record = _record()
    headers = [*_without(record, header), (header, value)]
    with pytest.raises(InvalidHeader) as caught:
        from_record(headers, record.value)
    assert caught.value.header == header
    assert "Sample Person" not in str(caught.value)


def test_repeated_header_is_ambiguous() -> None:
    record = _record()
    with pytest.raises(InvalidHeader, match="repeated"):
        from_record([*record.headers, ("ce_type", b"x")], record.value)


def test_header_names_are_case_insensitive_and_others_ignored() -> None:
    record = _record()
    headers = [(k.upper(), v) for k, v in record.headers] + [("traceparent", b"00-abc")]
    assert from_record(headers, record.value).event == sample(SituationOpened)


def test_time_is_normalised_to_utc() -> None:
    record = _record()
    headers = _replace(record, "ce_time", b"2026-01-05T09:00:00-05:00")
    assert from_record(headers, record.value).time == datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_body_errors_name_every_field_path_without_values() -> None:
    record = _record()
    body = record.value.replace(b'"milton"', b'"Not A Code"').replace(
        b'"priority":"routine"', b'"priority":"soon"'
    )
    with pytest.raises(InvalidBody) as caught:
        from_record(record.headers, body)
    assert set(caught.value.paths) == {"summary.municipality", "priority"}
    assert "Not A Code" not in str(caught.value)
    assert caught.value.ce_type == SituationOpened.ce_type


@pytest.mark.parametrize("value", [b"", b"not json", b"[]", b"{}", b"\xff", None])
def test_body_that_is_not_the_model(value: bytes | None) -> None:
    record = _record()
    with pytest.raises(InvalidBody):
        from_record(record.headers, value)


def test_every_envelope_error_is_a_contract_error() -> None:
    for error in (MissingHeader, InvalidHeader, BadSpecVersion, UnknownEventType, WrongTopic,
                  UnsupportedContentType, InvalidBody):
        assert issubclass(error, ContractError)


def test_expect_narrows_the_event_type() -> None:
    record = _record()
    envelope = from_record(record.headers, record.value)
    assert expect(envelope, SituationOpened).event.situation_id == SITUATION_ID
    with pytest.raises(UnknownEventType):
        expect(envelope, MeetingScheduled)
