"""``commande intake keys generate`` and ``disclosure open`` (no stack needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas.disclosures import DisclosureSealed
from schemas.samples import sample
from services.cli.intake_cmd import app
from services.intake import sealing

pytestmark = pytest.mark.unit


def generate(tmp_path: Path, agency: str) -> tuple[Path, str]:
    result = CliRunner().invoke(app, ["keys", "generate", "--agency", agency, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    public = next(line.split(": ", 1)[1] for line in result.output.splitlines()
                  if line.startswith("public_key: "))
    return tmp_path / f"{agency}.key", public


def test_generate_writes_a_private_key_readable_only_by_its_owner(tmp_path: Path) -> None:
    path, public = generate(tmp_path, "housing-services")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = sealing.private_key_from_b64(path.read_text())
    assert sealing.public_key_to_b64(private.public_key) == public
    again = CliRunner().invoke(app, ["keys", "generate", "--agency", "housing-services",
                                     "--out", str(tmp_path)])
    assert again.exit_code == 2
    assert "never overwritten" in again.output


def test_open_with_the_right_key_and_a_clear_error_with_another(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    other, _ = generate(tmp_path, "other-agency")
    ciphertext = sealing.seal(b'{"subject": {"languages": ["en"]}}',
                              sealing.public_key_from_b64(public))
    package = tmp_path / "package.json"
    package.write_text(sample(DisclosureSealed, ciphertext=ciphertext).model_dump_json())
    ok = CliRunner().invoke(app, ["disclosure", "open", "--key", str(key), str(package)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {"subject": {"languages": ["en"]}}
    wrong = CliRunner().invoke(app, ["disclosure", "open", "--key", str(other), str(package)])
    assert wrong.exit_code == 2
    assert "not sealed for this key" in wrong.output


def test_open_reads_a_bare_ciphertext_from_stdin(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "lead-agency")
    ciphertext = sealing.seal(b'{"a": 1}', sealing.public_key_from_b64(public))
    result = CliRunner().invoke(app, ["disclosure", "open", "--key", str(key)], input=ciphertext)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"a": 1}


def test_public_prints_the_pair_of_a_key_file(tmp_path: Path) -> None:
    key, public = generate(tmp_path, "intake")
    result = CliRunner().invoke(app, ["keys", "public", "--key", str(key)])
    assert result.exit_code == 0, result.output
    assert f"public_key: {public}" in result.output
    kid = sealing.key_id(sealing.public_key_from_b64(public))
    assert f"key id: {kid}" in result.output
