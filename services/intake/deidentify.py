"""Filter 2 hygiene: does a referral's de-identified part still identify someone? (pure)

Two things a partner types travel de-identified: the narrative (to the forever-kept situations
topic and every invited agency's agenda) and the ``referral_ref`` (in record keys, the situation,
and e-mail subjects). Both are checked with :mod:`schemas.free_text`, which reads text as a person
sees it (no zero-width or soft-hyphen tricks, no full-width or lookalike letters). Each check
returns at most one :class:`~schemas.referrals.Reason` per kind of identifier, with the field and
a sentence saying what to do; messages never quote the text that matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schemas.free_text import PATTERNS, FreeText, check_text, name_tokens, skeleton
from schemas.referrals import Reason

FIELD = "summary.narrative"
NARRATIVE = FreeText(
    field=FIELD, code_prefix="narrative", label="narrative",
    contact_advice="contact data goes in the subject",
    name_what="a name of a person in the subject block",
)
NAME_CODE = "narrative_contains_subject_name"

REF_FIELD = "referral_ref"
REF_ADVICE = (
    "a reference travels in record keys, on the situation and in e-mail subjects, so it must be "
    "an opaque token from your own system (for example HSG-2026-0042), never a phone number, "
    "e-mail address, health card number or name"
)
_REF_EMAIL = re.compile(
    r"(?:^|[._-])at[._-][A-Za-z0-9-]+(?:[._-][A-Za-z0-9-]+)*[._-](?:com|org|net|ca|gov|edu|info)$|"
    r"\.(?:com|org|net|ca|gov|edu|info)$",
    re.IGNORECASE)
"""A reference cannot hold ``@``: an e-mail hides in it as ``name.at.example.org`` or a domain."""
_REF_HEALTH_CARD = re.compile(r"(?<![\w])\d{4}[._-]\d{3}[._-]\d{3}(?:[._-]?[A-Za-z]{2})?(?![\w])")
"""Only the written form (``1234-567-890``): ``2026-001234`` is a year and a sequence number, and
ten digits in a row are refused as a phone number anyway."""
_REF_FINDERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", _REF_EMAIL), ("phone", PATTERNS["phone"]), ("health_card", _REF_HEALTH_CARD),
)
"""No date or postal-code check: agencies number files by date, and six random letters and
digits (``A1B2C3``) read as a postal code; a reference with the subject's name is refused below."""
_REF_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
"""The words of a reference: split at ``._-``, between letters and digits, and at camelCase."""
_WHAT = {
    "email": "an e-mail address", "phone": "a phone number (ten digits in a row read as one)",
    "health_card": "a number like a health card number",
}


def check_narrative(narrative: str, names: Iterable[str] = ()) -> list[Reason]:
    """Every kind of identifier found in ``narrative``: one reason per kind.

    ``names`` (the subject's given and family names) are matched as whole words, ignoring case,
    accents, lookalike letters, full-width forms and invisible characters: a false alarm costs the
    agency a rewording, a miss discloses a person.
    """
    return check_text(narrative, NARRATIVE, names)


def _ref_reason(kind: str, what: str) -> Reason:
    return Reason(code=f"referral_ref_contains_{kind}", field=REF_FIELD,
                  message=f"The referral_ref looks like it contains {what}: choose another "
                          f"reference; {REF_ADVICE}.")


def ref_names(ref: str, names: Iterable[str]) -> bool:
    """Whether ``ref`` holds a word of ``names``: a whole part of the reference, or (for names of
    four letters or more) any run of its letters (``AVERYTESTY01``)."""
    wanted = name_tokens(names)
    plain = skeleton(ref)
    parts = {p.casefold() for p in _REF_PART.findall(plain)}
    letters = "".join(ch for ch in plain.casefold() if ch.isalpha())
    return bool(parts & wanted) or any(len(t) >= 4 and t.isalpha() and t in letters for t in wanted)


def check_reference(ref: str, names: Iterable[str] = ()) -> list[Reason]:
    """Every kind of identifier in a ``referral_ref``: one reason per kind.

    A reference carries an e-mail (spelled with ``at`` or as a domain), a phone number, a
    health-card-like number, or a word of the subject's ``names``.
    """
    plain = skeleton(ref)
    reasons = [_ref_reason(kind, _WHAT[kind]) for kind, pattern in _REF_FINDERS
               if pattern.search(plain)]
    if ref_names(ref, names):
        reasons.append(_ref_reason("subject_name", "a name of a person in the subject block"))
    return reasons


__all__ = ["FIELD", "NAME_CODE", "NARRATIVE", "check_narrative", "check_reference", "name_tokens"]
