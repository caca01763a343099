"""The identity vault's cipher: AES-256-GCM over the identified block, with key ids for rotation.

Each row stores ``key_id``, a fresh 96-bit nonce and the ciphertext. The situation id is the
associated data, so a ciphertext moved to another row does not decrypt. New rows use the current
key; older key ids stay readable while listed in ``vault_previous_keys``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from uuid import UUID

from schemas.referrals import Subject
from services.runtime.cipher import CipherError, KeyRing, Sealed, decode_key

__all__ = ["DEV_KEY_ID", "CipherError", "Sealed", "Vault", "decode_key"]

DEV_KEY_ID = "dev-local-insecure"
"""The key id of the development key: ONLY for the embedded local stack, never elsewhere."""
_DEV_KEY = hashlib.sha256(b"commande-dev-vault-key/NOT-FOR-PRODUCTION").digest()


class Vault:
    """Encrypts and decrypts identified blocks; ``keys`` maps key id -> 32-byte key.

    Errors are :class:`~services.runtime.cipher.CipherError`.
    """

    def __init__(self, current_id: str, keys: Mapping[str, bytes]) -> None:
        self._ring = KeyRing(current_id, keys, setting="COMMANDE_VAULT_PREVIOUS_KEYS")
        self.current_id = current_id

    @staticmethod
    def is_development_key(key: bytes) -> bool:
        """Whether ``key`` is the development key (production refuses it)."""
        return key == _DEV_KEY

    @classmethod
    def development(cls) -> Vault:
        """The clearly marked development vault (local stack only)."""
        return cls(DEV_KEY_ID, {DEV_KEY_ID: _DEV_KEY})

    def encrypt(self, situation_id: UUID, subject: Subject) -> Sealed:
        """Encrypt ``subject`` for the row of ``situation_id`` with the current key."""
        return self._ring.seal(situation_id, subject.model_dump_json().encode())

    def decrypt(self, situation_id: UUID, sealed: Sealed) -> Subject:
        """The identified block of a row."""
        return Subject.model_validate_json(self._ring.open(situation_id, sealed))

    def encrypt_record(self, context: bytes, row_id: UUID, data: bytes) -> Sealed:
        """Encrypt ``data`` for row ``row_id`` of another kind of record (``context`` names the
        kind, e.g. ``b"event-request-contact"``, so a ciphertext does not open in another table)."""
        return self._ring.seal(row_id, data, context)

    def decrypt_record(self, context: bytes, row_id: UUID, sealed: Sealed) -> bytes:
        """The clear bytes of a row sealed with :meth:`encrypt_record`."""
        return self._ring.open(row_id, sealed, context)

    def fingerprint(self, content: bytes, key_id: str | None = None) -> bytes:
        """A keyed hash of ``content`` for de-duplication (HMAC-SHA256 under a key derived from
        vault key ``key_id``, the current one by default): a guessed identity cannot be checked
        against it without the key."""
        raw = self._ring.key(key_id or self.current_id)
        key = hashlib.sha256(b"commande-intake-fingerprint/" + raw).digest()
        return hmac.new(key, content, hashlib.sha256).digest()
