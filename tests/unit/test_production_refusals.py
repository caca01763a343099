"""Production (the default mode) refuses to start on development secrets, sample data, plaintext
and missing secrets: one line per refusal, naming the setting."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from pydantic import SecretStr

from services.convening.main import build as build_convening
from services.convening.settings import ConveningSettings
from services.intake.main import build as build_intake
from services.intake.sealing import development_private_key, private_key_to_b64
from services.intake.settings import IntakeSettings
from services.intake.signing import development_signing_key
from services.notifier.main import DEV_ACK_SECRET
from services.notifier.main import build as build_notifier
from services.notifier.settings import NotifierSettings
from services.runtime.production import SAMPLE_DIRECTORY, ProductionRefused
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def own_directory(tmp: Path, *, keep_test_key_of: str | None = None) -> Path:
    """The sample directory with fresh keys of its own (as a region's real one would have);
    ``keep_test_key_of`` keeps one agency's derivable test key."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE_DIRECTORY.read_text())
    for org in data["organizations"]:
        if org["agency_id"] == keep_test_key_of:
            continue
        org["public_key"] = _b64(bytes(PrivateKey.generate().public_key))
        org["signing_key"] = _b64(bytes(SigningKey.generate().verify_key))
    data["intake"]["signing_key"] = _b64(bytes(PRODUCTION_SIGNING.verify_key))
    data["intake"]["previous_signing_keys"] = []
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


PRODUCTION_SIGNING = SigningKey.generate()
SECRETS: dict[str, Any] = {
    "kafka_password": SecretStr("a-real-scram-password"),
    "vault_key": SecretStr(_b64(os.urandom(32))),
    "vault_key_id": "vault-2026-12",
    "intake_private_key": SecretStr(private_key_to_b64(PrivateKey.generate())),
    "intake_signing_key": SecretStr(_b64(bytes(PRODUCTION_SIGNING))),
    "event_confirm_secret": SecretStr("a-long-enough-confirmation-secret"),
}
NOTIFIER_SECRETS: dict[str, Any] = {
    "kafka_password": SecretStr("a-real-scram-password"),
    "notifier_ack_secret": SecretStr("a-long-enough-acknowledgement-secret"),
    "notifier_contact_key": SecretStr(_b64(os.urandom(32))),
    "notifier_public_url": "https://commande.halton-police.example.org",
    "intake_public_url": "https://events.halton-police.example.org",
    "event_confirm_secret": SecretStr("a-long-enough-confirmation-secret"),
    "public_url": "https://commande.halton-police.example.org",
}


def refusal(build: Any, settings: Settings) -> str:
    with pytest.raises(ProductionRefused) as caught:
        build(settings)
    return str(caught.value)


def test_production_is_the_default() -> None:
    assert Settings.model_fields["env"].default == "production"


def test_intake_refuses_the_sample_directory_and_missing_secrets(tmp_path: Path) -> None:
    text = refusal(build_intake, IntakeSettings(env="production"))
    lines = text.splitlines()[1:]
    assert any("COMMANDE_DIRECTORY_PATH" in line and "sample directory" in line for line in lines)
    for name in ("COMMANDE_VAULT_KEY ", "COMMANDE_INTAKE_PRIVATE_KEY", "COMMANDE_INTAKE_SIGNING_KEY",
                 "COMMANDE_EVENT_CONFIRM_SECRET", "COMMANDE_KAFKA_PASSWORD_FILE"):
        assert any(line.startswith(f"  - {name}") for line in lines), (name, text)


def test_intake_starts_past_the_checks_with_its_own_secrets(tmp_path: Path) -> None:
    settings = IntakeSettings(env="production", directory_path=own_directory(tmp_path), **SECRETS)
    service = build_intake(settings)
    assert service.name == "intake"


def test_a_directory_key_derived_from_the_test_seed_is_refused(tmp_path: Path) -> None:
    directory = own_directory(tmp_path, keep_test_key_of="housing-services")
    text = refusal(build_intake, IntakeSettings(env="production", directory_path=directory,
                                                **SECRETS))
    assert "housing-services.public_key is a development test key" in text
    assert "housing-services.signing_key is a development test key" in text


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("vault_key", SecretStr(_b64(__import__("hashlib").sha256(
        b"commande-dev-vault-key/NOT-FOR-PRODUCTION").digest())), "COMMANDE_VAULT_KEY is the development"),
    ("intake_private_key", SecretStr(private_key_to_b64(development_private_key("intake"))),
     "COMMANDE_INTAKE_PRIVATE_KEY is the synthetic test key"),
    ("intake_signing_key", SecretStr(_b64(bytes(development_signing_key("intake")))),
     "COMMANDE_INTAKE_SIGNING_KEY is the synthetic test key"),
    ("kafka_security_protocol", "PLAINTEXT", "COMMANDE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
    ("clock_offset_file", Path("/tmp/offset"), "COMMANDE_CLOCK_OFFSET_FILE"),
])
def test_intake_refuses_a_development_key_or_plaintext(tmp_path: Path, setting: str, value: Any,
                                                      named: str) -> None:
    settings = IntakeSettings(env="production", directory_path=own_directory(tmp_path),
                              **{**SECRETS, setting: value})
    assert named in refusal(build_intake, settings)


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("notifier_public_url", "http://127.0.0.1:8080",
     "COMMANDE_NOTIFIER_PUBLIC_URL=http://127.0.0.1:8080 is on loopback"),
    ("notifier_public_url", "http://commande.example.org", "is not https"),
    ("smtp_tls", "none", "COMMANDE_SMTP_TLS=none"),
    ("notifier_ack_secret", SecretStr(DEV_ACK_SECRET.decode()),
     "COMMANDE_NOTIFIER_ACK_SECRET is the development"),
    ("notifier_ack_secret", None, "COMMANDE_NOTIFIER_ACK_SECRET is not set"),
    ("notifier_contact_key", None, "COMMANDE_NOTIFIER_CONTACT_KEY is not set"),
    ("kafka_password", None, "COMMANDE_KAFKA_PASSWORD_FILE (or COMMANDE_KAFKA_PASSWORD) is not set"),
    ("intake_public_url", "http://127.0.0.1:8080",
     "COMMANDE_INTAKE_PUBLIC_URL=http://127.0.0.1:8080 is on loopback"),
    ("event_confirm_secret", None, "COMMANDE_EVENT_CONFIRM_SECRET is not set"),
    ("event_confirm_secret", SecretStr("short"), "COMMANDE_EVENT_CONFIRM_SECRET is shorter"),
    ("public_url", None, "COMMANDE_PUBLIC_URL is not set"),
    ("public_url", "https://127.0.0.1:8443", "COMMANDE_PUBLIC_URL=https://127.0.0.1:8443 is on loopback"),
])
def test_notifier_refuses(tmp_path: Path, setting: str, value: Any, named: str) -> None:
    settings = NotifierSettings(env="production", notifier_directory=own_directory(tmp_path),
                                **{**NOTIFIER_SECRETS, setting: value})
    assert named in refusal(build_notifier, settings)


def test_notifier_starts_past_the_checks_with_its_own_secrets(tmp_path: Path) -> None:
    settings = NotifierSettings(env="production", notifier_directory=own_directory(tmp_path),
                                **NOTIFIER_SECRETS)
    assert build_notifier(settings).name == "notifier"


def test_convening_refuses_the_sample_directory() -> None:
    text = refusal(build_convening, ConveningSettings(env="production",
                                                      kafka_password=SecretStr("x")))
    assert "COMMANDE_DIRECTORY_PATH" in text
    assert "sample directory" in text


def test_development_refuses_nothing() -> None:
    assert build_convening(ConveningSettings(env="development", kafka_password=SecretStr("x"))
                           ).name == "convening"


def test_the_partner_cli_never_derives_intakes_public_key_outside_development(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.errors import ConfigurationError
    from services.cli.submit_cmd import _intake_public_key_b64

    monkeypatch.setenv("COMMANDE_ENV", "production")
    monkeypatch.delenv("COMMANDE_INTAKE_PUBLIC_KEY", raising=False)
    monkeypatch.setenv("COMMANDE_INTAKE_PRIVATE_KEY", SECRETS["intake_private_key"].get_secret_value())
    with pytest.raises(ConfigurationError, match="COMMANDE_INTAKE_PUBLIC_KEY is not set"):
        _intake_public_key_b64()
    monkeypatch.setenv("COMMANDE_INTAKE_PUBLIC_KEY", "given-by-intakes-operators")
    assert _intake_public_key_b64() == "given-by-intakes-operators"
