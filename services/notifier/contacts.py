"""Notifier's cipher for what identifies a requester of a community event request.

The submission (name, addresses, phone, e-mail) and every rendered notice about a request are
stored encrypted with AES-256-GCM: a fresh 96-bit nonce per value, and the row's id (request id or
notice id) with the key id as associated data, so a ciphertext moved to another row does not
decrypt. The key comes from ``COMMANDE_NOTIFIER_CONTACT_KEY``; on the embedded local stack only, a
clearly marked development key is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from schemas.errors import ConfigurationError
from schemas.event_requests import EventRequestSubmitted
from services.runtime.cipher import CipherError, KeyRing, Sealed, decode_key

__all__ = ["DEV_KEY_ID", "CipherError", "ContactBox", "Sealed"]

DEV_KEY_ID = "dev-local-insecure"
"""The development key's id: ONLY for the embedded local stack."""
_DEV_KEY = hashlib.sha256(b"commande-dev-notifier-contact-key/NOT-FOR-PRODUCTION").digest()
_SETTING = "COMMANDE_NOTIFIER_CONTACT_KEY"
_PREVIOUS = "COMMANDE_NOTIFIER_CONTACT_PREVIOUS_KEYS"


class ContactBox:
    """Seals and opens submissions and notice payloads under one key.

    Errors are :class:`~services.runtime.cipher.CipherError`.
    """

    def __init__(self, key_id: str, key: bytes, previous: Mapping[str, bytes] | None = None) -> None:
        if len(key) != 32:
            raise ConfigurationError(f"{_SETTING} must be 32 bytes (AES-256)")
        self._ring = KeyRing(key_id, {**(previous or {}), key_id: key},
                             setting=f"{_SETTING} or {_PREVIOUS}")

    @staticmethod
    def is_development_key(text: str) -> bool:
        """Whether the base64 key ``text`` is the development key (production refuses it)."""
        try:
            return decode_key(text, _SETTING) == _DEV_KEY
        except ConfigurationError:
            return False

    @classmethod
    def development(cls) -> ContactBox:
        """The clearly marked development box (local stack only)."""
        return cls(DEV_KEY_ID, _DEV_KEY)

    @classmethod
    def from_settings(cls, key_id: str, text: str,
                      previous: Mapping[str, str] | None = None) -> ContactBox:
        """From the base64 32-byte key settings: the current key and older ones (rotation)."""
        return cls(key_id, decode_key(text, _SETTING),
                   {kid: decode_key(k, f"{_PREVIOUS}[{kid}]")
                    for kid, k in (previous or {}).items()})

    def seal(self, row: UUID, data: bytes) -> Sealed:
        """Encrypt ``data`` for the row ``row``."""
        return self._ring.seal(row, data)

    def open(self, row: UUID, sealed: Sealed) -> bytes:
        """The plaintext of ``sealed``; raises :class:`CipherError`."""
        return self._ring.open(row, sealed)

    def seal_submission(self, submission: EventRequestSubmitted) -> Sealed:
        """The submission, sealed for its request's row."""
        return self.seal(submission.request_id, submission.model_dump_json().encode())

    def open_submission(self, request_id: UUID, sealed: Sealed) -> EventRequestSubmitted:
        """The submission of ``request_id``."""
        return EventRequestSubmitted.model_validate_json(self.open(request_id, sealed))

    def seal_payload(self, notice: UUID, payload: dict[str, Any]) -> dict[str, Any]:
        """A notice payload as stored: ``{"sealed": {...}}`` (JSON-safe)."""
        box = self.seal(notice, json.dumps(payload).encode())
        return {"sealed": {"key_id": box.key_id, "nonce": base64.b64encode(box.nonce).decode(),
                           "ciphertext": base64.b64encode(box.ciphertext).decode()}}

    def open_payload(self, notice: UUID, stored: dict[str, Any]) -> dict[str, Any]:
        """The payload of a notice (as it was before :meth:`seal_payload`); plain ones as-is."""
        box = stored.get("sealed")
        if not isinstance(box, dict):
            return stored
        opened = json.loads(self.open(notice, Sealed(
            str(box["key_id"]), base64.b64decode(box["nonce"]),
            base64.b64decode(box["ciphertext"]))))
        if not isinstance(opened, dict):
            raise CipherError("a sealed notice payload is not an object")
        return opened
