"""A dead letter never blocks its consumer, and never keeps identity in clear.

Found on the embedded stack: one record of 4,193,960 bytes on the referrals topic (inside the
broker's 4 MiB limit) stopped intake's referral consumer on every partition. Its dead-letter copy
(the original plus our headers) was over the limit; aiokafka's ``MessageSizeTooLargeError`` was
taken for a transient failure, so the consumer retried for ever and retired the producer that the
outbox relay shares each time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from schemas.envelope import from_record, to_record
from schemas.referrals import ReferralRejected, ReferralSubmitted
from schemas.topics import DLQ, REFERRAL_STATUS, REFERRALS
from services.intake import main
from services.intake.settings import IntakeSettings
from services.runtime import kafka_client
from services.runtime.clock import ManualClock
from services.runtime.kafka import MAX_RECORD_BYTES, InRecord
from services.runtime.service import Service
from services.runtime.settings import Settings
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for
from tests.support.samples import sample

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AGENCY = "mental-health-assoc"
OVERSIZE = 4_193_960


@pytest.fixture(scope="module")
async def intake(settings: Settings) -> AsyncIterator[Service]:
    svc = main.build(IntakeSettings(**settings.model_dump()), clock=ManualClock(datetime.now(UTC)))
    await svc.faststream.start()
    try:
        yield svc
    finally:
        await svc.faststream.stop()


async def _send(settings: Settings, key: bytes, value: bytes,
                headers: list[tuple[str, bytes]]) -> None:
    producer = kafka_client.producer(settings, HARNESS, max_request_size=MAX_RECORD_BYTES)
    await producer.start()
    try:
        await producer.send_and_wait(REFERRALS.name, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _answer(settings: Settings, key: bytes, since: dict[int, int]) -> ReferralRejected:
    async def found() -> list[InRecord]:
        return [r for r in await read_all(settings, REFERRAL_STATUS.name, since=since)
                if r.key == key]

    (rec,) = await wait_for(found, timeout=60)
    event = from_record(rec.headers, rec.value).event
    assert isinstance(event, ReferralRejected)
    return event


async def test_an_oversize_record_is_dead_lettered_as_a_stub_and_the_consumer_goes_on(
        settings: Settings, intake: Service) -> None:
    status_since = await end_offsets(settings, REFERRAL_STATUS.name)
    dlq_since = await end_offsets(settings, DLQ.name)
    big_key = f"{AGENCY}/T{RUN}-oversize".encode()
    # Looks like a referral (its headers are valid CloudEvents) but its body is 4 MB of junk
    # around a would-be name: the copy in the DLQ must keep neither.
    filler = b'{"subject": {"given_name": "Quillonet' + RUN.encode() + b'"}, "pad": "'
    body = filler + b"x" * (OVERSIZE - len(filler) - 2) + b'"}'
    template = to_record(_unsigned_referral(f"T{RUN}-oversize"), source=f"/partners/{AGENCY}")
    await _send(settings, big_key, body, template.headers)
    next_key = f"{AGENCY}/T{RUN}-after".encode()
    after = to_record(_unsigned_referral(f"T{RUN}-after"), source=f"/partners/{AGENCY}")
    await _send(settings, next_key, after.value, after.headers)

    # intake answers the oversize record (it could not be read) and the next one: not stuck
    assert (await _answer(settings, big_key, status_since)).reasons
    assert (await _answer(settings, next_key, status_since)).reasons

    async def dead() -> list[InRecord]:
        return [r for r in await read_all(settings, DLQ.name, since=dlq_since) if r.key == big_key]

    (letter,) = await wait_for(dead, timeout=30)
    headers = dict(letter.headers)
    assert letter.value == b""  # a restricted topic's record is never kept in clear
    assert headers["dlq_value"] == b"stub"
    assert headers["orig_size"] == str(len(body)).encode()
    assert headers["orig_topic"] == REFERRALS.name.encode()
    assert RUN.encode() not in b"".join(v for _, v in letter.headers)


def _unsigned_referral(ref: str) -> ReferralSubmitted:
    """A well-formed referral of this test's agency, unsigned: intake answers it with reasons."""
    return sample(ReferralSubmitted, agency_id=AGENCY, referral_ref=ref)
