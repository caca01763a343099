"""``commande intake keys generate`` (both key pairs) and ``disclosure open``, which verifies
intake's signature before it shows anything (no stack needed; intake's key from halton.yaml)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from schemas.disclosures import DisclosureSealed
from schemas.signing import key_id, key_to_b64, signing_key_from_b64
from services.cli.intake_cmd import app
from services.intake import sealing
from services.intake.signing import development_signing_key, sign_disclosure
from tests.support.samples import sample

pytestmark = pytest.mark.unit

INTAKE = development_signing_key("intake")


def generate(tmp_path: Path, agency: str) -> tuple[Path, str]:
    result = CliRunner().invoke(app, ["keys", "generate", "--agency", agency, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    public = next(line.split(": ", 1)[1] for line in result.output.splitlines()
                  if line.startswith("public_key: "))
    return tmp_path / f"{agency}.key", public


def test_generate_writes_both_private_keys_readable_only_by_their_owner(tmp_path: Path) -> None:
    path, public = generate(tmp_path, "housing-services")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = sealing.private_key_from_b64(path.read_text())
    assert sealing.public_key_to_b64(private.public_key) == public
    signing_path = tmp_path / "housing-services.signing.key"
    assert stat.S_IMODE(signing_path.stat().st_mode) == 0o600
    signer = signing_key_from_b64(signing_path.read_text())
    again = CliRunner().invoke(app, ["keys", "generate", "--agency", "housing-services",
                                     "--out", str(tmp_path)])
    assert again.exit_code == 2
    assert "never overwritten" in again.output
    assert signing_key_from_b64(signing_path.read_text()) == signer


def test_generate_prints_the_signing_key_for_the_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "generate", "--agency", "intake", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    signer = signing_key_from_b64((tmp_path / "intake.signing.key").read_text())
    assert f"intake.signing_key: {key_to_b64(signer.verify_key)}" in result.output
    assert f"signing key id: {key_id(signer.verify_key)}" in result.output


def package_for(public: str, *, signer: SigningKey = INTAKE, **overrides: object) -> str:
    """A DisclosureSealed JSON sealed to ``public`` and signed by ``signer``."""
    event = sample(DisclosureSealed)
    inside = {"situation_id": str(event.situation_id), "disclosure_id": str(event.disclosure_id),
              "recipient_agency": event.recipient_agency, "subject": {"languages": ["en"]}}
    ciphertext = sealing.seal(json.dumps(inside).encode(), sealing.public_key_from_b64(public))
    return sign_disclosure(sample(DisclosureSealed, ciphertext=ciphertext, **overrides),
                           signer).model_dump_json()


def open_package(key: Path, text: str, tmp_path: Path, *extra: str) -> Result:
    package = tmp_path / "package.json"
    package.write_text(text)
    return CliRunner().invoke(app, ["disclosure", "open", "--key", str(key), str(package), *extra])


def test_open_verifies_intakes_signature_then_opens_with_the_right_key(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    other, _ = generate(tmp_path, "other-agency")
    ok = open_package(key, package_for(public), tmp_path)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["subject"] == {"languages": ["en"]}
    assert f"verified: signed by intake (signing key id {key_id(INTAKE.verify_key)})" in ok.stderr
    wrong = open_package(other, package_for(public), tmp_path)
    assert wrong.exit_code == 2
    assert "not sealed for this key" in wrong.output


def test_open_takes_intakes_key_from_an_option_too(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    own = SigningKey.generate()
    text = package_for(public, signer=own)
    refused = open_package(key, text, tmp_path)
    assert refused.exit_code == 2
    ok = open_package(key, text, tmp_path, "--intake-signing-key", key_to_b64(own.verify_key))
    assert ok.exit_code == 0, ok.output


def test_a_package_intake_did_not_sign_is_refused_before_anything_is_shown(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    forged = open_package(key, package_for(public, signer=SigningKey.generate()), tmp_path)
    assert forged.exit_code == 2
    assert "not signed by intake's key" in forged.output
    assert "languages" not in forged.output
    unsigned = json.loads(package_for(public))
    unsigned.pop("signature")
    refused = open_package(key, json.dumps(unsigned), tmp_path)
    assert refused.exit_code == 2
    assert "carries no signature" in refused.output


@pytest.mark.parametrize(("field", "value"), [
    ("recipient_agency", "public-health"), ("fields", ["subject.people.phone"]),
    ("situation_id", "0194a1b2-0000-7000-8000-0000000000ff")])
def test_a_package_with_altered_metadata_is_refused(tmp_path: Path, field: str,
                                                    value: object) -> None:
    key, public = generate(tmp_path, "lead-agency")
    altered = json.loads(package_for(public))
    altered[field] = value
    result = open_package(key, json.dumps(altered), tmp_path)
    assert result.exit_code == 2
    assert "not signed by intake's key" in result.output
    assert "languages" not in result.output


def test_signed_contents_of_another_package_are_not_shown(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    text = package_for(public, situation_id=sample(DisclosureSealed).disclosure_id)
    result = open_package(key, text, tmp_path)
    assert result.exit_code == 2
    assert "do not belong to this package" in result.output


def test_a_bare_ciphertext_is_refused(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    ciphertext = sealing.seal(b'{"a": 1}', sealing.public_key_from_b64(public))
    result = CliRunner().invoke(app, ["disclosure", "open", "--key", str(key)], input=ciphertext)
    assert result.exit_code == 2
    assert "not a bare ciphertext" in result.output


def test_public_prints_the_pair_of_a_key_file(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "intake")
    result = CliRunner().invoke(app, ["keys", "public", "--key", str(key)])
    assert result.exit_code == 0, result.output
    assert f"public_key: {public}" in result.output
    kid = sealing.key_id(sealing.public_key_from_b64(public))
    assert f"key id: {kid}" in result.output
