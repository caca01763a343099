"""The chair and agency commands: help with an example per command; bad input refused before publishing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from schemas.errors import ContractError
from services.cli.convening_cmd import app

pytestmark = pytest.mark.unit

SITUATION = "0194a1b2-0000-7000-8000-000000000001"
MEETING = "0194a1b2-0000-7000-8000-000000000002"
runner = CliRunner()


@pytest.mark.parametrize("command", ["decide", "assign", "respond", "intervene", "conclude"])
def test_each_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: commande " + command in result.output
    assert "--actor-agency" in result.output


def test_an_unknown_choice_is_refused_without_publishing() -> None:
    result = runner.invoke(app, ["decide", "--situation", SITUATION, "--meeting", MEETING,
                                 "--decision", "maybe", "--actor-agency", "hrps-cmb-d1"])
    assert result.exit_code == 2
    assert "confirmed, rejected, returned" in result.output


def test_a_command_breaking_its_contract_is_refused_without_publishing() -> None:
    result = runner.invoke(app, ["respond", "--situation", SITUATION, "--answer", "rejected",
                                 "--actor-agency", "mental-health-assoc"])
    assert isinstance(result.exception, ContractError)
    assert "a reason is required" in str(result.exception)
