"""What a dead letter keeps: enough to find and replay a record, never identity in clear.

A record that could not be handled goes to ``commande.dlq.v1`` with its key and ``error``,
``error_consumer``, ``orig_topic``, ``orig_partition``, ``orig_offset``, ``orig_size`` and
``orig_sha256`` headers. Its value depends on where it came from:

* from an unrestricted topic (de-identified by contract): the original bytes, so an operator can
  republish it after a fix;
* from a restricted topic (referrals, event-request submissions, disclosures: they may carry a
  clear subject or a requester's details), never in clear: sealed to the operators' public key
  (``COMMANDE_DLQ_PUBLIC_KEY``, an X25519 key; ``dlq_value: sealed:<key id>``; the sealed box
  holds the original headers and value as JSON, ready to replay), or, without one, a stub (empty
  value, ``dlq_value: stub``) that keeps only the hash and the size. In clear, only the ids and
  type of the record remain (``ce_id``, ``ce_type``, ``ce_specversion``, ``ce_time``, when they
  are short printable ASCII).

A service's own record that was never published is dead-lettered the same way
(:meth:`DeadLetters.unpublished`), with ``orig_partition`` -1: an outbox row Kafka cannot take
(``orig_offset`` its row's ``seq``), and the last ``NoticeFailed`` of a notice notifier gives up
(``orig_offset`` -1; it is published beside its dead letter, with the same ``ce_id``).

A dead letter that would be over Kafka's record limit (an original of nearly 4 MiB plus our
headers) becomes a stub too: a dead letter must always be publishable, or the consumer that
dead-letters it would be stuck.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from nacl.public import PublicKey, SealedBox

from schemas.errors import ConfigurationError
from schemas.topics import DLQ, TOPICS
from services.runtime.kafka import Headers, InRecord, OutRecord, fits

RESTRICTED = frozenset(spec.name for spec in TOPICS if spec.restricted)
KEPT_ATTRIBUTES = frozenset({"ce_id", "ce_type", "ce_specversion", "ce_time"})
_PRINTABLE = re.compile(rb"^[\x21-\x7e]*$")


class DeadLetters:
    """Makes dead letters; holds the operators' public key if there is one."""

    def __init__(self, operator_key_b64: str | None = None) -> None:
        self._box: SealedBox[PublicKey] | None = None
        self._key_id = ""
        if operator_key_b64:
            try:
                raw = base64.b64decode(operator_key_b64, validate=True)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ConfigurationError(
                    "COMMANDE_DLQ_PUBLIC_KEY must be base64 of a 32-byte X25519 public key "
                    "(`commande intake keys generate --agency operators` makes a pair)")
            self._box = SealedBox(PublicKey(raw))
            self._key_id = hashlib.sha256(raw).hexdigest()[:16]

    def record(self, rec: InRecord, reason: str, consumer: str) -> OutRecord:
        """The DLQ copy of ``rec``."""
        ours: Headers = (
            ("error", reason.encode()[:1000]),
            ("error_consumer", consumer.encode()),
            ("orig_topic", rec.topic.encode()),
            ("orig_partition", str(rec.partition).encode()),
            ("orig_offset", str(rec.offset).encode()),
            ("orig_size", str(len(rec.value)).encode()),
            ("orig_sha256", hashlib.sha256(rec.value).hexdigest().encode()),
        )
        kept = _attributes(rec.headers)
        if rec.topic in RESTRICTED:
            if self._box is not None:
                sealed = OutRecord(DLQ.name, self._box.encrypt(original(rec)), rec.key,
                                   kept + ours + (("dlq_value", f"sealed:{self._key_id}".encode()),))
                if fits(sealed):
                    return sealed
            return _stub(rec, kept + ours)
        full = OutRecord(DLQ.name, rec.value, rec.key, rec.headers + ours)
        return full if fits(full) else _stub(rec, kept + ours)

    def unpublished(self, rec: OutRecord, reason: str, consumer: str, *,
                    offset: int = -1) -> OutRecord:
        """The DLQ copy of ``rec``, one of the service's own records that was never published:
        ``orig_partition`` is -1 and ``orig_offset`` is ``offset`` (an outbox row's ``seq``, or
        -1)."""
        return self.record(InRecord(topic=rec.topic, partition=-1, offset=offset, key=rec.key,
                                    value=rec.value, headers=rec.headers), reason, consumer)


def original(rec: InRecord) -> bytes:
    """The original headers and value as JSON (what a sealed dead letter holds)."""
    return json.dumps({
        "headers": [[name, base64.b64encode(value).decode()] for name, value in rec.headers],
        "value": base64.b64encode(rec.value).decode(),
    }).encode()


def _stub(rec: InRecord, headers: Headers) -> OutRecord:
    return OutRecord(DLQ.name, b"", rec.key[:1024] if rec.key else rec.key,
                     (*headers, ("dlq_value", b"stub")))


def _attributes(headers: Headers) -> Headers:
    """The record's ids and type, when they look like ids and types (no payload can hide there)."""
    return tuple((name, value) for name, value in headers
                 if name in KEPT_ATTRIBUTES and len(value) <= 128 and _PRINTABLE.match(value))
