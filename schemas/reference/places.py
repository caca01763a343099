"""Place names as people write them, and the one lookup that turns them into a place (pure).

A partner or a member of the public writes ``Acton``, `` burlington ``, ``HALTON-HILLS``,
``Géorgetown``, ``Town of Milton`` or ``Glen Williams, ON``; the services need the municipality
code (``acton``, ``burlington``, ``halton_hills``...). :func:`spelling` reduces a name to the key it
is looked up by, read as a person sees it (:func:`schemas.free_text.skeleton`: invisible format
characters dropped, full-width and lookalike letters folded, accents removed), then

* case folded; every run of spaces, hyphens, apostrophes, dots or other punctuation is one ``_``;
* a leading ``town of`` / ``city of`` / ``township of`` / ``village of`` / ``hamlet of`` and a
  trailing ``ON`` / ``Ont`` / ``Ontario`` / ``Canada`` dropped.

:func:`index` maps every key of every Halton municipality (code, name, aliases, communities)
and of every place outside Halton that the reference data lists (``outside_halton`` in
``districts.yaml``) to that place; :meth:`schemas.reference.Reference.place` is the lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from schemas.free_text import skeleton
from schemas.reference.models import District, Municipality, OutsidePlace

Place = Municipality | OutsidePlace
"""A Halton municipality (it has a district) or a known place outside Halton (it has none)."""

_PREFIX = re.compile(r"^(?:town|city|township|village|hamlet|municipality)_of_(?=.)")
_SUFFIX = re.compile(r"(?<=.)_(?:on|ont|ontario|canada)$")


def spelling(text: str) -> str:
    """The key a place name is looked up by (``" Glen-Williams, ON "`` -> ``glen_williams``)."""
    key = re.sub(r"[^a-z0-9]+", "_", skeleton(text).casefold()).strip("_")
    key = _PREFIX.sub("", key)
    while True:
        shorter = _SUFFIX.sub("", key)
        if shorter == key:
            return key
        key = shorter


def _spellings(place: Place) -> Iterator[str]:
    names: tuple[str, ...] = (place.code, place.name, *place.aliases)
    if isinstance(place, Municipality):
        names += place.communities
    for name in names:
        key = spelling(name)
        if key:
            yield key


def _places(districts: Iterable[District], outside: Iterable[OutsidePlace]) -> Iterator[Place]:
    for district in districts:
        yield from district.municipalities
    yield from outside


def index(districts: Iterable[District], outside: Iterable[OutsidePlace]) -> Mapping[str, Place]:
    """Every spelling key of every place -> the place (the first, should two share a key:
    :func:`collisions` reports that when the reference data is loaded)."""
    found: dict[str, Place] = {}
    for place in _places(districts, outside):
        for key in _spellings(place):
            found.setdefault(key, place)
    return found


def collisions(districts: Iterable[District], outside: Iterable[OutsidePlace]) -> Iterator[str]:
    """A problem for each spelling that two places share (the lookup would be ambiguous)."""
    seen: dict[str, Place] = {}
    for place in _places(districts, outside):
        for key in _spellings(place):
            other = seen.setdefault(key, place)
            if other is not place and other.code != place.code:
                yield f"the spelling {key!r} names both {other.code} and {place.code}"


def written_names(districts: Iterable[District]) -> tuple[str, ...]:
    """The names of Halton's municipalities and communities, sorted: what a reason lists as the
    accepted spellings (any case, accents, spacing or hyphens; codes and aliases also work)."""
    return tuple(sorted({name for d in districts for m in d.municipalities
                         for name in (m.name, *m.communities)}))


def accepted_spellings(districts: Iterable[District], room: int) -> str:
    """The accepted names for a reason's message, in at most ``room`` characters: every name
    and community (:func:`written_names`), or, should a longer list of communities not fit, the
    municipalities' names and where the communities are listed."""
    every = tuple(districts)
    full = ", ".join(written_names(every))
    if len(full) <= room:
        return full
    short = ", ".join(sorted({m.name for d in every for m in d.municipalities}))
    return (short + " or one of their communities (schemas/reference/districts.yaml)")[:room]


def towns(districts: Iterable[District]) -> tuple[str, ...]:
    """The municipalities (towns and city) Halton's districts cover, sorted by name."""
    return tuple(sorted({m.town for d in districts for m in d.municipalities},
                        key=lambda t: t.split(" of ", 1)[-1]))
