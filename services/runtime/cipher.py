"""AES-256-GCM with key ids, for every store that keeps identified data at rest (intake's vault,
notifier's event-request contacts).

Each sealed value carries its ``key_id``, a fresh 96-bit nonce and the ciphertext. The associated
data is ``[context + "/"] + row id + key id``, so a ciphertext moved to another row (or, with a
``context``, to another kind of record) does not open. New values use the current key; older key
ids stay readable while they are in the key ring (rotation).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import CommandeError, ConfigurationError


class CipherError(CommandeError):
    """A sealed value cannot be opened (its key id is not configured, or it was tampered with or
    moved to another row)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """One encrypted value."""

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


class KeyRing:
    """Seals with the current key and opens with any configured one.

    Args:
        current_id: the id new values are sealed under.
        keys: key id -> 32-byte key (the current one included).
        setting: where older keys are configured, named in the error for an unknown key id.
    """

    def __init__(self, current_id: str, keys: Mapping[str, bytes], *, setting: str) -> None:
        if current_id not in keys:
            raise ConfigurationError(f"the current key id {current_id!r} has no key")
        if any(len(k) != 32 for k in keys.values()):
            raise ConfigurationError("every key must be 32 bytes (AES-256)")
        self.current_id = current_id
        self._raw = dict(keys)
        self._ciphers = {k: AESGCM(v) for k, v in keys.items()}
        self._setting = setting

    def seal(self, row: UUID, data: bytes, context: bytes = b"") -> Sealed:
        """Encrypt ``data`` for ``row`` (and ``context``) with the current key."""
        nonce = os.urandom(12)
        aad = _aad(context, row, self.current_id)
        return Sealed(self.current_id, nonce,
                      self._ciphers[self.current_id].encrypt(nonce, data, aad))

    def open(self, row: UUID, sealed: Sealed, context: bytes = b"") -> bytes:
        """The clear bytes of ``sealed``; raises :class:`CipherError` if it cannot be opened."""
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise CipherError(f"key id {sealed.key_id!r} is not configured; add it to "
                              f"{self._setting}")
        try:
            return cipher.decrypt(sealed.nonce, sealed.ciphertext,
                                  _aad(context, row, sealed.key_id))
        except InvalidTag:
            raise CipherError("a sealed value failed authentication (tampered with, or not "
                              "this row's)") from None

    def key(self, key_id: str) -> bytes:
        """The raw key ``key_id`` (to derive other keys from); :class:`CipherError` if unknown."""
        raw = self._raw.get(key_id)
        if raw is None:
            raise CipherError(f"key id {key_id!r} is not configured; add it to {self._setting}")
        return raw


def _aad(context: bytes, row: UUID, key_id: str) -> bytes:
    return (context + b"/" if context else b"") + row.bytes + key_id.encode()
