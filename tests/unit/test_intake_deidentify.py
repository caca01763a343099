"""The narrative de-identification checks, one kind of identifier at a time."""

from __future__ import annotations

import pytest

from services.intake.deidentify import check_narrative, check_reference

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


# -- formatting does not hide an identifier (issue 15, item 2) -----------------------------
# Each example passed today's-code checks before; names are synthetic.

NAMES = ("Avery", "Testy")


@pytest.mark.parametrize(("text", "code"), [
    pytest.param("call 905\u2013555\u20130101 after six", "narrative_contains_phone", id="phone-en-dash"),
    pytest.param("call 905\u2011555\u20110101 after six", "narrative_contains_phone",
                 id="phone-non-breaking-hyphen"),
    pytest.param("call 905_555_0101 after six", "narrative_contains_phone", id="phone-underscore"),
    pytest.param("call 905/555/0101 after six", "narrative_contains_phone", id="phone-slash"),
    pytest.param("lives near L9T\u00a02X5", "narrative_contains_postal_code",
                 id="postal-code-no-break-space"),
    pytest.param("lives near L9T\u200b2X5", "narrative_contains_postal_code",
                 id="postal-code-zero-width-space"),
    pytest.param("born 1990\u201001\u201001", "narrative_contains_date", id="date-unicode-hyphens"),
    pytest.param("last seen on 5/1 at the shelter", "narrative_contains_date", id="date-day-month"),
    pytest.param("write to someone\uff20example.org", "narrative_contains_email", id="email-full-width-at"),
    pytest.param("write to someone(at)example.org", "narrative_contains_email", id="email-at-in-brackets"),
    pytest.param("lives at 123 Rue Principale", "narrative_contains_street_address", id="french-street"),
    pytest.param("\u0410very was seen at the shelter", "narrative_contains_subject_name",
                 id="name-cyrillic-letter"),
    pytest.param("Av\u200bery was seen at the shelter", "narrative_contains_subject_name",
                 id="name-zero-width-space"),
    pytest.param("Av\u00adery was seen at the shelter", "narrative_contains_subject_name",
                 id="name-soft-hyphen"),
    pytest.param("\uff21\uff56\uff45\uff52\uff59 was seen at the shelter", "narrative_contains_subject_name",
                 id="name-full-width-letters"),
    pytest.param("Ave\u0301ry was seen at the shelter", "narrative_contains_subject_name",
                 id="name-combining-accent"),
])
def test_formatting_does_not_hide_an_identifier(text: str, code: str) -> None:
    reasons = check_narrative(text, NAMES)
    assert code in [r.code for r in reasons]
    assert all(r.field == "summary.narrative" for r in reasons)
    assert not any(ch.isdigit() for r in reasons for ch in r.message)


def test_a_latin_word_with_a_cyrillic_letter_is_a_disguise_even_when_no_name_is_known() -> None:
    assert found("seen with B\u043ebby at the park") == ["narrative_contains_mixed_script"]


def test_a_name_spelled_entirely_in_lookalike_letters_is_still_the_name() -> None:
    assert found("\u0422\u0435\u0455t\u0443 was seen", NAMES) == [
        "narrative_contains_subject_name", "narrative_contains_mixed_script"]
    assert found("\u03a4\u0395\u0405\u03a4\u03a5 was seen", NAMES) == ["narrative_contains_subject_name"]


def test_styled_letters_do_not_hide_a_name() -> None:
    small_capitals = "\u1d00\u1d20\u1d07\u0280\u028f"  # LATIN LETTER SMALL CAPITAL A, V, E, R, Y
    mathematical_bold = "".join(chr(0x1D41A + ord(ch) - ord("a")) for ch in "testy")
    assert found(f"{small_capitals} was seen", NAMES) == ["narrative_contains_subject_name"]
    assert found(f"{mathematical_bold} was seen", NAMES) == ["narrative_contains_subject_name"]


def test_accents_on_either_side_do_not_hide_a_name() -> None:
    assert found("Zoe was seen", ("Zo\u00eb",)) == ["narrative_contains_subject_name"]
    assert found("Zo\u00eb was seen", ("Zoe",)) == ["narrative_contains_subject_name"]


@pytest.mark.parametrize("text", [
    "lives at 45, rue de la Gare", "au 12 chemin du Lac", "le 300 boulevard Saint-Laurent",
    "au 8 c\u00f4te des Neiges", "au 1200 rang Saint-Joseph", "au 4 mont\u00e9e Sainte-Julie",
    "au 3 place Ville-Marie", "au 77 avenue des Pins",
])
def test_french_street_addresses(text: str) -> None:
    assert found(text) == ["narrative_contains_street_address"]


@pytest.mark.parametrize("text", [
    "write to someone [at] example [dot] org", "write to someone @ example.org",
    "someone at example dot com",
])
def test_spelled_out_email_addresses(text: str) -> None:
    assert found(text) == ["narrative_contains_email"]


@pytest.mark.parametrize("text", ["born 19900101", "vu le 3 mars 2025", "depuis mai 2024",
                                  "seen Monday 12/3", "le 1er mai"])
def test_more_dates(text: str) -> None:
    assert found(text) == ["narrative_contains_date"]


@pytest.mark.parametrize("text", [
    "appeared 3 times in court this year", "lives a 2 hour drive from the clinic",
    "2 calls along the way", "3 family court hearings are pending", "needs 24/7 supervision",
    "rated the pain 8/10", "about 3/4 of the calls", "set 3 place settings",
    "assise au 2e rang de la classe", "Elle a appel\u00e9 3 fois en 48 heures; pas de m\u00e9decin.",
    "takes 50\u00b5g daily", "the youth \u2013 worried \u2014 left at 11 pm",
    "une famille de 4 personnes, 2 enfants en bas \u00e2ge",
])
def test_ordinary_english_and_french_prose_passes(text: str) -> None:
    assert found(text, NAMES) == []


# -- the referral's own reference ----------------------------------------------------------


def ref_codes(ref: str, names: tuple[str, ...] = NAMES) -> list[str]:
    return [r.code for r in check_reference(ref, names)]


@pytest.mark.parametrize("ref", ["HSG-DEMO-0001", "CAS-2026-0042", "mha.17", "REF_9", "A",
                                 "HSG-20260105-01", "2026-01-05-003", "CAS-2026-001234",
                                 "E2E-0123456789ab", "Synthetic.Case", "DEMO-A1B2C3"])
def test_an_opaque_reference_passes(ref: str) -> None:
    """Dates, sequence numbers and random tokens are how agencies number their files."""
    assert ref_codes(ref) == []


@pytest.mark.parametrize(("ref", "code"), [
    ("905-555-0101", "referral_ref_contains_phone"),
    ("9055550101", "referral_ref_contains_phone"),
    ("avery.at.example.org", "referral_ref_contains_email"),
    ("someone_at_example.com", "referral_ref_contains_email"),
    ("someone.example.org", "referral_ref_contains_email"),
    ("1234-567-890-AB", "referral_ref_contains_health_card"),
    ("avery.testy", "referral_ref_contains_subject_name"),
    ("AveryTesty01", "referral_ref_contains_subject_name"),
    ("TESTY-0042", "referral_ref_contains_subject_name"),
    ("AVERYTESTY", "referral_ref_contains_subject_name"),
])
def test_a_reference_that_identifies_is_refused(ref: str, code: str) -> None:
    reasons = check_reference(ref, NAMES)
    assert code in [r.code for r in reasons]
    assert all(r.field == "referral_ref" for r in reasons)
    assert not any(ref in r.message or "Avery" in r.message for r in reasons)
    assert all("opaque token" in r.message for r in reasons)
