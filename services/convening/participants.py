"""Who is invited to the table for a situation, and why (pure).

The district's police CMB (its Community Engagement Team chairs), the originating agency, and every
organization active on the meeting's local date that serves the district and acts on at least one
of the situation's risk categories. The order is deterministic: CMB, originator, then by name and
agency id; an organization that qualifies twice appears once with every reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from directory.model import AgencyType, Directory
from schemas.errors import ConfigurationError
from services.convening.model import InviteReason, Participant, SituationBrief


def select_participants(
    directory: Directory,
    situation: SituationBrief,
    on: date,
    category_sectors: Mapping[str, frozenset[str]] | None = None,
) -> tuple[Participant, ...]:
    """The participants ``situation`` needs at its district's table on local date ``on``.

    ``category_sectors`` (risk category → sectors acting on it, from the risk taxonomy) fills
    each match's ``matched_sectors``; selection itself uses the categories organizations list.

    Raises:
        ConfigurationError: the district has no active CMB on ``on`` (the table cannot sit).
    """
    cmb = directory.cmb(situation.district, on)
    if cmb is None:
        raise ConfigurationError(
            f"district {situation.district!r} has no active police CMB on {on.isoformat()} "
            f"in directory version {directory.version}"
        )
    wanted = set(situation.risk_categories)
    chosen: dict[str, tuple[str, set[InviteReason], set[str]]] = {}

    def add(agency_id: str, name: str, reason: InviteReason, matched: set[str]) -> None:
        entry = chosen.setdefault(agency_id, (name, set(), set()))
        entry[1].add(reason)
        entry[2].update(matched)

    add(cmb.agency_id, cmb.name, InviteReason.DISTRICT_CMB, set())
    originator = directory.organization(situation.originating_agency)
    add(
        situation.originating_agency,
        originator.name if originator else situation.originating_agency,
        InviteReason.ORIGINATING_AGENCY,
        set(),
    )
    for org in directory.members(situation.district, on):
        matched = wanted & set(org.risk_categories)
        if matched and org.agency_type is not AgencyType.POLICE_CMB:
            add(org.agency_id, org.name, InviteReason.SECTOR_MATCH, matched)

    taxonomy = category_sectors or {}

    def sectors(agency_id: str) -> tuple[str, ...]:
        org = directory.organization(agency_id)
        if org is None:
            return ()
        acting = set().union(*(taxonomy.get(c, frozenset()) for c in chosen[agency_id][2]))
        return tuple(sorted(acting.intersection(org.sectors)))

    def order(agency_id: str) -> tuple[int, str, str]:
        rank = 0 if agency_id == cmb.agency_id else 1 if agency_id == situation.originating_agency else 2
        return (rank, chosen[agency_id][0].casefold(), agency_id)

    return tuple(
        Participant(
            agency_id=agency_id,
            name=chosen[agency_id][0],
            reasons=tuple(r for r in InviteReason if r in chosen[agency_id][1]),
            matched_categories=tuple(sorted(chosen[agency_id][2])),
            matched_sectors=sectors(agency_id),
        )
        for agency_id in sorted(chosen, key=order)
    )


def participants_of(
    directory: Directory, category_sectors: Mapping[str, frozenset[str]] | None = None,
) -> Callable[[SituationBrief, date], tuple[Participant, ...]]:
    """:func:`select_participants` on one directory, for a batch placed together: each answer is
    computed once per situation shape (district, originator, risk categories) and date, the only
    things it depends on. A partner's backlog repeats a few shapes thousands of times."""
    chosen: dict[tuple[str, str, tuple[str, ...], date], tuple[Participant, ...]] = {}

    def of(situation: SituationBrief, on: date) -> tuple[Participant, ...]:
        key = (situation.district, situation.originating_agency, situation.risk_categories, on)
        found = chosen.get(key)
        if found is None:
            found = chosen[key] = select_participants(directory, situation, on, category_sectors)
        return found

    return of
