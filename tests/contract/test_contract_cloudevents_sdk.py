"""Interoperability with the official CloudEvents Python SDK (``cloudevents`` 2.x, Kafka binding).

Records we produce must read as valid CloudEvents 1.0 with the SDK, and records the SDK builds
must parse with ours: partners are free to use the SDK.
"""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from uuid6 import uuid7

from schemas.base import Message
from schemas.envelope import from_record, to_record
from schemas.errors import BadSpecVersion, InvalidBody, UnsupportedContentType
from schemas.referrals import ReferralSubmitted
from tests.support.samples import NOW, SOURCE, all_samples, sample

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_our_records_are_valid_cloudevents_for_the_sdk(event: Message) -> None:
    record = to_record(event, source=SOURCE, correlation_id=uuid7(), causation_id=uuid7())
    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    parsed = from_binary(message, JSONFormat(), CloudEvent)
    headers = dict(record.headers)
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == headers["ce_id"].decode()
    assert parsed.get_source() == SOURCE
    assert parsed.get_type() == event.ce_type
    assert parsed.get_datacontenttype() == "application/json"
    parsed_time = parsed.get_time()
    assert parsed_time is not None
    assert parsed_time.tzinfo is not None
    assert parsed.get_extension("correlationid") == headers["ce_correlationid"].decode()
    assert parsed.get_extension("partitionkey") == event.key()
    subject = event.subject_id()
    assert parsed.get_subject() == (str(subject) if subject is not None else None)
    assert parsed.get_data() == json.loads(record.value)


def _sdk_record(event: Message, **attributes: object) -> KafkaMessage:
    cloud_event = CloudEvent(
        {
            "id": str(uuid7()),
            "source": "https://sample-originator.example.org/agency",
            "type": event.ce_type,
            "time": NOW,
            "datacontenttype": "application/json",
            "correlationid": "partner-trace-1",
            **attributes,
        },
        event.model_dump(mode="json"),
    )
    return to_binary(cloud_event, JSONFormat())


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_sdk_built_records_parse_with_ours(event: Message) -> None:
    message = _sdk_record(event)
    envelope = from_record(list(message.headers.items()), message.value, topic=event.topic.name)
    assert envelope.event == event
    assert envelope.source == "https://sample-originator.example.org/agency"
    assert envelope.time == NOW
    assert envelope.correlationid == "partner-trace-1"


def test_sdk_record_with_subject_parses() -> None:
    event = sample(ReferralSubmitted)
    situation = uuid7()
    message = _sdk_record(event, subject=str(situation))
    envelope = from_record(list(message.headers.items()), message.value)
    assert envelope.subject == situation


def test_sdk_records_that_break_our_contract_fail_with_typed_errors() -> None:
    event = sample(ReferralSubmitted)
    text = _sdk_record(event, datacontenttype="text/plain")
    with pytest.raises(UnsupportedContentType):
        from_record(list(text.headers.items()), text.value)
    bad_body = CloudEvent(
        {"id": str(uuid7()), "source": "/x", "type": event.ce_type, "time": NOW,
         "datacontenttype": "application/json"},
        {"agency_id": "sample-originator"},
    )
    message = to_binary(bad_body, JSONFormat())
    with pytest.raises(InvalidBody) as caught:
        from_record(list(message.headers.items()), message.value)
    assert "referral_ref" in caught.value.paths
    old = dict(_sdk_record(event).headers)
    old["ce_specversion"] = b"0.3"
    with pytest.raises(BadSpecVersion):
        from_record(list(old.items()), _sdk_record(event).value)
