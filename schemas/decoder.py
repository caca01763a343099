"""A fast path for :func:`schemas.envelope.from_record`, for a reader that decodes a whole topic.

:meth:`Decoder.decode` gives the same envelope as ``from_record(headers, value, topic=topic)``,
and refuses what it refuses with the same error, at about half the cost. It handles the shape
:func:`~schemas.envelope.to_record` writes (the CloudEvents headers in lower case, each once,
hyphenated lower-case UUIDs, ``application/json``) with cheaper checks of the same rules: the
type and topic from one dictionary built once, ``ce_source`` and ``ce_subject`` values checked
once and remembered, ``ce_id`` by one pattern that admits only UUIDv7. Anything else, and every
record it would refuse, goes to ``from_record`` itself, so the errors (and the counts of a replay
by error class) are exactly those of the full path. The body is always validated by its type's
contract model (pydantic's JSON mode): no event is constructed without its contract checks.

A decoder may also be told which types its reader folds (``wanted``): a record of another type
allowed on the topic, with well-formed headers, is then *skipped* (``None``) without decoding its
body, which is most of the cost of a record.

:meth:`Decoder.fact` is the replay's cheaper form: after the same checks it gives only what a fold
reads (:class:`Fact`: the subject, the type and the event), without building the envelope's id and
time, and the event of a type with a view (:data:`schemas.views.VIEWS`) is that view, decoded by
msgspec; a body the view does not accept is validated by its contract model, which accepts it or
refuses it with its own error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple
from uuid import UUID

from pydantic import ValidationError

from schemas.base import Message
from schemas.envelope import (
    CONTENT_TYPE,
    H_CAUSATION,
    H_CONTENT_TYPE,
    H_CORRELATION,
    H_ID,
    H_SOURCE,
    H_SPECVERSION,
    H_SUBJECT,
    H_TIME,
    H_TYPE,
    REQUIRED_HEADERS,
    SPECVERSION,
    Envelope,
    from_record,
)
from schemas.registry import BY_TYPE, TYPES_BY_TOPIC
from schemas.views import View, reader

Headers = Iterable[tuple[str, bytes | None]]

_KNOWN: Final = frozenset((*REQUIRED_HEADERS, H_SUBJECT, H_CORRELATION, H_CAUSATION))
"""The only header names the fast path handles (the shape ``to_record`` writes)."""
_REQUIRED: Final = frozenset(REQUIRED_HEADERS)
_LAYOUT: Final = (*REQUIRED_HEADERS, H_SUBJECT)
"""The headers ``to_record`` writes for an event with a subject and no tracing ids, in order."""
_TRACED: Final = (*_LAYOUT, H_CORRELATION, H_CAUSATION)
"""... and with both tracing ids, as the services' outboxes write them."""
_SPECVERSION: Final = SPECVERSION.encode()
_CONTENT_TYPE: Final = CONTENT_TYPE.encode()
_UUID7: Final = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
"""A hyphenated lower-case UUIDv7 (version nibble 7, RFC 4122 variant): a strict subset of what
``from_record`` accepts for ``ce_id``."""
_UUID: Final = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME: Final = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
"""RFC 3339 in UTC as ``format_time`` writes it (a subset of what ``from_record`` accepts)."""
_STRICT_TIME: Final = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z")
"""``_TIME`` with hours, minutes and seconds in range: with a valid date, ``datetime.fromisoformat``
reads it (so :meth:`Decoder.fact` need not)."""
_SOURCE: Final = re.compile(rb"[\x21-\x7e]{1,256}")
_TOKEN: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_REMEMBERED: Final = 1 << 20
"""At most this many ``ce_subject`` values are remembered (about 100 MB); then the memory starts
over (a replay of more situations only decodes their subjects again)."""


class Fact(NamedTuple):
    """What a fold reads of a record: the envelope's subject and type, and the event."""

    subject: UUID | None
    type: str
    event: Message | View


class Decoder:
    """Decodes the records of one topic: :func:`~schemas.envelope.from_record`, made cheap.

    Args:
        topic: the registry topic the records come from (``None``: any registered type).
        wanted: the ``ce_type`` values the reader folds; records of the topic's other types
            are skipped (``None`` from :meth:`decode`) before their body is decoded. ``None``:
            every type is decoded.
    """

    def __init__(self, topic: str | None, wanted: Iterable[str] | None = None) -> None:
        allowed = TYPES_BY_TOPIC.get(topic, frozenset()) if topic is not None else frozenset(BY_TYPE)
        folded = allowed if wanted is None else allowed & frozenset(wanted)
        self._topic = topic
        self._wanted = None if wanted is None else frozenset(wanted)
        self._decoded: dict[bytes, tuple[str, Callable[[bytes], Any]]] = {
            t.encode(): (t, BY_TYPE[t].__pydantic_validator__.validate_json) for t in folded}
        self._skipped = frozenset(t.encode() for t in allowed - folded)
        self._facts = {raw: (t, validate, reader(t)) for raw, (t, validate) in self._decoded.items()}
        self._sources: dict[bytes, str] = {}
        self._subjects: dict[bytes, UUID] = {}
        self._dates: set[bytes] = set()

    def decode(self, headers: Headers, value: bytes | None) -> Envelope[Message] | None:
        """The envelope of a record, or ``None`` for a record of a type not ``wanted``.

        Raises:
            ContractError: exactly as :func:`~schemas.envelope.from_record` (it raises them).
        """
        pairs = headers if isinstance(headers, (list, tuple)) else list(headers)
        try:
            attrs: dict[str, bytes | None] = dict(pairs)
            fast = len(attrs) == len(pairs) and _REQUIRED <= attrs.keys() <= _KNOWN
        except (TypeError, ValueError):
            fast = False
        if fast:
            try:
                return self._fast(attrs, value)
            except (_Uncommon, AttributeError, TypeError, ValueError, ValidationError):
                pass  # refused, or not the common shape: the full path decides, and says why
        envelope = from_record(pairs, value, topic=self._topic)
        if self._wanted is not None and envelope.type not in self._wanted:
            return None
        return envelope

    def fact(self, headers: Headers, value: bytes | None) -> Fact | None:
        """What a fold reads of a record, or ``None`` for a record of a type not ``wanted``.

        Accepts and refuses exactly what :meth:`decode` does; the event is the type's view
        when it has one and the view accepts the body, else the contract model.

        Raises:
            ContractError: exactly as :func:`~schemas.envelope.from_record` (it raises them).
        """
        pairs = headers if isinstance(headers, (list, tuple)) else list(headers)
        try:
            # The layouts to_record writes (7 headers, or 9 with both tracing ids) unpacked in
            # place; any other shape through a dict, to the same checks.
            count = len(pairs)
            correlation = causation = None
            if count == 7:
                ((n0, spec), (n1, raw_id), (n2, raw_source), (n3, raw_type), (n4, raw_time),
                 (n5, content), (n6, raw_subject)) = pairs
                common = (n0, n1, n2, n3, n4, n5, n6) == _LAYOUT and raw_subject is not None
            elif count == 9:
                ((n0, spec), (n1, raw_id), (n2, raw_source), (n3, raw_type), (n4, raw_time),
                 (n5, content), (n6, raw_subject), (n7, correlation), (n8, causation)) = pairs
                common = ((n0, n1, n2, n3, n4, n5, n6, n7, n8) == _TRACED
                          and raw_subject is not None and correlation is not None
                          and causation is not None)
            else:
                common = False
            if not common:
                attrs: dict[str, bytes | None] = dict(pairs)
                if not (len(attrs) == count and _REQUIRED <= attrs.keys() <= _KNOWN
                        and attrs.get(H_SUBJECT, b"") is not None):
                    raise _Uncommon
                spec, raw_id, raw_source = attrs[H_SPECVERSION], attrs[H_ID], attrs[H_SOURCE]
                raw_type, raw_time = attrs[H_TYPE], attrs[H_TIME]
                content, raw_subject = attrs[H_CONTENT_TYPE], attrs.get(H_SUBJECT)
                correlation, causation = attrs.get(H_CORRELATION), attrs.get(H_CAUSATION)
            # The checks of _fast (raw_subject None: no ce_subject), without building the id
            # and the time; _Uncommon (or a check's error) when the full path must decide.
            if (raw_type is None or spec != _SPECVERSION or content != _CONTENT_TYPE
                    or raw_id is None or raw_time is None or _UUID7.fullmatch(raw_id) is None
                    or _STRICT_TIME.fullmatch(raw_time) is None
                    or not (raw_time[:10] in self._dates or self._date(raw_time[:10]))
                    or (raw_source not in self._sources and self._source(raw_source) is None)):
                raise _Uncommon
            subject: UUID | None = None
            if raw_subject is not None:
                subject = self._subjects.get(raw_subject) or self._subject(raw_subject)
                if subject is None:
                    raise _Uncommon
            if correlation is not None:
                _token(correlation)
            if causation is not None:
                _token(causation)
            found = self._facts.get(raw_type)
            if found is None:
                if raw_type in self._skipped:
                    return None
                raise _Uncommon
            if not value:
                raise _Uncommon
            ce_type, validate, read = found
            event = read(value) if read is not None else None
            return Fact(subject, ce_type, event if event is not None else validate(value))
        except (_Uncommon, AttributeError, TypeError, ValueError, ValidationError):
            pass  # refused, or not the common shape: the full path decides, and says why
        envelope = from_record(pairs, value, topic=self._topic)
        if self._wanted is not None and envelope.type not in self._wanted:
            return None
        return Fact(envelope.subject, envelope.type, envelope.event)

    def _date(self, raw: bytes) -> bool:
        """Whether ``YYYY-MM-DD`` (already pattern-checked) is a date (remembered)."""
        if raw in self._dates:
            return True
        try:
            date.fromisoformat(raw.decode())
        except ValueError:
            return False
        if len(self._dates) >= _REMEMBERED:
            self._dates.clear()
        self._dates.add(raw)
        return True

    def _fast(self, attrs: dict[str, bytes | None], value: bytes | None) -> Envelope[Message] | None:
        """The envelope, or ``None`` (skipped); :class:`_Uncommon` when the full path must decide."""
        raw_type = attrs[H_TYPE]
        if attrs[H_SPECVERSION] != _SPECVERSION or attrs[H_CONTENT_TYPE] != _CONTENT_TYPE:
            raise _Uncommon
        raw_id, raw_time = attrs[H_ID], attrs[H_TIME]
        if (raw_id is None or raw_time is None or _UUID7.fullmatch(raw_id) is None
                or _TIME.fullmatch(raw_time) is None):
            raise _Uncommon
        source = self._source(attrs[H_SOURCE])
        if source is None:
            raise _Uncommon
        subject: UUID | None = None
        if H_SUBJECT in attrs:
            subject = self._subject(attrs[H_SUBJECT])
            if subject is None:
                raise _Uncommon
        correlation = _token(attrs.get(H_CORRELATION))
        causation = _token(attrs.get(H_CAUSATION))
        # Before a type not wanted is skipped: a date that does not exist (2026-02-30) is
        # InvalidHeader for every type, as from_record says.
        moment = datetime.fromisoformat(raw_time.decode()).astimezone(UTC)
        found = self._decoded.get(raw_type) if raw_type is not None else None
        if found is None:
            if raw_type in self._skipped:
                return None
            raise _Uncommon
        if not value:
            raise _Uncommon
        ce_type, validate = found
        event: Message = validate(value)
        return Envelope(
            id=UUID(raw_id.decode()), source=source, type=ce_type, time=moment, subject=subject,
            correlationid=correlation, causationid=causation, event=event,
        )

    def _source(self, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        source = self._sources.get(raw)
        if source is None and _SOURCE.fullmatch(raw) is not None and len(self._sources) < 4096:
            source = self._sources[raw] = raw.decode()
        return source

    def _subject(self, raw: bytes | None) -> UUID | None:
        if raw is None:
            return None
        subject = self._subjects.get(raw)
        if subject is None and _UUID.fullmatch(raw) is not None:
            if len(self._subjects) >= _REMEMBERED:
                self._subjects.clear()
            subject = self._subjects[raw] = UUID(raw.decode())
        return subject


class _Uncommon(Exception):
    """Not the shape the fast path handles (or a record it would refuse): ``from_record`` decides."""


def _token(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    if _TOKEN.fullmatch(raw) is None:
        raise _Uncommon
    return raw.decode()
