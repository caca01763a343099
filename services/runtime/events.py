"""Between the contracts (``schemas.envelope``) and the runtime's records.

Services decode consumed records with :func:`decode` (a :class:`~schemas.errors.ContractError`
sends the record to the DLQ) and turn the events their core decides into outbox records with
:func:`emit`, which carries the correlation id along and names the cause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from nacl.signing import SigningKey

from schemas.base import Message
from schemas.envelope import Envelope, Record, from_record, to_record
from schemas.registry import lane_copy_of
from schemas.signing import sign_record
from services.runtime.kafka import InRecord, OutRecord


def decode(rec: InRecord) -> Envelope[Message]:
    """The typed CloudEvent in ``rec``; the type must be allowed on the topic it came from."""
    return from_record(rec.headers, rec.value, topic=rec.topic)


def copied_to(lane: str) -> Callable[[Envelope[Message]], bool]:
    """Whether the urgent ``lane`` also carries an envelope's record (:func:`with_lane` wrote it
    there too): ``Service.consume``'s ``both_ways`` for the topic of that lane."""

    def copied(env: Envelope[Message]) -> bool:
        found = lane_copy_of(env.event)
        return found is not None and found.name == lane

    return copied


def emit(event: Message, *, source: str, cause: Envelope[Message] | None = None,
         subject: UUID | None = None, time: datetime | None = None,
         cause_id: UUID | None = None) -> OutRecord:
    """The record for ``event``, published by ``source`` (``/commande/<service>``), caused by
    ``cause`` (or by the event whose id is ``cause_id``, when only that id was kept)."""
    correlation = None
    causation = None if cause_id is None else str(cause_id)
    if cause is not None:
        correlation = cause.correlationid or str(cause.id)
        causation = str(cause.id)
    rec = to_record(event, source=source, subject=subject, correlation_id=correlation,
                    causation_id=causation, time=time)
    return OutRecord(topic=rec.topic, key=rec.key, value=rec.value, headers=tuple(rec.headers))


def emit_signed(event: Message, *, source: str, key: SigningKey,
                time: datetime | None = None) -> OutRecord:
    """The record for ``event`` from ``source`` with its ``ce_signature`` made with ``key``: a
    partner agency's referral (``source`` ``/partners/<agency_id>``, the agency's signing key)."""
    return out_record(sign_record(to_record(event, source=source, time=time), key))


def emit_all(events: Sequence[Message], *, source: str, cause: Envelope[Message] | None = None,
             time: datetime | None = None) -> list[OutRecord]:
    """The records of ``events`` (:func:`emit`), each followed by its urgent lane copy when it
    has one (:func:`with_lane`)."""
    return [r for e in events
            for r in with_lane(e, emit(e, source=source, cause=cause, time=time))]


def with_lane(event: Message, record: OutRecord) -> list[OutRecord]:
    """``record``, and the same record on the urgent lane when ``event`` is urgent (an urgent
    situation's opening, an ad-hoc meeting's agenda): its reader handles whichever copy comes
    first, once (docs/adr/0006-urgent-lane.md). The copy is ``urgent``: the outbox relay
    publishes it ahead of the routine rows waiting."""
    lane = lane_copy_of(event)
    return [record] if lane is None else [record, replace(record, topic=lane.name, urgent=True)]


def out_record(record: Record) -> OutRecord:
    """A contract :class:`~schemas.envelope.Record` as the runtime's :class:`OutRecord`."""
    return OutRecord(topic=record.topic, key=record.key, value=record.value,
                     headers=tuple(record.headers))
