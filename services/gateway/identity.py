"""Who is signed in, and as whom they act (pure): validated claims + directory → actor.

A token's ``groups`` claim lists group paths:

* ``/agencies/<agency_id>/<role>``: the person (or a partner system's service account) acts for
  that agency in that role; ``<role>`` is a contact role of the directory
  (``community_engagement_team`` chairs a district's table, ``staff_sergeant``, ``cmb_manager``,
  ``table_representative``…) or ``system`` (a partner agency's own system);
* ``/commande/analyst``, ``/commande/operator``: staff without an agency.

Only what the directory confirms counts (:func:`resolve`): the agency exists and is an active
member today, and a CMB post is held at a police CMB. The actor a command carries is then chosen
here (:func:`chair_actor`, :func:`agency_actor`, :func:`cmb_actor`) from those capacities; whether
that actor may do what it asks stays convening's and intake's decision, never the gateway's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from directory.model import AgencyType, ContactRole, Directory
from schemas.base import Actor, ActorRole

AGENCIES_GROUP = "agencies"
STAFF_GROUP = "commande"
SYSTEM_ROLE = "system"
STAFF_ROLES = frozenset({"analyst", "operator"})
CMB_POSTS = frozenset({ContactRole.STAFF_SERGEANT.value, ContactRole.SERGEANT.value,
                       ContactRole.COMMUNITY_ENGAGEMENT_TEAM.value, ContactRole.CMB_MANAGER.value})
"""Posts that exist only at a police CMB."""
CHAIR_POST = ContactRole.COMMUNITY_ENGAGEMENT_TEAM.value
"""The CMB's Community Engagement Team chairs its district's table."""
EVENT_REQUEST_POSTS = frozenset({ContactRole.CMB_MANAGER.value, ContactRole.STAFF_SERGEANT.value})
"""Who follows up community event requests: the CMB manager, and the Staff Sergeant it escalates to."""
KNOWN_ROLES = frozenset({r.value for r in ContactRole} | {SYSTEM_ROLE})
TaskRole = Literal["lead", "assisting"]


@dataclass(frozen=True, slots=True)
class Membership:
    """One ``/agencies/<agency_id>/<role>`` group of a token."""

    agency_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Principal:
    """What a validated token says (nothing checked against the directory yet).

    Attributes:
        subject: the token's ``sub`` (an opaque id; never logged).
        client_id: the client the token was issued to (``azp``).
        memberships: the agency groups, in token order.
        staff: ``analyst`` / ``operator`` when the token carries them.
        unrecognised: group paths that mean nothing here (reported to the person by ``/v1/me``).
    """

    subject: str
    client_id: str | None
    memberships: tuple[Membership, ...]
    staff: frozenset[str]
    unrecognised: tuple[str, ...] = ()


def principal_from_claims(claims: Mapping[str, Any], groups_claim: str = "groups") -> Principal:
    """The principal of validated ``claims``; a missing or malformed groups claim means none."""
    raw = claims.get(groups_claim)
    groups = [g for g in raw if isinstance(g, str)] if isinstance(raw, list) else []
    memberships: list[Membership] = []
    staff: set[str] = set()
    unrecognised: list[str] = []
    for path in groups:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == AGENCIES_GROUP and all(parts):
            membership = Membership(parts[1], parts[2])
            if membership not in memberships:
                memberships.append(membership)
        elif len(parts) == 2 and parts[0] == STAFF_GROUP and parts[1] in STAFF_ROLES:
            staff.add(parts[1])
        else:
            unrecognised.append(path[:200])
    client = claims.get("azp")
    return Principal(subject=str(claims.get("sub", "")),
                     client_id=client if isinstance(client, str) else None,
                     memberships=tuple(memberships), staff=frozenset(staff),
                     unrecognised=tuple(unrecognised))


@dataclass(frozen=True, slots=True)
class Capacity:
    """A membership the directory confirms: this agency, this post, these districts."""

    agency_id: str
    role: str
    agency_type: AgencyType
    districts: tuple[str, ...]

    @property
    def is_cmb(self) -> bool:
        """Held at a police CMB."""
        return self.agency_type is AgencyType.POLICE_CMB

    @property
    def chairs(self) -> bool:
        """The district table's chair (the CMB's Community Engagement Team)."""
        return self.is_cmb and self.role == CHAIR_POST


@dataclass(frozen=True, slots=True)
class Identity:
    """A principal resolved through the directory.

    Attributes:
        principal: what the token said.
        capacities: the memberships the directory confirms, in token order.
        refused: why other memberships do not count (sentences without personal data).
    """

    principal: Principal
    capacities: tuple[Capacity, ...]
    refused: tuple[str, ...] = ()

    @property
    def agencies(self) -> frozenset[str]:
        """Every agency this person may act for."""
        return frozenset(c.agency_id for c in self.capacities)

    @property
    def districts(self) -> frozenset[str]:
        """Every district whose table one of those agencies serves."""
        return frozenset(d for c in self.capacities for d in c.districts)

    @property
    def analyst(self) -> bool:
        """Reads de-identified timelines of every table; acts for no agency."""
        return "analyst" in self.principal.staff

    def cmb_districts(self) -> frozenset[str]:
        """Districts whose CMB this person belongs to (any post)."""
        return frozenset(d for c in self.capacities if c.is_cmb for d in c.districts)


def resolve(principal: Principal, directory: Directory, on: date) -> Identity:
    """Keep the memberships the directory confirms on ``on`` (a local date)."""
    capacities: list[Capacity] = []
    refused: list[str] = []
    for m in principal.memberships:
        org = directory.organization(m.agency_id)
        if org is None:
            refused.append(f"{m.agency_id}: not an agency of directory {directory.version}")
        elif not org.is_active(on):
            refused.append(f"{m.agency_id}: not an active member of any table on {on.isoformat()}")
        elif m.role not in KNOWN_ROLES:
            refused.append(f"{m.agency_id}: {m.role!r} is not a role the directory knows")
        elif m.role in CMB_POSTS and org.agency_type is not AgencyType.POLICE_CMB:
            refused.append(f"{m.agency_id}: {m.role} is a post of a police CMB only")
        else:
            capacities.append(Capacity(org.agency_id, m.role, org.agency_type, org.districts))
    return Identity(principal, tuple(capacities), tuple(refused))


@dataclass(frozen=True, slots=True)
class NoAgency:
    """Nobody to act as: the sign-in maps to no agency (an analyst, an unknown group)."""

    code: str = "no_agency"
    message: str = ("your sign-in maps to no agency of the directory, so you cannot issue "
                    "table commands; ask your identity administrator for your agency's group")


def _prefer(capacities: Iterable[Capacity], district: str | None) -> list[Capacity]:
    """Capacities serving ``district`` first (stable otherwise)."""
    caps = list(capacities)
    return sorted(caps, key=lambda c: district is None or district not in c.districts)


def _fallback_role(cap: Capacity) -> ActorRole:
    return "cmb" if cap.is_cmb else "member"


def chair_actor(identity: Identity, district: str | None) -> Actor | NoAgency:
    """The actor of a chair's command (decide, assign, conclude, reopen) on a situation of
    ``district`` (``None`` when the gateway does not know it yet).

    A chair of that district acts as ``table_chair``; anyone else is still named, in their own
    capacity, so convening refuses the command with a ``CommandRejected`` naming them.
    """
    if not identity.capacities:
        return NoAgency()
    chairs = _prefer((c for c in identity.capacities if c.chairs), district)
    if chairs:
        return Actor(agency_id=chairs[0].agency_id, role="table_chair")
    cap = _prefer(identity.capacities, district)[0]
    return Actor(agency_id=cap.agency_id, role=_fallback_role(cap))


def agency_actor(identity: Identity, tasks: Mapping[str, TaskRole]) -> Actor | NoAgency:
    """The actor of an agency's command on a situation (respond, intervene): an agency of this
    person that holds a task there (``tasks``: agency → lead or assisting), as lead or assisting
    agency; else their first agency as a member (convening refuses: not assigned)."""
    if not identity.capacities:
        return NoAgency()
    for cap in identity.capacities:
        task = tasks.get(cap.agency_id)
        if task is not None:
            role: ActorRole = "lead_agency" if task == "lead" else "assisting_agency"
            return Actor(agency_id=cap.agency_id, role=role)
    cap = identity.capacities[0]
    return Actor(agency_id=cap.agency_id, role=_fallback_role(cap))


def cmb_actor(identity: Identity, district: str | None) -> Actor | NoAgency:
    """The actor of an event-request follow-up (schedule, decline, withdraw): the CMB manager or
    Staff Sergeant of a CMB (preferring ``district``'s) acts as ``cmb``; anyone else is named in
    their own capacity, so intake refuses it with its reasons."""
    if not identity.capacities:
        return NoAgency()
    posts = _prefer((c for c in identity.capacities if c.is_cmb and c.role in EVENT_REQUEST_POSTS),
                    district)
    if posts:
        return Actor(agency_id=posts[0].agency_id, role="cmb")
    cap = _prefer(identity.capacities, district)[0]
    return Actor(agency_id=cap.agency_id, role="table_chair" if cap.chairs else "member")
