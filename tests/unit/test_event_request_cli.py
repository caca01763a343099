"""``commande event-request``: help with an example per command, sample files that load with a
minted id and resolved dates, bad input refused before anything is published."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas.errors import ContractError
from schemas.event_requests import EventRequestSubmitted
from schemas.reference import reference
from services.cli.event_request_cmd import (
    EVENT_REQUEST_PATH,
    app,
    describe_answer,
    load_request,
    request_body,
)
from services.intake.event_requests.rules import check
from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "event-requests"
REQUEST = "0194a1b2-0000-7000-8000-000000000007"
NOW = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.mark.parametrize("command", ["submit", "schedule", "decline", "withdraw"])
def test_each_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: commande event-request " + command in result.output


@pytest.mark.parametrize(("name", "district", "codes"), [
    ("milton-seniors-talk.json", "district_1", []),
    ("georgetown-school-safety.json", "district_1", []),
    ("acton-fall-fair.json", "district_1", []),
    ("oakville-district-tour.json", "district_2", []),
    ("burlington-diversity-festival.json", "district_3", []),
    ("halton-hills-short-notice.json", "district_1", ["notice_too_short"]),
    ("missing-details.json", "district_2", [
        "address_or_venue_missing", "topics_missing", "expected_attendees_missing",
        "mailing_address_missing", "daytime_phone_missing", "email_malformed"]),
])
def test_the_samples_load_and_meet_or_fail_the_rules_as_named(name: str, district: str,
                                                              codes: list[str]) -> None:
    event = load_request(SAMPLES / name, NOW)
    assert event.request_id.version == 7
    assert event.submitted_at == NOW
    assert all(w.date > date(2026, 1, 5) for w in event.windows)
    checked = check(event, reference=reference())
    assert checked.district == district
    assert [r.code for r in checked.reasons] == codes
    assert load_request(SAMPLES / name, NOW).request_id != event.request_id


def test_every_sample_address_is_on_an_example_domain() -> None:
    for path in SAMPLES.glob("*.json"):
        event = load_request(path, NOW)
        assert event.requester is not None
        email = event.requester.email or ""
        assert "@" not in email or email.endswith("@example.org"), path


def test_a_file_off_the_contract_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "barbecue", "windows": [{"days_ahead": "soon"}]}')
    with pytest.raises(ContractError, match="days_ahead"):
        load_request(bad, NOW)
    bad.write_text('{"kind": "barbecue"}')
    with pytest.raises(ContractError, match="kind"):
        load_request(bad, NOW)


def test_a_bad_start_time_is_refused_without_publishing() -> None:
    result = runner.invoke(app, ["schedule", REQUEST, "--date", "2026-03-12", "--start", "late",
                                 "--officer-role", "cmb_officer", "--token", "not-used"])
    assert result.exit_code == 2
    assert "HH:MM" in result.output


@pytest.mark.parametrize("command", ["schedule", "decline", "withdraw"])
def test_the_follow_up_commands_take_a_sign_in_not_an_agency(command: str) -> None:
    """The gateway says which CMB you are (your sign-in), so there is no --agency to state."""
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert "--agency" not in result.output
    assert "--token" in result.output


def test_submit_posts_the_request_without_the_id_and_time_intake_mints() -> None:
    from services.intake.event_requests.ingress import PATH

    body = request_body(SAMPLES / "milton-seniors-talk.json", NOW)
    assert "request_id" not in body
    assert "submitted_at" not in body
    assert [w["date"] for w in body["windows"]] == ["2026-02-19", "2026-02-26"]
    minted = EventRequestSubmitted.model_validate_json(json.dumps(
        {**body, "request_id": "0194a1b2-0000-7000-8000-000000000007",
         "submitted_at": NOW.isoformat()}))
    assert minted.requester is not None
    assert EVENT_REQUEST_PATH == PATH


def test_intakes_answers_are_printed_with_the_request_id_and_every_reason() -> None:
    rid = "0194a1b2-0000-7000-8000-000000000007"
    code, lines = describe_answer(202, {"request_id": rid, "status": "received",
                                        "district": "district_1"})
    assert code == 0
    assert f"(request {rid})" in lines[0]
    assert "district_1" in lines[0]
    code, lines = describe_answer(422, {
        "type": "urn:commande:problem:event_request_rejected", "request_id": rid,
        "reasons": [{"code": "notice_too_short", "field": "windows", "message": "Give notice."}],
        "earliest_acceptable_date": "2026-02-04"})
    assert code == 1
    assert lines == [f"rejected (request {rid}):", "  - notice_too_short (windows): Give notice.",
                     "  earliest acceptable date: 2026-02-04"]
    code, lines = describe_answer(422, {
        "type": "urn:commande:problem:contract_violation", "title": "The body does not match",
        "detail": "Fix every listed field.", "errors": [{"field": "kind", "message": "bad"}]})
    assert code == 2
    assert lines == ["refused by intake (422): The body does not match: Fix every listed field.",
                     "  - kind: bad"]
    assert describe_answer(502, None)[0] == 2

