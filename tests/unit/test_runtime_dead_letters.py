"""Dead letters: the original bytes of de-identified topics; sealed or a stub for restricted ones;
always small enough for Kafka; one shape (docs/operations.md) whoever makes them."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from uuid import UUID

import pytest
from nacl.public import PrivateKey, SealedBox

from schemas.errors import ConfigurationError, RuleViolation, StaleState
from schemas.notices import NoticeFailed
from schemas.topics import DLQ, NOTICES
from services.notifier import delivery
from services.notifier.ports import Due
from services.runtime.dead_letters import DeadLetters
from services.runtime.events import decode
from services.runtime.failure import DeadLetter, FailurePolicy
from services.runtime.kafka import MAX_RECORD_BYTES, InRecord, OutRecord, fits
from tests.support.samples import NOW

pytestmark = pytest.mark.unit

IDENTITY = b'{"subject": {"given_name": "Quillonet", "phone": "905 555 0101"}}'
HEADERS = (("ce_id", b"01a2336d-8fe5-7f21-97d6-8e95d5fb0f8f"),
           ("ce_type", b"ca.halton.commande.referral.submitted.v1"),
           ("ce_source", b"/partners/Quillonet"), ("x-note", b"Quillonet lives here"))


def record(topic: str, value: bytes = IDENTITY) -> InRecord:
    return InRecord(topic=topic, partition=2, offset=41, key=b"agency/ref-1", value=value,
                    headers=HEADERS)


DOCUMENTED = ("error", "error_consumer", "orig_topic", "orig_partition", "orig_offset",
              "orig_size", "orig_sha256")


def assert_documented_shape(letter: OutRecord, original: InRecord) -> None:
    """docs/operations.md, "The dead-letter topic", for a de-identified original."""
    headers = dict(letter.headers)
    assert letter.topic == DLQ.name
    assert letter.key == original.key
    assert letter.value == original.value
    assert set(DOCUMENTED) <= set(headers)
    assert (headers["orig_topic"], headers["orig_partition"], headers["orig_offset"]) == (
        original.topic.encode(), str(original.partition).encode(), str(original.offset).encode())
    assert headers["orig_size"] == str(len(original.value)).encode()
    assert headers["orig_sha256"] == hashlib.sha256(original.value).hexdigest().encode()
    assert letter.headers[:len(original.headers)] == original.headers  # ce_* and all, to replay


def test_a_consumers_dead_letter_has_the_documented_shape() -> None:
    original = record("commande.situations.v1")
    letter = DeadLetters().record(original, "InvalidBody: x", "convening-situations")
    assert_documented_shape(letter, original)
    assert dict(letter.headers)["error"] == b"InvalidBody: x"
    assert dict(letter.headers)["error_consumer"] == b"convening-situations"


def test_an_unpublished_outbox_row_has_the_documented_shape_with_its_seq() -> None:
    row = OutRecord("commande.situations.v1", b"{}", b"situation-1", HEADERS[:2])
    letter = DeadLetters().unpublished(row, "too large", "convening-outbox", offset=77)
    assert_documented_shape(letter, InRecord("commande.situations.v1", -1, 77, b"situation-1",
                                             b"{}", HEADERS[:2]))


def test_a_notice_given_up_is_dead_lettered_as_its_last_notice_failed_in_the_same_shape() -> None:
    """Notifier's give-up: the original is the permanent NoticeFailed it publishes beside the
    dead letter (same ce_id), never the address, the payload or anything rendered."""
    due = Due(notice_id=UUID("01940000-0000-7000-8000-0000000000a1"),
              cause_id=UUID("01940000-0000-7000-8000-0000000000c1"),
              cause_topic="commande.disclosures.v1", kind="disclosure",
              recipient_agency="mental-health-assoc", channel="webhook",
              address="https://quillonet.example/hook",
              payload={"subject": "Quillonet", "body": {"name": "Quillonet"}}, attempts=4)
    failed, letter = delivery.given_up(DeadLetters(), due, "webhook_5xx", "attempts_exhausted", 5,
                                       NOW + timedelta(minutes=1))
    assert failed.topic == NOTICES.name
    original = InRecord(NOTICES.name, -1, -1, failed.key, failed.value, failed.headers)
    assert_documented_shape(letter, original)
    headers = dict(letter.headers)
    assert headers["error"] == b"webhook_5xx (attempts_exhausted)"
    assert headers["error_consumer"] == b"notifier-delivery"
    assert letter.key == str(due.notice_id).encode()
    event = decode(original).event
    assert isinstance(event, NoticeFailed)
    assert (event.cause_id, event.attempt, event.error, event.permanent) == (
        due.cause_id, 5, "webhook_5xx", True)
    everything = letter.value + b"".join(v for _, v in letter.headers) + (letter.key or b"")
    assert b"quillonet" not in everything.lower()


def test_a_de_identified_topic_keeps_the_original_bytes_for_replay() -> None:
    letter = DeadLetters().record(record("commande.situations.v1"), "InvalidBody: x", "c")
    headers = dict(letter.headers)
    assert letter.value == IDENTITY
    assert headers["orig_topic"] == b"commande.situations.v1"
    assert headers["orig_offset"] == b"41"
    assert headers["x-note"] == b"Quillonet lives here"


def test_a_restricted_topic_without_an_operator_key_leaves_a_stub() -> None:
    letter = DeadLetters().record(record("commande.referrals.v1"), "InvalidBody: x", "c")
    headers = dict(letter.headers)
    assert letter.value == b""
    assert headers["dlq_value"] == b"stub"
    assert headers["orig_size"] == str(len(IDENTITY)).encode()
    assert headers["orig_sha256"] == hashlib.sha256(IDENTITY).hexdigest().encode()
    assert b"Quillonet" not in b"".join(v for _, v in letter.headers)
    assert set(headers) >= {"ce_id", "ce_type"}


def test_a_restricted_topic_is_sealed_to_the_operators_key_and_opens_to_the_original() -> None:
    operators = PrivateKey.generate()
    box = DeadLetters(base64.b64encode(bytes(operators.public_key)).decode())
    letter = box.record(record("commande.event-request-submissions.v1"), "x", "c")
    assert dict(letter.headers)["dlq_value"].startswith(b"sealed:")
    assert b"Quillonet" not in letter.value + b"".join(v for _, v in letter.headers)
    opened = json.loads(SealedBox(operators).decrypt(letter.value))
    assert base64.b64decode(opened["value"]) == IDENTITY
    assert ["x-note", base64.b64encode(b"Quillonet lives here").decode()] in opened["headers"]


def test_an_original_near_the_limit_becomes_a_stub_that_kafka_takes() -> None:
    big = b"x" * (MAX_RECORD_BYTES - 300)
    letter = DeadLetters().record(record("commande.situations.v1", big), "e" * 900, "consumer")
    assert fits(letter)
    assert letter.value == b""
    assert dict(letter.headers)["orig_size"] == str(len(big)).encode()


def test_a_bad_operator_key_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="COMMANDE_DLQ_PUBLIC_KEY"):
        DeadLetters("not-a-key")


@pytest.mark.parametrize("error", [RuleViolation("no"), StaleState("gone")])
def test_the_domains_refusals_are_dead_lettered_at_once(error: Exception) -> None:
    assert isinstance(FailurePolicy().decide(error, 1), DeadLetter)


def test_a_missing_file_is_not_retried_for_ever() -> None:
    from services.runtime.consumer import _translate

    error = _translate(FileNotFoundError("templates/x.j2"))
    assert isinstance(FailurePolicy().decide(error, 3), DeadLetter)
