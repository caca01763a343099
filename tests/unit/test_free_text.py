"""Property tests of the free-text checks: every disguise of an identifier is caught, plain prose
never is (issue 15, item 2).

The generators are written here, independently of :mod:`schemas.free_text`: the separators,
dashes, spaces and lookalike letters below are what a person can type or paste, not a copy of the
module's tables. All names and numbers are synthetic (555 exchange, example.org).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.free_text import FreeText, check_text, found_kinds

pytestmark = pytest.mark.unit

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63", "\uff0d"]
SPACES = [" ", "\u00a0", "\u202f", "\u2007", "\u2009", "\u3000", "  "]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u200e"]
OTHER_SEPARATORS = [".", "_", "/", "\uff0f", "\u00b7", "\uff0e"]
COMBINING = ["\u0301", "\u0300", "\u0302", "\u0308", "\u0327"]
HOMOGLYPHS = {  # Latin letter -> Cyrillic or Greek letters drawn the same
    "a": ["\u0430", "\u03b1"], "e": ["\u0435"], "o": ["\u043e", "\u03bf"], "p": ["\u0440", "\u03c1"],
    "c": ["\u0441"], "y": ["\u0443"], "x": ["\u0445", "\u03c7"], "i": ["\u0456", "\u03b9"],
    "j": ["\u0458"], "s": ["\u0455"], "A": ["\u0410", "\u0391"], "B": ["\u0412", "\u0392"],
    "E": ["\u0415", "\u0395"], "H": ["\u041d", "\u0397"], "K": ["\u041a", "\u039a"],
    "M": ["\u041c", "\u039c"], "O": ["\u041e", "\u039f"], "P": ["\u0420", "\u03a1"],
    "T": ["\u0422", "\u03a4"], "X": ["\u0425", "\u03a7"], "Y": ["\u0423", "\u03a5"],
}
NAMES = ["Avery", "Testy", "Morgan", "Jordan", "Riley", "Quinn", "Harper", "Rowan", "Sasha"]

SAFE_WORDS = [
    "the", "youth", "adult", "parent", "neighbour", "family", "school", "home", "shelter",
    "worried", "crisis", "calls", "eviction", "notice", "served", "missed", "appointments",
    "doctor", "alone", "visits", "police", "reported", "alcohol", "use", "risk", "housing",
    "support", "services", "counsellor", "hospital", "mental", "health", "recently", "week",
    "weeks", "days", "hours", "evenings", "often", "twice", "since", "stopped", "medication",
    "refused", "help", "sleeping", "outside", "unsafe", "income", "lost", "job", "food", "bank",
    "young", "child", "children", "older", "brother", "sister", "teacher", "worker", "landlord",
    "noise", "fights", "injuries", "threats", "fear", "money", "debts", "rent", "arrears",
    "and", "with", "in", "on", "for", "to", "of", "a", "no", "not", "le", "la", "les", "jeune",
    "mère", "père", "voisin", "école", "appels", "crise", "expulsion", "avis", "logement",
    "soutien", "semaine", "mois", "jours", "heures", "souvent", "depuis", "médicaments",
    "refusé", "aide", "sans", "famille", "médecin", "inquiets", "à", "de", "du", "des", "et",
    "en", "pour", "avec", "dans", "pas", "très", "élevé", "risque", "cette", "dernière", "fois",
]
"""Narrative words with no street type, month, weekday or name among them."""

SAFE_TOKENS = ["24/7", "3/4", "8/10", "1/2", "50\u00b5g", "48", "2019", "1st", "2e", "11 pm"]


def full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def bold(text: str) -> str:
    """MATHEMATICAL BOLD letters, as styled-text generators paste them."""
    return "".join(chr(0x1D400 + ord(ch) - ord("A")) if "A" <= ch <= "Z" else
                   chr(0x1D41A + ord(ch) - ord("a")) if "a" <= ch <= "z" else ch for ch in text)


@st.composite
def sep(draw: st.DrawFn, *, space: bool = True) -> str:
    """A separator between groups of digits: a dash of any kind, a space of any kind (with an
    invisible character around it or instead of it), or another separator."""
    choices = DASHES + OTHER_SEPARATORS + INVISIBLE + [""] + (SPACES if space else [])
    core = draw(st.sampled_from(choices))
    if draw(st.booleans()):
        core = draw(st.sampled_from(INVISIBLE)) + core
    return core


@st.composite
def digits(draw: st.DrawFn, text: str) -> str:
    return full_width(text) if draw(st.booleans()) else text


@st.composite
def prose(draw: st.DrawFn, min_size: int = 0, max_size: int = 12) -> str:
    """Plain narrative: safe words and safe number tokens, with ordinary punctuation, dashes and
    no-break spaces between them."""
    tokens = draw(st.lists(st.one_of(st.sampled_from(SAFE_WORDS), st.sampled_from(SAFE_TOKENS),
                                     st.integers(0, 99).map(str)),
                           min_size=min_size, max_size=max_size))
    glue = st.sampled_from([" ", " ", " ", ", ", "; ", ". ", " \u2013 ", " - ", "\u00a0", " (", ") "])
    out = ""
    for token in tokens:
        out += token + draw(glue)
    return out.strip()


@st.composite
def in_prose(draw: st.DrawFn, identifier: str) -> str:
    return f"{draw(prose(max_size=5))} {identifier} {draw(prose(max_size=5))}"


@st.composite
def phone(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["905", "289", "365", "416", "647"]))
    line = f"{draw(st.integers(100, 199))}"
    groups = [draw(digits(area)), draw(digits("555")), draw(digits("0" + line))]
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    out = groups[0] + draw(sep()) + groups[1] + draw(sep()) + groups[2]
    return ("+1" + draw(sep()) + out) if draw(st.booleans()) else out


@st.composite
def postal_code(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(["L9T", "L6J", "L7L", "L7G", "L6H"])) + \
        draw(st.sampled_from(["2X5", "4B1", "0A3", "7K9"]))
    code = code.lower() if draw(st.booleans()) else code
    code = full_width(code) if draw(st.booleans()) else code
    return code[:3] + draw(st.sampled_from([*SPACES, *INVISIBLE, "", "-", "\u2011"])) + code[3:]


@st.composite
def numeric_date(draw: st.DrawFn) -> str:
    year, month, day = draw(st.integers(1940, 2030)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    mark = draw(st.sampled_from([*DASHES, "/", ".", "_", "\uff0f"]))
    if draw(st.booleans()):
        text = f"{year}{mark}{month:02d}{mark}{day:02d}"
    else:
        text = f"{day}{mark}{month}{mark}{year}"
    return draw(digits(text))


@st.composite
def email(draw: st.DrawFn) -> str:
    at = draw(st.sampled_from(["@", "\uff20", "\ufe6b", "(at)", "[at]", " (at) ", " @ ", "{at}", "(AT)"]))
    dot = draw(st.sampled_from([".", "\uff0e", "(dot)", " [dot] ", " (point) "]))
    local = draw(st.sampled_from(["someone", "a.b", "r_s", "contact99"]))
    domain = draw(st.sampled_from(["example", "mail" + dot + "example"]))
    tld = draw(st.sampled_from(["org", "ca", "com", "net"]))
    text = f"{local}{at}{domain}{dot}{tld}"
    return full_width(text) if draw(st.booleans()) and "(" not in text and " " not in text else text


@st.composite
def street_address(draw: st.DrawFn) -> str:
    number = str(draw(st.integers(1, 9999))) + draw(st.sampled_from(["", "A", "b"]))
    space = draw(st.sampled_from(SPACES))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["Main", "Maple Leaf", "Example", "Old Mill", "main"]))
        kind = draw(st.sampled_from(["Street", "St.", "Road", "Avenue", "Crescent", "Drive", "Court",
                                     "Boulevard", "Line", "street", "road"]))
        return f"{number}{space}{name}{space}{kind}"
    kind = draw(st.sampled_from(["rue", "Rue", "chemin", "boulevard", "avenue", "c\u00f4te", "rang",
                                 "mont\u00e9e", "mont\u0065\u0301e", "all\u00e9e", "impasse",
                                 "place", "route", "RUE"]))
    name = draw(st.sampled_from(["Principale", "de la Gare", "du Lac", "Saint-Laurent",
                                 "des \u00c9rables"]))
    comma = draw(st.sampled_from(["", ","]))
    return f"{number}{comma}{space}{kind}{space}{name}"


@st.composite
def disguised(draw: st.DrawFn, name: str) -> tuple[str, bool]:
    """``name`` as someone might slip it past a plain comparison; also whether a lookalike letter
    from another script was put in."""
    word = draw(st.sampled_from([name, name.lower(), name.upper()]))
    mixed = False
    swappable = [i for i, ch in enumerate(word) if ch in HOMOGLYPHS]
    if draw(st.booleans()) and swappable:
        i = draw(st.sampled_from(swappable))
        word = word[:i] + draw(st.sampled_from(HOMOGLYPHS[word[i]])) + word[i + 1:]
        mixed = len(word) > 1
    word = draw(st.sampled_from([lambda w: w, full_width, bold]))(word)
    if draw(st.booleans()):
        i = draw(st.integers(1, len(word)))
        word = word[:i] + draw(st.sampled_from(COMBINING)) + word[i:]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(1, len(word) - 1))
        word = word[:i] + draw(st.sampled_from(INVISIBLE)) + word[i:]
    return word, mixed


@SETTINGS
@given(st.data())
def test_every_phone_number_disguise_is_caught(data: st.DataObject) -> None:
    text = data.draw(in_prose(data.draw(phone())))
    assert "phone" in found_kinds(text)


@SETTINGS
@given(st.data())
def test_every_postal_code_disguise_is_caught(data: st.DataObject) -> None:
    text = data.draw(in_prose(data.draw(postal_code())))
    assert "postal_code" in found_kinds(text)


@SETTINGS
@given(st.data())
def test_every_numeric_date_disguise_is_caught(data: st.DataObject) -> None:
    text = data.draw(in_prose(data.draw(numeric_date())))
    assert "date" in found_kinds(text)


@SETTINGS
@given(st.data())
def test_every_email_disguise_is_caught(data: st.DataObject) -> None:
    text = data.draw(in_prose(data.draw(email())))
    assert "email" in found_kinds(text)


@SETTINGS
@given(st.data())
def test_every_street_address_disguise_is_caught(data: st.DataObject) -> None:
    text = data.draw(in_prose(data.draw(street_address())))
    assert "street_address" in found_kinds(text)


@SETTINGS
@given(st.data(), st.sampled_from(NAMES))
def test_every_name_disguise_is_caught(data: st.DataObject, name: str) -> None:
    word, mixed = data.draw(disguised(name))
    text = data.draw(in_prose(word))
    kinds = found_kinds(text, names=("Someone-Else", name))
    assert "name" in kinds
    if mixed:
        assert "mixed_script" in kinds


@SETTINGS
@given(st.data(), st.sampled_from([w for w in SAFE_WORDS if w.isascii() and len(w) > 1]))
def test_a_lookalike_letter_in_any_latin_word_is_flagged(data: st.DataObject, word: str) -> None:
    swappable = [i for i, ch in enumerate(word) if ch in HOMOGLYPHS]
    if not swappable:
        return
    i = data.draw(st.sampled_from(swappable))
    word = word[:i] + data.draw(st.sampled_from(HOMOGLYPHS[word[i]])) + word[i + 1:]
    assert "mixed_script" in found_kinds(data.draw(in_prose(word)))


@SETTINGS
@given(prose(min_size=1, max_size=40))
def test_plain_prose_is_never_flagged(text: str) -> None:
    assert found_kinds(text, names=NAMES) == []


NOTE = FreeText(field="note", code_prefix="note", label="note")


@SETTINGS
@given(st.data())
def test_a_reason_names_the_field_and_kind_never_the_value(data: st.DataObject) -> None:
    identifier = data.draw(st.one_of(phone(), postal_code(), numeric_date(), email(), street_address()))
    reasons = check_text(data.draw(in_prose(identifier)), NOTE)
    assert reasons
    for reason in reasons:
        assert reason.field == "note"
        assert reason.code.startswith("note_contains_")
        assert not any(ch.isdigit() for ch in reason.message)
        assert "example" not in reason.message


def test_ascii_text_is_its_own_normal_form_and_skeleton_character_by_character() -> None:
    """The premise of the ASCII fast path in ``normalise``, ``_strip_marks`` and ``skeleton``:
    every ASCII character survives each step of the full path unchanged."""
    import unicodedata

    from schemas import free_text

    for ch in map(chr, range(128)):
        assert unicodedata.category(ch) not in ("Cf", "Mn", "Me"), repr(ch)
        assert unicodedata.normalize("NFKC", ch) == ch == unicodedata.normalize("NFKD", ch)
        assert free_text._canonical(ch) == ch, repr(ch)
        assert ch.translate(free_text._LOOKALIKES) == ch, repr(ch)
    everything = "".join(map(chr, range(128)))
    assert free_text.skeleton(everything) == everything
    # and the slow path still runs for the rest: a full-width digit and a Cyrillic "o"
    assert free_text.skeleton("Ｒ\u043em 4\u200b0５") == "Rom 405"
