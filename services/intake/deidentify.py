"""Filter 2 hygiene: does a de-identified narrative still identify someone? (pure)

Each check returns at most one :class:`~schemas.referrals.Reason` per kind of identifier, with
the field path and a sentence saying what to remove. Messages never quote the text that matched:
that text is the personal data we are keeping out of the topics and logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schemas.referrals import Reason

FIELD = "summary.narrative"

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_STREET_TYPES = (
    r"(?:street|st|avenue|ave|road|rd|drive|dr|crescent|cres|court|ct|boulevard|blvd|lane|ln|"
    r"way|place|pl|trail|trl|line|sideroad|concession|terrace|circle|cir|parkway|pkwy|"
    r"highway|hwy|square|sq|gate|grove|heights|hts)"
)

PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("narrative_contains_email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
     "The narrative contains an e-mail address: remove it (contact data goes in the subject)."),
    ("narrative_contains_phone", re.compile(
        r"(?<![\w])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?![\w])"),
     "The narrative contains a phone number: remove it (contact data goes in the subject)."),
    ("narrative_contains_postal_code", re.compile(
        r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.IGNORECASE),
     "The narrative contains a postal code: remove it; the municipality is enough."),
    ("narrative_contains_date", re.compile(
        r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|"
        rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}"
        rf"(?:\s+\d{{4}})?\b|\b{_MONTHS}\s+\d{{4}}\b", re.IGNORECASE),
     "The narrative contains a date: remove it; say 'this week' or 'recently' instead."),
    ("narrative_contains_health_card", re.compile(
        r"(?<![\w])\d{4}[\s-]?\d{3}[\s-]?\d{3}(?:[\s-]?[A-Za-z]{2})?(?![\w])"),
     "The narrative contains a number like a health card number: remove it."),
    ("narrative_contains_street_address", re.compile(
        rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Za-z][\w'-]*\s+){{1,4}}{_STREET_TYPES}\b\.?", re.IGNORECASE),
     "The narrative contains a street address: remove it; the municipality is enough."),
)

NAME_CODE = "narrative_contains_subject_name"
NAME_MESSAGE = (
    "The narrative contains a name of a person in the subject block: remove it and refer to "
    "people by role (the youth, the parent, the neighbour)."
)


def _words(text: str) -> set[str]:
    """Runs of letters and digits, case-folded: names and narrative split the same way."""
    return {w.casefold() for w in re.findall(r"[^\W_]+", text)}


def name_tokens(names: Iterable[str]) -> frozenset[str]:
    """The words of ``names`` (two letters or more) to look for, lower-cased."""
    tokens: set[str] = set()
    for name in names:
        tokens.update(t for t in _words(name) if len(t) >= 2)
    return frozenset(tokens)


def check_narrative(narrative: str, names: Iterable[str] = ()) -> list[Reason]:
    """Every kind of identifier found in ``narrative``: one reason per kind.

    Names are matched as whole words, ignoring case: a false alarm costs the agency a rewording,
    a miss discloses a person.
    """
    reasons = [Reason(code=code, field=FIELD, message=message)
               for code, pattern, message in PATTERNS if pattern.search(narrative)]
    if _words(narrative) & name_tokens(names):
        reasons.append(Reason(code=NAME_CODE, field=FIELD, message=NAME_MESSAGE))
    return reasons
