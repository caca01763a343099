"""Who may read what through the gateway's queries (pure).

Everything the queries return is de-identified; still, a person sees only their own tables:

* a situation's timeline: its district's CMB (chair, Staff Sergeant, manager), an agency invited
  to a meeting for it or assigned to it, and analysts (who report on every table);
* an agenda, a meeting list, assignments: only their own agencies' (the queries select by them);
* a command's outcome: the agency that issued it.
"""

from __future__ import annotations

from collections.abc import Collection

from services.gateway.identity import Identity


def may_see_situation(identity: Identity, district: str, invited: Collection[str],
                      assigned: Collection[str]) -> bool:
    """Whether ``identity`` may read the timeline of a situation of ``district``."""
    if identity.analyst or district in identity.cmb_districts():
        return True
    return bool(identity.agencies & (set(invited) | set(assigned)))


def may_see_command(identity: Identity, issuing_agency: str) -> bool:
    """Whether ``identity`` may read what became of a command ``issuing_agency`` issued."""
    return issuing_agency in identity.agencies


def table_districts(identity: Identity, all_districts: Collection[str]) -> list[str]:
    """The tables whose meetings ``identity`` sees (every table for an analyst), sorted."""
    return sorted(set(all_districts) if identity.analyst else identity.districts & set(all_districts))
