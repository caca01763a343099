"""CloudEvents 1.0 in Kafka binary mode: our models in and out of Kafka records.

A record's value is the JSON of the event model; its attributes are headers::

    ce_specversion  1.0
    ce_id           UUIDv7 (with ce_source, the de-duplication key)
    ce_source       /commande/intake, or the partner's agency URI
    ce_type         ca.halton.commande.<stream>.<event>.v1
    ce_time         RFC 3339, UTC
    ce_subject      the situation id, when there is one (never anything else)
    content-type    application/json
    ce_correlationid / ce_causationid   optional tracing extensions

Keys and headers never carry personal data: keys come from :meth:`Message.key` (ids and opaque
references) and ``ce_subject`` can only be a UUID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, TypeVar
from uuid import UUID

from pydantic import ValidationError
from uuid6 import uuid7

from schemas.base import RFC3339_PATTERN, Message
from schemas.errors import (
    BadSpecVersion,
    InvalidBody,
    InvalidHeader,
    MissingHeader,
    UnknownEventType,
    UnsupportedContentType,
)
from schemas.registry import _shown, check_topic, model_for, topic_of

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"
H_ID: Final = "ce_id"
H_SOURCE: Final = "ce_source"
H_TYPE: Final = "ce_type"
H_SPECVERSION: Final = "ce_specversion"
H_TIME: Final = "ce_time"
H_SUBJECT: Final = "ce_subject"
H_CORRELATION: Final = "ce_correlationid"
H_CAUSATION: Final = "ce_causationid"
H_CONTENT_TYPE: Final = "content-type"
REQUIRED_HEADERS: Final = (H_SPECVERSION, H_ID, H_SOURCE, H_TYPE, H_TIME, H_CONTENT_TYPE)

_SOURCE = re.compile(r"^[\x21-\x7e]{1,256}$")
"""A URI-reference: printable ASCII without spaces, at most 256 characters."""
_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
"""Correlation and causation ids: UUIDs, or a partner's opaque token."""
_TIME = re.compile(RFC3339_PATTERN)
_JSON_TYPE = re.compile(r"^application/json\s*(;.*)?$", re.IGNORECASE)

E = TypeVar("E", bound=Message)


@dataclass(frozen=True, slots=True)
class Record:
    """A Kafka record ready to produce: topic, key, headers, value (all bytes)."""

    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes


@dataclass(frozen=True, slots=True)
class Envelope(Generic[E]):
    """A parsed CloudEvent: its attributes and the typed event or command it carries."""

    id: UUID
    source: str
    type: str
    time: datetime
    subject: UUID | None
    correlationid: str | None
    causationid: str | None
    event: E


def new_event_id() -> UUID:
    """A fresh ``ce_id`` (UUIDv7, time-ordered)."""
    return uuid7()


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and microseconds, e.g. ``2026-01-05T14:00:00.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("ce_time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_record(
    event: Message,
    *,
    source: str,
    subject: UUID | None = None,
    correlation_id: UUID | str | None = None,
    causation_id: UUID | str | None = None,
    id: UUID | None = None,
    time: datetime | None = None,
) -> Record:
    """Turn a model into a binary-mode CloudEvents Kafka record.

    Args:
        event: the event or command.
        source: ``ce_source``: ``/commande/<service>`` or the partner's agency URI.
        subject: ``ce_subject``; defaults to the event's situation id. Only a UUID is accepted,
            so no personal data can slip in.
        correlation_id: ``ce_correlationid``, usually the ``ce_id`` that started the flow.
        causation_id: ``ce_causationid``, the ``ce_id`` of the record that caused this one.
        id: ``ce_id``; a fresh UUIDv7 when omitted (pass the outbox row's id to republish).
        time: ``ce_time``; now when omitted.

    Returns:
        The record, keyed by :meth:`Message.key`, for ``event.topic``.

    Raises:
        ValueError: a bad ``source``, ``id``, ``time`` or tracing id (a programming error).
    """
    if not _SOURCE.match(source):
        raise ValueError("source must be a URI-reference of printable ASCII, at most 256 chars")
    event_id = id if id is not None else new_event_id()
    if event_id.version != 7:
        raise ValueError("ce_id must be a UUIDv7")
    moment = time if time is not None else datetime.now(UTC)
    subject_id = subject if subject is not None else event.subject_id()
    headers: list[tuple[str, bytes]] = [
        (H_SPECVERSION, SPECVERSION.encode()),
        (H_ID, str(event_id).encode()),
        (H_SOURCE, source.encode()),
        (H_TYPE, event.ce_type.encode()),
        (H_TIME, format_time(moment).encode()),
        (H_CONTENT_TYPE, CONTENT_TYPE.encode()),
    ]
    if subject_id is not None:
        headers.append((H_SUBJECT, str(subject_id).encode()))
    for name, value in ((H_CORRELATION, correlation_id), (H_CAUSATION, causation_id)):
        if value is not None:
            token = str(value)
            if not _TOKEN.match(token):
                raise ValueError(f"{name} must match {_TOKEN.pattern}")
            headers.append((name, token.encode()))
    return Record(
        topic=topic_of(event).name,
        key=event.key().encode(),
        headers=headers,
        value=event.model_dump_json().encode(),
    )


def from_record(
    headers: Iterable[tuple[str, bytes | None]],
    value: bytes | None,
    *,
    topic: str | None = None,
) -> Envelope[Message]:
    """Parse a binary-mode CloudEvents Kafka record into an :class:`Envelope`.

    Args:
        headers: the record's headers as aiokafka gives them (name, value) pairs.
        value: the record's value.
        topic: the topic it came from; when given, the type must be allowed there.

    Raises:
        MissingHeader: a required header is absent.
        InvalidHeader: a header is repeated, not UTF-8, or malformed.
        BadSpecVersion: ``ce_specversion`` is not ``1.0``.
        UnknownEventType: ``ce_type`` is not registered.
        WrongTopic: the type is not allowed on ``topic``.
        UnsupportedContentType: ``content-type`` is not ``application/json``.
        InvalidBody: the value does not match the type's model (with every field path).
    """
    attrs = _decode_headers(headers)
    for name in REQUIRED_HEADERS:
        if name not in attrs:
            raise MissingHeader(f"required header {name} is missing", header=name)
    if attrs[H_SPECVERSION] != SPECVERSION:
        raise BadSpecVersion(
            f"ce_specversion must be {SPECVERSION}, got {_shown(attrs[H_SPECVERSION])}",
            header=H_SPECVERSION,
        )
    ce_type = attrs[H_TYPE]
    model = model_for(ce_type)
    if topic is not None:
        check_topic(ce_type, topic)
    if not _JSON_TYPE.match(attrs[H_CONTENT_TYPE]):
        raise UnsupportedContentType(
            f"content-type must be {CONTENT_TYPE} (binary mode), "
            f"got {_shown(attrs[H_CONTENT_TYPE])}",
            header=H_CONTENT_TYPE,
        )
    event_id = _uuid(attrs[H_ID], H_ID, require_v7=True)
    source = attrs[H_SOURCE]
    if not _SOURCE.match(source):
        raise InvalidHeader("ce_source must be a URI-reference of printable ASCII", header=H_SOURCE)
    moment = _time(attrs[H_TIME])
    subject = _uuid(attrs[H_SUBJECT], H_SUBJECT) if H_SUBJECT in attrs else None
    correlation = _token(attrs, H_CORRELATION)
    causation = _token(attrs, H_CAUSATION)
    event = _body(model, ce_type, value)
    return Envelope(
        id=event_id, source=source, type=ce_type, time=moment, subject=subject,
        correlationid=correlation, causationid=causation, event=event,
    )


def expect(envelope: Envelope[Message], model: type[E]) -> Envelope[E]:
    """Narrow an envelope to ``model``; raises :class:`UnknownEventType` on another type."""
    if not isinstance(envelope.event, model):
        raise UnknownEventType(
            f"expected {model.ce_type}, got {envelope.type}", header=H_TYPE
        )
    return Envelope(
        id=envelope.id, source=envelope.source, type=envelope.type, time=envelope.time,
        subject=envelope.subject, correlationid=envelope.correlationid,
        causationid=envelope.causationid, event=envelope.event,
    )


def _decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if not (name.startswith("ce_") or name == H_CONTENT_TYPE):
            continue  # other headers (tracing, DLQ diagnostics) are not CloudEvents attributes
        if raw_value is None:
            continue  # a null header value is an absent attribute
        if name in attrs:
            raise InvalidHeader(f"header {_shown(name)} is repeated", header=name)
        try:
            attrs[name] = bytes(raw_value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidHeader(f"header {_shown(name)} is not UTF-8", header=name) from None
    return attrs


def _uuid(text: str, header: str, *, require_v7: bool = False) -> UUID:
    try:
        parsed = UUID(text)
    except ValueError:
        raise InvalidHeader(f"{header} must be a UUID", header=header) from None
    if len(text) != 36 or (require_v7 and parsed.version != 7):
        raise InvalidHeader(
            f"{header} must be a hyphenated UUID{'v7' if require_v7 else ''}", header=header
        )
    return parsed


def _time(text: str) -> datetime:
    if not _TIME.match(text):
        raise InvalidHeader("ce_time must be RFC 3339 with a time zone", header=H_TIME)
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:59:59-01:00
        raise InvalidHeader("ce_time is not a valid date and time", header=H_TIME) from None


def _token(attrs: dict[str, str], header: str) -> str | None:
    value = attrs.get(header)
    if value is not None and not _TOKEN.match(value):
        raise InvalidHeader(f"{header} must match {_TOKEN.pattern}", header=header)
    return value


def _body(model: type[Message], ce_type: str, value: bytes | None) -> Message:
    if not value:
        raise InvalidBody(ce_type, (("", "the record has no value"),))
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        errors = tuple(
            (_path(err["loc"]), err["msg"])
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidBody(ce_type, errors) from None


def _path(loc: tuple[int | str, ...]) -> str:
    """A dotted field path, printable and bounded (a hostile key must not flood a log)."""
    joined = ".".join(str(part) for part in loc)
    cleaned = "".join(ch if 32 < ord(ch) < 127 else "?" for ch in joined[:128])
    return cleaned + ("..." if len(joined) > 128 else "")
