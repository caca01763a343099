"""The narrative de-identification checks, one kind of identifier at a time."""

from __future__ import annotations

import pytest

from services.intake.deidentify import check_narrative

pytestmark = pytest.mark.unit


def found(text: str, names: tuple[str, ...] = ()) -> list[str]:
    return [r.code for r in check_narrative(text, names)]


def test_a_clean_narrative_passes() -> None:
    text = ("Adult in her late twenties, repeated crisis calls this month, facing eviction; "
            "stopped medication two weeks ago; 3 children in the home.")
    assert found(text, ("Testy", "Fixture")) == []


@pytest.mark.parametrize("text", ["call 905-555-0100 after six", "at (905) 555 0100",
                                  "cell +1 905.555.0100", "number 9055550100x"[:-1]])
def test_phone_numbers(text: str) -> None:
    assert "narrative_contains_phone" in found(text)


@pytest.mark.parametrize("text", ["mail someone@example.org", "a.b+c@mail.example.ca now"])
def test_email_addresses(text: str) -> None:
    assert found(text) == ["narrative_contains_email"]


@pytest.mark.parametrize("text", ["lives near L9T 2X5", "postal code l9t2x5."])
def test_postal_codes(text: str) -> None:
    assert found(text) == ["narrative_contains_postal_code"]


@pytest.mark.parametrize("text", ["born 1990-01-01", "seen on 05/01/2026", "since March 3rd",
                                  "on 3 March 2025", "in January 2025", "Jan. 5 incident"])
def test_dates(text: str) -> None:
    assert found(text) == ["narrative_contains_date"]


def test_words_like_may_or_march_alone_are_not_dates() -> None:
    assert found("She may march to the office; it happened in the last month.") == []


@pytest.mark.parametrize("text", ["card 1234-567-890-AB", "OHIP 1234 567 890"])
def test_health_card_like_numbers(text: str) -> None:
    assert "narrative_contains_health_card" in found(text)


@pytest.mark.parametrize("text", ["lives at 12 Example Street", "near 400 Main St.",
                                  "at 7B Maple Leaf Crescent"])
def test_street_addresses(text: str) -> None:
    assert found(text) == ["narrative_contains_street_address"]


def test_numbers_that_are_not_identifiers_pass() -> None:
    assert found("2 risk factors, 3 calls in 48 hours, about 12 visits, since 2019") == []


@pytest.mark.parametrize("text", ["testy was seen", "The FIXTURE family", "Mrs. Fixture-Smith"])
def test_subject_names_as_whole_words_any_case(text: str) -> None:
    assert found(text, ("Testy", "Fixture")) == ["narrative_contains_subject_name"]


def test_a_name_inside_another_word_is_not_a_match() -> None:
    assert found("a testynotname fixtures", ("Testy", "Fixture")) == []


def test_one_reason_per_kind_and_the_text_is_never_quoted() -> None:
    reasons = check_narrative("Testy: 905-555-0100, 905-555-0101, a@example.org", ("Testy",))
    assert sorted(r.code for r in reasons) == ["narrative_contains_email",
                                               "narrative_contains_phone",
                                               "narrative_contains_subject_name"]
    assert all(r.field == "summary.narrative" for r in reasons)
    assert not any("Testy" in r.message or "555" in r.message for r in reasons)
