"""Signed link tokens (:mod:`services.runtime.links`): what they carry, what breaks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pydantic import SecretStr

from schemas.errors import ConfigurationError
from services.notifier import tokens
from services.runtime import links

pytestmark = pytest.mark.unit

SECRET = b"synthetic-link-secret-0123456789"
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
REQUEST = UUID("0194a1b2-0000-7000-8000-000000000007")
CONFIRM = "commande.event-request.confirm.v1"


def test_a_token_names_its_record_until_its_expiry_and_nothing_else() -> None:
    token = links.sign(SECRET, CONFIRM, REQUEST, NOW + timedelta(hours=48))
    assert len(token) < 80
    assert links.verify(SECRET, CONFIRM, token, NOW + timedelta(hours=47)) == REQUEST
    with pytest.raises(links.ExpiredToken):
        links.verify(SECRET, CONFIRM, token, NOW + timedelta(hours=48))


def test_another_secret_purpose_or_a_changed_byte_is_refused() -> None:
    token = links.sign(SECRET, CONFIRM, REQUEST, NOW + timedelta(hours=48))
    with pytest.raises(links.TamperedToken):
        links.verify(b"another-secret-0123456789abcdef", CONFIRM, token, NOW)
    with pytest.raises(links.TamperedToken):  # an acknowledgement link does not confirm
        links.verify(SECRET, tokens.PURPOSE, token, NOW)
    head, tail = token.split(".")
    longer = links.sign(SECRET, CONFIRM, REQUEST, NOW + timedelta(days=365)).split(".")[0]
    for forged in (f"{longer}.{tail}", f"{head}.{tail[:-2]}AA", "x" * 300, "no-dot", "a.b.c"):
        with pytest.raises(links.TamperedToken):
            links.verify(SECRET, CONFIRM, forged, NOW)


def test_acknowledgement_tokens_are_the_same_as_before() -> None:
    """Links mailed before the move to :mod:`services.runtime.links` still acknowledge."""
    import base64
    import hashlib
    import hmac

    payload = REQUEST.bytes + int((NOW + timedelta(days=14)).timestamp()).to_bytes(8, "big")
    mac = hmac.new(SECRET, b"commande.notifier.ack.v1|" + payload, hashlib.sha256).digest()
    old = ".".join(base64.urlsafe_b64encode(x).rstrip(b"=").decode() for x in (payload, mac))
    assert tokens.verify(SECRET, old, NOW) == REQUEST
    assert tokens.sign(SECRET, REQUEST, NOW + timedelta(days=14)) == old


def test_the_secret_is_required_outside_development() -> None:
    assert links.secret_setting(None, setting="COMMANDE_X", purpose=CONFIRM,
                                development=True) == links.development_secret(CONFIRM)
    with pytest.raises(ConfigurationError, match="COMMANDE_X"):
        links.secret_setting(None, setting="COMMANDE_X", purpose=CONFIRM, development=False)
    with pytest.raises(ConfigurationError, match="shorter"):
        links.secret_setting(SecretStr("short"), setting="COMMANDE_X", purpose=CONFIRM,
                             development=False)
    assert links.secret_setting(SecretStr(SECRET.decode()), setting="COMMANDE_X",
                                purpose=CONFIRM, development=False) == SECRET
    assert links.secret_refusals("COMMANDE_X", SecretStr("short"), CONFIRM) == [
        "COMMANDE_X is shorter than 16 characters"]
    assert links.secret_refusals("COMMANDE_X", SecretStr(SECRET.decode()), CONFIRM) == []
