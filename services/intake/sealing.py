"""libsodium sealed boxes (PyNaCl): identity in, to intake; minimum necessary fields out, per agency.

* A partner may seal its ``subject`` to intake's public key (``sealed_subject``); intake opens it
  with its private key.
* For a Filter 3/4 disclosure intake picks only the fields a role may see (an allow-list per role)
  and seals them to the recipient agency's public key from the directory. Only that agency's
  private key opens the package; another key fails with :class:`WrongKey`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from pydantic import ValidationError

from schemas.errors import CommandeError, ConfigurationError
from schemas.referrals import Subject

DEV_SEED_PREFIX = b"commande-synthetic-test-key/"
"""Test key pairs (deploy/directory/halton.yaml header): private = sha256(prefix + agency id)."""
INTAKE_KEY_NAME = "intake"

ALL_FIELDS: tuple[str, ...] = (
    "subject.people.given_name", "subject.people.family_name", "subject.people.date_of_birth",
    "subject.people.phone", "subject.address", "subject.location_description",
    "subject.languages", "subject.safety_notes",
)


class SealingError(CommandeError):
    """A sealed box cannot be made or opened."""


class WrongKey(SealingError):
    """The package was not sealed for this private key (or was altered)."""


def key_id(public_key: PublicKey | bytes) -> str:
    """Hex fingerprint of a public key (first 16 bytes of its SHA-256): 32 hex characters."""
    raw = bytes(public_key)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_key_from_b64(text: str) -> PublicKey:
    """An X25519 public key from base64 (as in the directory)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealingError("the public key is not valid base64") from None
    if len(raw) != 32:
        raise SealingError(f"an X25519 public key has 32 bytes, this one {len(raw)}")
    return PublicKey(raw)


def private_key_from_b64(text: str, name: str = "private key") -> PrivateKey:
    """An X25519 private key from base64 (a setting or a key file)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{name} is not valid base64") from None
    if len(raw) != 32:
        raise ConfigurationError(f"{name} must decode to 32 bytes (X25519), got {len(raw)}")
    return PrivateKey(raw)


def development_private_key(name: str) -> PrivateKey:
    """The synthetic test key of ``name`` (an agency id, or ``intake``). Local stack and tests only."""
    return PrivateKey(hashlib.sha256(DEV_SEED_PREFIX + name.encode()).digest())


def private_key_to_b64(key: PrivateKey) -> str:
    """Base64 of a private key (for a key file)."""
    return base64.b64encode(bytes(key)).decode()


def public_key_to_b64(key: PublicKey) -> str:
    """Base64 of a public key (for the directory)."""
    return base64.b64encode(bytes(key)).decode()


def seal(payload: bytes, public_key: PublicKey) -> str:
    """``payload`` in a sealed box for ``public_key``, base64."""
    return base64.b64encode(SealedBox(public_key).encrypt(payload)).decode()


def open_sealed(ciphertext_b64: str, private_key: PrivateKey) -> bytes:
    """Open a sealed box; raises :class:`WrongKey` when it was sealed for another key."""
    try:
        raw = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SealingError("the ciphertext is not valid base64") from None
    try:
        return SealedBox(private_key).decrypt(raw)
    except CryptoError:
        raise WrongKey(
            "this package was not sealed for this key (key id "
            f"{key_id(private_key.public_key)}): open it with the private key of the recipient "
            "agency named in the disclosure"
        ) from None


def seal_subject(subject: Subject, intake_public_key: PublicKey) -> str:
    """What a partner (``commande submit``) puts in ``sealed_subject``."""
    return seal(subject.model_dump_json().encode(), intake_public_key)


def open_subject(sealed_subject: str, intake_private_key: PrivateKey) -> Subject:
    """The :class:`Subject` inside ``sealed_subject``; :class:`SealingError` if unreadable."""
    data = open_sealed(sealed_subject, intake_private_key)
    try:
        return Subject.model_validate_json(data)
    except ValidationError as exc:
        paths = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise SealingError(f"the sealed subject is not a valid subject block ({', '.join(paths)})"
                           ) from None


def select_fields(subject: Subject, allowed: Iterable[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The fields of ``subject`` a role may see, and those that are present.

    Returns:
        ``(fields, package)``: the dotted names disclosed (present and allowed, in
        :data:`ALL_FIELDS` order) and the JSON-ready package with only those fields.
    """
    wanted = set(allowed)
    fields: list[str] = []
    package: dict[str, Any] = {}
    person_fields = [f.rsplit(".", 1)[1] for f in ALL_FIELDS
                     if f.startswith("subject.people.") and f in wanted]
    people = []
    for person in subject.people:
        shown = {k: v for k, v in person.model_dump(mode="json").items()
                 if k in person_fields and v is not None}
        people.append(shown)
    for name in person_fields:
        if any(name in p for p in people):
            fields.append(f"subject.people.{name}")
    if fields:
        package["people"] = people
    for name in ("address", "location_description", "languages", "safety_notes"):
        dotted = f"subject.{name}"
        value = getattr(subject, name)
        if dotted in wanted and value:
            package[name] = list(value) if isinstance(value, tuple) else value
            fields.append(dotted)
    order = {f: i for i, f in enumerate(ALL_FIELDS)}
    return tuple(sorted(fields, key=order.__getitem__)), package


def disclosure_package(situation_id: str, disclosure_id: str, recipient: str, role: str,
                       legal_basis: str, package: Mapping[str, Any]) -> bytes:
    """The plaintext of a disclosure: ids for the recipient's records, then the fields."""
    return json.dumps({
        "situation_id": situation_id, "disclosure_id": disclosure_id,
        "recipient_agency": recipient, "role": role, "legal_basis": legal_basis,
        "subject": dict(package),
    }, sort_keys=True).encode()
