"""Ed25519 signing keys (PyNaCl ``nacl.signing``) and intake's signature of disclosure packages.

The bytes signed are defined once in :mod:`schemas.signing`; this module holds what is intake's
and the partners' own: key files and settings, the synthetic development keys, and signing and
verifying a :class:`~schemas.disclosures.DisclosureSealed` against the directory's
``intake.signing_key`` (with the previous keys of a rotation).
"""

from __future__ import annotations

import base64
import hashlib

from nacl.signing import SigningKey, VerifyKey

from directory import Directory
from schemas.disclosures import DisclosureSealed
from schemas.errors import ConfigurationError
from schemas.signing import (
    SignatureError,
    decode_signature,
    disclosure_signing_bytes,
    key_id,
    key_to_b64,
    signing_key_from_b64,
    verifies,
    verify_key_from_b64,
)

DEV_SIGNING_SEED_PREFIX = b"commande-synthetic-signing-key/"
"""Test signing keys (deploy/directory/halton.yaml header): seed = sha256(prefix + agency id)."""


class UnsignedPackage(SignatureError):
    """A disclosure package intake did not sign (no signature, or one that does not verify)."""


def development_signing_key(name: str) -> SigningKey:
    """The synthetic TEST signing key of ``name`` (an agency id, or ``intake``): development
    (``COMMANDE_ENV=development``) and tests only."""
    return SigningKey(hashlib.sha256(DEV_SIGNING_SEED_PREFIX + name.encode()).digest())


def signing_key_setting(text: str, name: str) -> SigningKey:
    """A signing key from a setting or a key file's text; a :class:`ConfigurationError` naming
    ``name`` when it is not base64 of a 32-byte seed."""
    try:
        return signing_key_from_b64(text, name)
    except SignatureError as exc:
        raise ConfigurationError(f"{exc}; `commande intake keys generate` makes a key pair"
                                 ) from None


def intake_verify_keys(directory: Directory) -> tuple[VerifyKey, ...]:
    """intake's public signing keys from the directory: the current one, then previous ones."""
    return tuple(verify_key_from_b64(k, "intake.signing_key")
                 for k in directory.intake.all_signing_keys())


def sign_disclosure(event: DisclosureSealed, key: SigningKey) -> DisclosureSealed:
    """``event`` with intake's signature and the id of the key that made it."""
    unsigned = event.model_copy(update={"signature": None, "signing_key_id": None})
    signature = key.sign(disclosure_signing_bytes(unsigned)).signature
    return DisclosureSealed.model_validate({
        **unsigned.model_dump(), "signature": base64.b64encode(signature).decode(),
        "signing_key_id": key_id(key.verify_key)})


def verify_disclosure(event: DisclosureSealed, keys: tuple[VerifyKey, ...]) -> str:
    """The id of the intake key that signed ``event``.

    Raises:
        UnsignedPackage: there is no signature, or it does not verify under any of ``keys`` (the
            package, its audit fields or its ciphertext were made or changed by someone else).
    """
    if event.signature is None:
        raise UnsignedPackage(
            "this disclosure package carries no signature of intake: it did not come from "
            "intake, so it is not opened; ask the district's CMB for the package intake sent")
    try:
        signature = decode_signature(event.signature)
    except SignatureError:
        raise UnsignedPackage("this disclosure package's signature is malformed; it is not "
                              "opened") from None
    found = verifies(disclosure_signing_bytes(event), signature, keys)
    if found is None:
        raise UnsignedPackage(
            "this disclosure package is not signed by intake's key in the directory (or its "
            "recipient, fields or ciphertext were changed after signing): it is not opened; "
            "check that the directory's intake.signing_key is current, and otherwise report the "
            "package to the district's CMB")
    return key_id(found)


__all__ = [
    "DEV_SIGNING_SEED_PREFIX", "UnsignedPackage", "development_signing_key", "intake_verify_keys",
    "key_to_b64", "sign_disclosure", "signing_key_setting", "verify_disclosure",
]
