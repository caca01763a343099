"""Free text that travels de-identified: does it still identify someone? (pure)

Every text a person types that reaches a de-identified topic goes through :func:`check_text`
where it enters: a referral's narrative and reference (intake), a table decision's note and an
assignment answer's reason (convening), the CMB's notes to a requester (intake's event requests).
Each call returns at most one :class:`~schemas.referrals.Reason` per kind of identifier, naming
the field and the kind, never the text that matched: that text is the personal data we keep out
of the topics and logs. A false alarm costs a rewording; a miss discloses a person.

Text is read as a person sees it, not as it is encoded, so formatting hides nothing:

1. format characters (Unicode category Cf: zero-width space and joiners, soft hyphen, word
   joiner, byte-order and direction marks) are dropped;
2. NFKC, which folds full-width letters and digits, ``＠``, no-break and narrow spaces,
   superscript and circled digits into their plain forms; then every dash or minus sign becomes
   ``-``, every space ``' '``, slash and dot lookalikes ``/`` and ``.``, and every decimal digit
   its ASCII digit (:func:`normalise`);
3. for matching, accents are removed and Cyrillic, Greek and Armenian letters (and Latin small
   capitals) that look like ASCII letters are read as them (:func:`skeleton`); names are compared
   case-folded, patterns ignore case.

A word that mixes Latin letters with Cyrillic, Greek, Armenian or Cherokee letters is flagged on
its own: in English or French prose it is a disguise, not a spelling.

The checks are functions of the text only (no I/O), shared by every service that lets free text
through; partners may run them before sending.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from schemas.referrals import Reason

# -- normalisation ---------------------------------------------------------------------------

_DASH_LIKE = frozenset("\u2212\u2043\u02d7\u2796\ufe63\uff0d")
"""Dashes outside category Pd: minus signs, hyphen bullet, modifier minus."""
_SLASH_LIKE = frozenset("\u2044\u2215\u2571\u29f8\uff0f")
_DOT_LIKE = frozenset("\u00b7\u2022\u2024\u2027\u2219\u30fb\uff0e\uff65")

def _small_capitals() -> dict[str, str]:
    """LATIN LETTER SMALL CAPITAL A..Z (those Unicode defines) -> a..z: NFKC keeps them."""
    found: dict[str, str] = {}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        try:
            found[unicodedata.lookup(f"LATIN LETTER SMALL CAPITAL {letter.upper()}")] = letter
        except KeyError:
            continue
    return found


_LOOKALIKES = str.maketrans({
    # Cyrillic
    "\u0430": "a", "\u0435": "e", "\u04bb": "h", "\u0456": "i", "\u0458": "j", "\u043a": "k",
    "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y", "\u0445": "x", "\u0455": "s",
    "\u0501": "d", "\u051b": "q", "\u051d": "w", "\u04cf": "l", "\u04af": "y", "\u0433": "r",
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u0405": "S", "\u0406": "I", "\u04c0": "I",
    "\u0408": "J", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P",
    "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0423": "Y", "\u04ae": "Y", "\u051a": "Q",
    "\u051c": "W", "\u04ba": "H", "\u0500": "D",
    # Greek
    "\u03b1": "a", "\u03b3": "y", "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k",
    "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x",
    "\u03c2": "c", "\u03c9": "w",
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
    "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X",
    # Armenian
    "\u0585": "o", "\u057d": "u", "\u0570": "h", "\u0578": "n", "\u0581": "g", "\u0566": "q",
    # Latin letters outside ASCII that pass for ASCII ones
    "\u0131": "i", "\u0237": "j", "\u0251": "a", "\u0261": "g", "\u0269": "i",
    **_small_capitals(),
})
"""Letters read as the Latin letter they pass for (the common Unicode confusables)."""

_DISGUISE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})
_MICRO = "\u03bc"
"""NFKC turns the micro sign of ``µg`` into Greek mu: a unit, not a disguise."""


@lru_cache(maxsize=4096)
def _canonical(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category == "Pd" or ch in _DASH_LIKE:
        return "-"
    if category == "Zs":
        return " "
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if ch in _SLASH_LIKE:
        return "/"
    if ch in _DOT_LIKE:
        return "."
    return ch


def _drop_format(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    """``text`` as a reader sees it: no format characters, NFKC, one dash, one space, ASCII digits.

    ASCII text is already that (no format character, nothing for NFKC to fold, no other dash,
    space or digit; ``tests/unit/test_free_text.py`` checks it character by character), and most
    text is ASCII: it is returned as it is, without a pass per character.
    """
    if text.isascii():
        return text
    return "".join(_canonical(ch) for ch in unicodedata.normalize("NFKC", _drop_format(text)))


def _strip_marks(text: str) -> str:
    if text.isascii():  # no combining mark, nothing to decompose
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me"))


def skeleton(text: str) -> str:
    """What the patterns match: :func:`normalise`, accents removed, lookalike letters as Latin.

    Case is kept (some patterns need a capital); compare names with ``casefold()``.
    """
    plain = _strip_marks(normalise(text))
    return plain if plain.isascii() else plain.translate(_LOOKALIKES)


def words(text: str) -> set[str]:
    """The words of ``text`` (runs of letters and digits) as compared with names: skeleton,
    case-folded."""
    return set(re.findall(r"[^\W_]+", skeleton(text).casefold()))


def name_tokens(names: Iterable[str]) -> frozenset[str]:
    """The words of ``names`` (two characters or more) to look for."""
    return frozenset(t for name in names for t in words(name) if len(t) >= 2)


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ", 1)[0]


def has_mixed_script_word(text: str) -> bool:
    """Whether a word mixes Latin letters with Cyrillic, Greek, Armenian or Cherokee ones."""
    for word in re.findall(r"[^\W\d_]+", _strip_marks(normalise(text))):
        if word.isascii():
            continue
        scripts = {_script(ch) for ch in word if ch != _MICRO}
        if "LATIN" in scripts and scripts & _DISGUISE_SCRIPTS:
            return True
    return False


# -- the patterns (matched on the skeleton) ---------------------------------------------------

_SEP = r"(?:\s*[._/-]\s*|\s+)"
"""Between the groups of a phone or card number: a dash, dot, slash, underscore or spaces."""

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MOIS = (
    r"(?:janv(?:ier)?|fev(?:r(?:ier)?)?|mars|avr(?:il)?|mai|juin|juil(?:let)?|aout|"
    r"sept(?:embre)?|oct(?:obre)?|nov(?:embre)?|dec(?:embre)?)\.?"
)
"""French month names, without accents (matched on the skeleton)."""
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DATE_WORDS = (
    r"(?:on|since|until|till|dated|le|depuis|jusqu'au|"
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|saturday|"
    r"sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
)
"""Words that make ``5/1`` a date: alone, ``3/4`` or ``24/7`` is a fraction or a schedule."""
_NOT_A_DAY = r"(?!(?:1/[234]|2/3|3/4|24/7|\d{1,2}/10)\b)"
"""Even after such a word, a common fraction, ``24/7`` or a score out of ten (``on 3/4 of the
days``, ``on 24/7 watch``, ``since 8/10 pain``) is not a date."""

_PLAIN_STREET_TYPES = (
    r"(?:street|st|avenue|ave|road|rd|crescent|cres|boulevard|blvd|sideroad|concession|"
    r"parkway|pkwy|highway|hwy)"
)
"""Street types that are not ordinary words after a number and a name."""
_WORD_STREET_TYPES = (
    r"(?:drive|dr|court|ct|lane|ln|way|place|pl|trail|trl|line|terrace|circle|cir|square|sq|"
    r"gate|grove|heights|hts)"
)
"""Street types that are also ordinary words (``3 family court hearings``)."""
_NOT_STREET_NAMES = (
    r"(?:in|on|at|to|the|a|an|of|for|per|and|or|by|from|with|into|onto|over|under|than|about|"
    r"times?|hours?|hrs?|minutes?|mins?|days?|weeks?|months?|years?|yrs?|km|kms|kilomet(?:re|er)s?|"
    r"blocks?|miles?|met(?:re|er)s?)"
)
"""Words that do not name a street: ``3 times in court`` and ``a 2 hour drive`` are not addresses."""
_ENGLISH_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?,?\s+(?P<name>(?:(?!{_NOT_STREET_NAMES}\b)[A-Za-z][\w'-]*\s+){{1,4}})"
    rf"(?P<type>{_PLAIN_STREET_TYPES}|{_WORD_STREET_TYPES})\b\.?(?:\s+(?P<next>[A-Za-z]+))?",
    re.IGNORECASE)
_PLAIN_TYPE = re.compile(_PLAIN_STREET_TYPES, re.IGNORECASE)
_AFTER_AN_ADDRESS = frozenset({
    "in", "with", "and", "near", "since", "for", "on", "at", "to", "where", "which", "who", "or",
    "by", "from", "until", "after", "before", "but", "is", "was", "has", "had", "apt", "apartment",
    "unit", "suite", "en", "et", "dans", "pres", "depuis", "avec", "ou",
})
"""Words that may follow an address in a sentence (``at 12 maple court in Milton``)."""


def _english_address(text: str) -> bool:
    """A number, one to four name words and a street type. When the type is also an ordinary
    word and nothing is capitalised, the next word must not carry the phrase on: ``3 family
    court hearings`` is not an address, ``lives at 12 maple court, near...`` is."""
    for match in _ENGLISH_ADDRESS.finditer(text):
        if _PLAIN_TYPE.fullmatch(match["type"]) or not (match["name"] + match["type"]).islower():
            return True
        following = match["next"]
        if following is None or following.casefold() in _AFTER_AN_ADDRESS:
            return True
    return False


_RUE_TYPES = (
    r"(?:rue|chemin|boulevard|boul|avenue|cote|rang|montee|allee|impasse|ruelle|sentier|"
    r"autoroute)"
)
"""French street types that are not ordinary words after a number."""
_PLACE_TYPES = r"(?:place|route|carre|square|terrasse|promenade|croissant|parc)"
"""French street types that are also ordinary words: the street's name must have a capital."""
_CIVIC = r"\b\d{1,6}(?:[a-df-z]\b)?,?\s+"
"""A civic number, its letter (not an ordinal's ``e``) and a comma, French style."""

PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|"
        r"[A-Za-z0-9._%+-]+\s?(?:@|[(\[{<]\s*(?:at|arobase)\s*[)\]}>])\s?[A-Za-z0-9-]+"
        r"(?:(?:\.|\s?[(\[{<]\s*(?:dot|point)\s*[)\]}>]\s?)[A-Za-z0-9-]+)*"
        r"(?:\.|\s?[(\[{<]\s*(?:dot|point)\s*[)\]}>]\s?)[A-Za-z]{2,24}\b|"
        r"\b[A-Za-z0-9._%+-]+\s+at\s+[A-Za-z0-9-]+\s+dot\s+(?:com|org|net|ca|gov|edu|info)\b",
        re.IGNORECASE),
    "phone": re.compile(
        rf"(?<![\w])(?:\+?1{_SEP}?)?\(?\d{{3}}\)?{_SEP}?\d{{3}}{_SEP}?\d{{4}}(?![\w])"),
    "postal_code": re.compile(
        r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s*[._/-]?\s*\d[ABCEGHJ-NPRSTV-Z]\d\b",
        re.IGNORECASE),
    "date": re.compile(
        r"\b\d{4}[-/._]\d{1,2}[-/._]\d{1,2}\b|\b\d{1,2}[-/._]\d{1,2}[-/._]\d{2,4}\b|"
        rf"\b(?:19|20)\d\d{_MONTH.replace('0?', '0')}{_DAY.replace('0?', '0')}\b|"
        rf"\b{_DATE_WORDS}\s+{_NOT_A_DAY}(?:{_MONTH}/{_DAY}|{_DAY}/{_MONTH})\b(?![/.-]\d)|"
        rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}"
        rf"(?:\s+\d{{4}})?\b|\b{_MONTHS}\s+\d{{4}}\b|"
        rf"\b\d{{1,2}}(?:er|re)?\s+{_MOIS}(?:\s+\d{{4}})?(?!\w)|\b{_MOIS}\s+\d{{4}}\b",
        re.IGNORECASE),
    "health_card": re.compile(
        rf"(?<![\w])\d{{4}}{_SEP}?\d{{3}}{_SEP}?\d{{3}}(?:{_SEP}?[A-Za-z]{{2}})?(?![\w])"),
    "french_address": re.compile(
        rf"{_CIVIC}{_RUE_TYPES}\s+[A-Za-z]|"
        rf"{_CIVIC}{_PLACE_TYPES}\s+(?:(?:de\s+la|de|du|des|d')\s*)?(?-i:[A-Z])",
        re.IGNORECASE),
}
"""The regular expressions, matched on the :func:`skeleton` of a text."""


def _street_address(text: str) -> bool:
    return _english_address(text) or PATTERNS["french_address"].search(text) is not None


def _pattern(kind: str) -> Callable[[str], bool]:
    compiled = PATTERNS[kind]
    return lambda text: compiled.search(text) is not None


FINDERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    *((kind, _pattern(kind)) for kind in ("email", "phone", "postal_code", "date", "health_card")),
    ("street_address", _street_address),
)
"""Each kind of identifier and how it is found on the :func:`skeleton` of a text."""

WHAT: dict[str, str] = {
    "email": "an e-mail address",
    "phone": "a phone number",
    "postal_code": "a postal code",
    "date": "a date",
    "health_card": "a number like a health card number",
    "street_address": "a street address",
    "mixed_script": "a word that mixes Latin letters with Cyrillic or Greek lookalikes",
}
ADVICE: dict[str, str] = {
    "postal_code": "the municipality is enough",
    "street_address": "the municipality is enough",
    "date": "say 'this week' or 'recently' instead",
    "health_card": "no number that could identify a person belongs here",
    "mixed_script": "type it again in plain letters (a disguised word is read as what it hides)",
}


@dataclass(frozen=True, slots=True)
class FreeText:
    """One free-text field that travels de-identified, and how its reasons read.

    Attributes:
        field: the dotted path named in a reason (``summary.narrative``, ``note``).
        code_prefix: the reasons' codes are ``{code_prefix}_contains_{kind}``.
        label: how a message names the field ("The {label} contains ...").
        contact_advice: what to do with contact data found in it.
        name_kind: the code's kind for a name of someone known (``subject_name``).
        name_what: how a message names that person.
        name_advice: what to write instead of the name.
    """

    field: str
    code_prefix: str
    label: str
    contact_advice: str = "contact details never go in text that travels de-identified"
    name_kind: str = "subject_name"
    name_what: str = "a name of a person concerned"
    name_advice: str = "refer to people by role (the youth, the parent, the neighbour)"

    def reason(self, kind: str) -> Reason:
        """The reason for ``kind``; the message names the field and the kind, never the value."""
        if kind == "name":
            return Reason(code=f"{self.code_prefix}_contains_{self.name_kind}", field=self.field,
                          message=f"The {self.label} contains {self.name_what}: remove it and "
                                  f"{self.name_advice}.")
        advice = ADVICE.get(kind, self.contact_advice)
        return Reason(code=f"{self.code_prefix}_contains_{kind}", field=self.field,
                      message=f"The {self.label} contains {WHAT[kind]}: remove it; {advice}.")


def found_kinds(text: str, names: Iterable[str] = ()) -> list[str]:
    """The kinds of identifier in ``text`` (in :data:`FINDERS` order, then
    ``name`` when a word of ``names`` is a word of the text, then ``mixed_script``)."""
    plain = skeleton(text)
    kinds = [kind for kind, found in FINDERS if found(plain)]
    if words(text) & name_tokens(names):
        kinds.append("name")
    if has_mixed_script_word(text):
        kinds.append("mixed_script")
    return kinds


def check_text(text: str, spec: FreeText, names: Iterable[str] = ()) -> list[Reason]:
    """Every kind of identifier found in ``text``, one reason per kind, for the field ``spec``.

    Args:
        text: what the person typed.
        spec: the field it was typed in.
        names: names of people the text must not name (whole words, any case, through
            accents, lookalike letters, full-width forms and invisible characters).
    """
    return [spec.reason(kind) for kind in found_kinds(text, names)]


__all__ = [
    "FINDERS", "PATTERNS", "FreeText", "check_text", "found_kinds", "has_mixed_script_word", "name_tokens",
    "normalise", "skeleton", "words",
]
