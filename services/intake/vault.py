"""The identity vault's cipher: AES-256-GCM over the identified block, with key ids for rotation.

Each row stores ``key_id``, a fresh 96-bit nonce and the ciphertext. The situation id is the
associated data, so a ciphertext moved to another row does not decrypt. New rows use the current
key; older key ids stay readable while listed in ``vault_previous_keys``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import CommandeError, ConfigurationError
from schemas.referrals import Subject

DEV_KEY_ID = "dev-local-insecure"
"""The key id of the development key: ONLY for the embedded local stack, never elsewhere."""
_DEV_KEY = hashlib.sha256(b"commande-dev-vault-key/NOT-FOR-PRODUCTION").digest()


class VaultError(CommandeError):
    """A vault row cannot be decrypted (unknown key id, or tampered / moved ciphertext)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """One encrypted identified block."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


def decode_key(text: str, name: str) -> bytes:
    """A base64 32-byte key from a setting; ``name`` is the setting, for the error."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{name} is not valid base64") from None
    if len(raw) != 32:
        raise ConfigurationError(f"{name} must decode to 32 bytes (AES-256), got {len(raw)}")
    return raw


class Vault:
    """Encrypts and decrypts identified blocks; ``keys`` maps key id -> 32-byte key."""

    def __init__(self, current_id: str, keys: Mapping[str, bytes]) -> None:
        if current_id not in keys:
            raise ConfigurationError(f"the current vault key id {current_id!r} has no key")
        self.current_id = current_id
        self._keys = {k: AESGCM(v) for k, v in keys.items()}
        self._raw = dict(keys)

    @classmethod
    def development(cls) -> Vault:
        """The clearly marked development vault (local stack only)."""
        return cls(DEV_KEY_ID, {DEV_KEY_ID: _DEV_KEY})

    def encrypt(self, situation_id: UUID, subject: Subject) -> Sealed:
        """Encrypt ``subject`` for the row of ``situation_id`` with the current key."""
        nonce = os.urandom(12)
        data = subject.model_dump_json().encode()
        aad = situation_id.bytes + self.current_id.encode()
        return Sealed(self.current_id, nonce, self._keys[self.current_id].encrypt(nonce, data, aad))

    def decrypt(self, situation_id: UUID, sealed: Sealed) -> Subject:
        """The identified block of a row; raises :class:`VaultError` if it cannot be read."""
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise VaultError(f"vault key id {sealed.key_id!r} is not configured; add it to "
                             "COMMANDE_VAULT_PREVIOUS_KEYS")
        try:
            data = cipher.decrypt(sealed.nonce, sealed.ciphertext,
                                  situation_id.bytes + sealed.key_id.encode())
        except InvalidTag:
            raise VaultError("a vault row failed authentication (tampered, or not this row's)") from None
        return Subject.model_validate_json(data)

    def encrypt_record(self, context: bytes, row_id: UUID, data: bytes) -> Sealed:
        """Encrypt ``data`` for row ``row_id`` of another kind of record (``context`` names the
        kind, e.g. ``b"event-request-contact"``, so a ciphertext does not open in another table)."""
        nonce = os.urandom(12)
        aad = context + b"/" + row_id.bytes + self.current_id.encode()
        return Sealed(self.current_id, nonce, self._keys[self.current_id].encrypt(nonce, data, aad))

    def decrypt_record(self, context: bytes, row_id: UUID, sealed: Sealed) -> bytes:
        """The clear bytes of a row sealed with :meth:`encrypt_record`."""
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise VaultError(f"vault key id {sealed.key_id!r} is not configured; add it to "
                             "COMMANDE_VAULT_PREVIOUS_KEYS")
        try:
            return cipher.decrypt(sealed.nonce, sealed.ciphertext,
                                  context + b"/" + row_id.bytes + sealed.key_id.encode())
        except InvalidTag:
            raise VaultError("a vault row failed authentication (tampered, or not this row's)") from None

    def fingerprint(self, content: bytes, key_id: str | None = None) -> bytes:
        """A keyed hash of ``content`` for de-duplication (HMAC-SHA256 under a key derived from
        vault key ``key_id``, the current one by default): a guessed identity cannot be checked
        against it without the key."""
        wanted = key_id or self.current_id
        raw = self._raw.get(wanted)
        if raw is None:
            raise VaultError(f"vault key id {wanted!r} is not configured; add it to "
                             "COMMANDE_VAULT_PREVIOUS_KEYS")
        key = hashlib.sha256(b"commande-intake-fingerprint/" + raw).digest()
        return hmac.new(key, content, hashlib.sha256).digest()
