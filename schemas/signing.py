"""Detached Ed25519 signatures: the exact bytes a signer signs, defined once.

Two things are signed where a topic ACL cannot bind content to its author:

* **a referral record** on ``commande.referrals.v1`` (``ReferralSubmitted``,
  ``ReferralWithdrawn``), by the submitting agency's signing key (or by intake's, for a referral
  its HTTP ingress received). The signature travels in the CloudEvents extension header
  ``ce_signature`` (attribute ``signature``: base64 of the 64-byte signature) and covers
  :func:`record_signing_bytes`: the attributes that identify the event, the record key and the
  value, byte for byte as published;
* **a disclosure package** (``DisclosureSealed``), by intake. ``signature`` in the event covers
  :func:`disclosure_signing_bytes`: the sealed ciphertext and the whole audit record (situation,
  recipient, recipient key, fields, legal basis, stage, purpose, time), so a package cannot be
  re-addressed or re-described without the signature failing.

The canonical form is a version tag followed by parts, each written as its length (4 bytes,
big-endian, unsigned) then its bytes; the tag is written the same way. Nothing is re-encoded:
a referral's parts are the header values and the key and value exactly as sent, so a partner in
any language can reproduce them (docs/partners.md shows it in Python)::

    tag    = b"commande.referral-signature.v1"
    parts  = [ce_id, ce_source, ce_type, ce_time, key, value]       # bytes as on the record
    signed = b"".join(len(p).to_bytes(4, "big") + p for p in [tag, *parts])

Keys are raw 32-byte Ed25519 seeds (private) and 32-byte verify keys (public), base64 in files,
settings and the directory. Nothing here touches the disk or the network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from schemas.disclosures import DisclosureSealed
from schemas.envelope import H_ID, H_SOURCE, H_TIME, H_TYPE, Record, format_time
from schemas.errors import ContractError

H_SIGNATURE: Final = "ce_signature"
"""The CloudEvents extension header carrying a referral record's signature (base64)."""
REFERRAL_TAG: Final = b"commande.referral-signature.v1"
DISCLOSURE_TAG: Final = b"commande.disclosure-signature.v1"
SIGNED_ATTRIBUTES: Final = (H_ID, H_SOURCE, H_TYPE, H_TIME)
"""The record headers a referral signature covers, in this order (then the key, the value)."""
SIGNATURE_BYTES: Final = 64


class SignatureError(ContractError):
    """A signature or a signing key is missing, malformed or does not verify."""


def canonical(tag: bytes, parts: Sequence[bytes]) -> bytes:
    """``tag`` and ``parts``, each prefixed by its length as 4 bytes big-endian."""
    out = bytearray()
    for part in (tag, *parts):
        if len(part) >= 1 << 32:
            raise SignatureError("a signed part is larger than 4 GiB")
        out += len(part).to_bytes(4, "big") + part
    return bytes(out)


def record_signing_bytes(headers: Iterable[tuple[str, bytes | None]], key: bytes | None,
                         value: bytes | None) -> bytes:
    """What a referral record's signature covers (see the module docstring).

    Raises:
        SignatureError: a signed attribute is missing or repeated.
    """
    found: dict[str, bytes] = {}
    for name, raw in headers:
        lowered = name.lower()
        if lowered in SIGNED_ATTRIBUTES and raw is not None:
            if lowered in found:
                raise SignatureError(f"header {lowered} is repeated")
            found[lowered] = bytes(raw)
    missing = [name for name in SIGNED_ATTRIBUTES if name not in found]
    if missing:
        raise SignatureError(f"a signed record needs the headers {', '.join(missing)}")
    return canonical(REFERRAL_TAG, [*(found[name] for name in SIGNED_ATTRIBUTES),
                                    key or b"", value or b""])


def signature_header(headers: Iterable[tuple[str, bytes | None]]) -> bytes | None:
    """The decoded ``ce_signature`` of a record, or ``None`` when it has none.

    Raises:
        SignatureError: the header is repeated, not base64, or not 64 bytes.
    """
    values = [raw for name, raw in headers if name.lower() == H_SIGNATURE and raw]
    if not values:
        return None
    if len(values) > 1:
        raise SignatureError(f"header {H_SIGNATURE} is repeated")
    return decode_signature(bytes(values[0]))


def decode_signature(text: bytes | str) -> bytes:
    """A base64 signature's 64 bytes; :class:`SignatureError` if it is anything else."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature is not valid base64") from None
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureError(f"an Ed25519 signature has {SIGNATURE_BYTES} bytes, this one {len(raw)}")
    return raw


def sign_record(record: Record, key: SigningKey) -> Record:
    """``record`` with a ``ce_signature`` header made with ``key`` (any previous one replaced)."""
    headers = [(n, v) for n, v in record.headers if n.lower() != H_SIGNATURE]
    signature = key.sign(record_signing_bytes(headers, record.key, record.value)).signature
    headers.append((H_SIGNATURE, base64.b64encode(signature)))
    return Record(topic=record.topic, key=record.key, headers=headers, value=record.value)


def verifies(message: bytes, signature: bytes, keys: Iterable[VerifyKey]) -> VerifyKey | None:
    """The first of ``keys`` under which ``signature`` is valid for ``message``, or ``None``."""
    for key in keys:
        try:
            key.verify(message, signature)
        except BadSignatureError:
            continue
        return key
    return None


def disclosure_signing_bytes(event: DisclosureSealed) -> bytes:
    """What intake's signature of a disclosure package covers: every field but the signature
    and the signing key id, in a fixed order (the field list as its count then each path)."""
    parts = [str(event.situation_id), str(event.disclosure_id), event.disclosing_agency,
             event.recipient_agency, event.recipient_key_id, str(len(event.fields)),
             *event.fields, event.legal_basis, str(event.filter_stage), event.purpose,
             format_time(event.sealed_at), event.ciphertext]
    return canonical(DISCLOSURE_TAG, [p.encode() for p in parts])


def verify_key_from_b64(text: str, what: str = "signing key") -> VerifyKey:
    """An Ed25519 public (verify) key from base64, as in the directory."""
    return VerifyKey(_raw32(text, what))


def signing_key_from_b64(text: str, what: str = "signing key") -> SigningKey:
    """An Ed25519 private key (its 32-byte seed) from base64, as in a key file or a setting."""
    return SigningKey(_raw32(text.strip(), what))


def key_to_b64(key: SigningKey | VerifyKey) -> str:
    """Base64 of a private key's seed, or of a public key."""
    return base64.b64encode(bytes(key)).decode()


def key_id(key: VerifyKey | bytes) -> str:
    """Hex fingerprint of a public key (first 16 bytes of its SHA-256): 32 hex characters."""
    return hashlib.sha256(bytes(key)).hexdigest()[:32]


def _raw32(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise SignatureError(f"{what} must decode to 32 bytes (Ed25519), got {len(raw)}")
    return raw
