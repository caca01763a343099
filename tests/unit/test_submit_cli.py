"""``commande submit``: which signing key it uses, and which answer it believes (no stack needed)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from nacl.signing import SigningKey

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.errors import ConfigurationError
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.signing import key_to_b64
from services.cli.submit_cmd import is_answer, signing_key_for
from services.intake.signing import development_signing_key
from services.runtime.settings import Settings
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.unit

SENT = "0194a1b2-0000-7000-8000-0000000000c1"
REFERRAL = sample(ReferralSubmitted)


def envelope(event: Message, *, source: str = "/commande/intake",
             causation: str | None = SENT) -> Envelope[Message]:
    return Envelope(id=UUID("0194a1b2-0000-7000-8000-0000000000c2"), source=source,
                    type=event.ce_type, time=NOW, subject=None, correlationid=None,
                    causationid=causation, event=event)


def test_only_intakes_answer_to_this_very_record_counts() -> None:
    accepted = sample(ReferralAccepted)
    assert accepted.key() == REFERRAL.key()
    assert is_answer(envelope(accepted), REFERRAL, SENT)
    assert is_answer(envelope(sample(ReferralRejected)), REFERRAL, SENT)
    assert not is_answer(envelope(accepted, source="/partners/housing-services"), REFERRAL, SENT)
    assert not is_answer(envelope(accepted, source="/commande/convening"), REFERRAL, SENT)
    assert not is_answer(envelope(accepted, causation=None), REFERRAL, SENT)
    assert not is_answer(envelope(accepted, causation="0194a1b2-0000-7000-8000-0000000000ff"),
                         REFERRAL, SENT)
    other = sample(ReferralAccepted, referral_ref="ANOTHER-REF")
    assert not is_answer(envelope(other), REFERRAL, SENT)


def test_the_key_file_is_used_when_given(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "agency.signing.key"
    path.write_text(key_to_b64(key) + "\n")
    production = Settings(env="production")
    assert signing_key_for("housing-services", path, production) == key


def test_a_bad_or_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ConfigurationError, match="not valid base64"):
        signing_key_for("housing-services", bad, Settings(env="development"))
    with pytest.raises(ConfigurationError, match="cannot read the signing key"):
        signing_key_for("housing-services", tmp_path / "absent.key", Settings(env="development"))


def test_the_development_key_only_in_development() -> None:
    assert signing_key_for("housing-services", None, Settings(env="development")) == \
        development_signing_key("housing-services")
    with pytest.raises(ConfigurationError, match="--signing-key FILE"):
        signing_key_for("housing-services", None, Settings(env="production"))
