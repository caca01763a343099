"""The chair and agency commands: help with an example per command, no actor options (the
gateway says who you are), bad choices refused before anything is sent, and every answer of the
gateway printed in full with the right exit code."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli.convening_cmd import app
from services.cli.gateway_client import describe

pytestmark = pytest.mark.unit

SITUATION = "0194a1b2-0000-7000-8000-000000000001"
COMMAND = "0194a1b2-0000-7000-8000-00000000000c"
runner = CliRunner()


@pytest.mark.parametrize("command", ["decide", "assign", "respond", "intervene", "conclude",
                                     "reopen"])
def test_each_command_has_help_with_an_example_and_no_actor_option(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: commande " + command in result.output
    assert "--actor" not in result.output
    assert "--agency" not in result.output
    assert "--token" in result.output


def test_an_unknown_choice_is_refused_before_anything_is_sent() -> None:
    result = runner.invoke(app, ["decide", "--situation", SITUATION, "--decision", "maybe",
                                 "--token", "not-used"])
    assert result.exit_code == 2
    assert "confirmed, rejected, returned" in result.output


def test_the_identity_release_is_not_defaulted_by_the_cli() -> None:
    """The table's setting (the directory, through the gateway) decides it, not a CLI default."""
    result = runner.invoke(app, ["assign", "--help"], terminal_width=200)
    words = " ".join(result.output.replace("│", " ").split())
    assert "filter_3 or filter_4; the table's setting in the directory by default" in words


def test_a_refusal_prints_every_reason_and_who_was_refused() -> None:
    answer = {"type": "urn:commande:problem:command_rejected", "title": "Command rejected",
              "status": 422, "command_id": COMMAND,
              "actor": {"agency_id": "hrps-cmb-d1", "role": "table_chair"},
              "reasons": [
                  {"code": "identity_release_mismatch", "field": "identity_release",
                   "message": "the district_1 table releases identity at filter_3"},
                  {"code": "agency_not_table_member", "field": "lead",
                   "message": "x is not an active member of the district_1 table"}]}
    code, lines = describe(422, answer, "AssignAgencies")
    assert code == 1
    assert lines[0] == f"refused (422): AssignAgencies as hrps-cmb-d1/table_chair (command {COMMAND})"
    assert lines[1:] == [
        "  - identity_release_mismatch (identity_release): the district_1 table releases "
        "identity at filter_3",
        "  - agency_not_table_member (lead): x is not an active member of the district_1 table"]


def test_a_contract_violation_prints_every_field() -> None:
    answer = {"type": "urn:commande:problem:contract_violation", "status": 422,
              "title": "The body does not match the contract",
              "errors": [{"field": "reason", "message": "Value error, a reason is required"}]}
    code, lines = describe(422, answer, "RespondToAssignment")
    assert code == 1
    assert lines == ["refused by the gateway (The body does not match the contract) (422): "
                     "RespondToAssignment",
                     "  - reason: Value error, a reason is required"]


def test_an_accepted_command_prints_its_facts() -> None:
    answer = {"outcome": "accepted", "command_id": COMMAND,
              "actor": {"agency_id": "hrps-cmb-d1", "role": "table_chair"},
              "events": [{"type": "ca.halton.commande.situation.aer_decision_recorded.v1",
                          "id": "x", "data": {"decision": "confirmed"}}]}
    assert describe(200, answer, "RecordAerDecision") == (0, [
        f"accepted: RecordAerDecision as hrps-cmb-d1/table_chair (command {COMMAND})",
        "  - situation.aer_decision_recorded (decision=confirmed)"])


@pytest.mark.parametrize(("status", "answer"), [
    (401, {"detail": "The token has expired; sign in again."}),
    (504, {"command_id": COMMAND, "status_url": f"/v1/commands/{COMMAND}"}),
    (503, {"detail": "The identity provider does not answer."}),
])
def test_no_outcome_or_no_sign_in_exits_2(status: int, answer: dict[str, str]) -> None:
    code, lines = describe(status, answer, "RecordAerDecision")
    assert code == 2
    assert lines
