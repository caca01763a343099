"""The directory of partner organizations and district tables, shaped like Open Referral HSDS 3.0.

Pure data: frozen pydantic models and the queries convening, intake and notifier ask of them.
Reading the file is :mod:`directory.loader`'s job; nothing here touches the disk.

Model rules a validator checks (each failure names the path in the file):

* organization ids and names are unique; ``effective_to`` is after ``effective_from``;
* a contact's address fits its channel (an e-mail address, or an ``https://`` webhook URL);
* a public key is base64 of exactly 32 bytes (an X25519 key for libsodium sealed boxes), and
  so is a signing key (an Ed25519 public key that verifies the agency's signed referrals);
* the ``intake`` entry gives intake's signing key (it signs disclosure packages and the referrals
  its HTTP ingress received), with previous keys still accepted during a rotation;
* a police CMB has the four CMB roles; every table's district has exactly one CMB at a time;
* every district an organization serves has a table;
* a biweekly cadence has an anchor date that falls on its weekday.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.base import AgencyId, Code, IdentityRelease
from schemas.reference.calendar import TIMEZONE as TIMEZONE  # the directory's times are in it

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
_HTTPS = re.compile(r"^https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[^\s]*)?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgencyType(StrEnum):
    """What kind of partner an organization is (domain.md §1)."""

    POLICE_CMB = "police_cmb"
    JUSTICE = "justice"
    HOUSING = "housing"
    PUBLIC_HEALTH = "public_health"
    CHILD_YOUTH_MENTAL_HEALTH = "child_youth_mental_health"
    ADDICTION_SERVICES = "addiction_services"
    MUNICIPALITY = "municipality"
    EMS = "ems"
    MENTAL_HEALTH = "mental_health"
    CHILD_WELFARE = "child_welfare"
    WOMENS_SHELTER = "womens_shelter"
    DEVELOPMENTAL_SERVICES = "developmental_services"
    SCHOOL_BOARD = "school_board"
    HOSPITAL = "hospital"


class ContactRole(StrEnum):
    """Who, at an organization, a notice is for."""

    TABLE_REPRESENTATIVE = "table_representative"
    """Sits at the table: invitations, agendas, assignments."""
    INTAKE = "intake"
    """Sends referrals: ReferralAccepted / ReferralRejected, conclusions of its situations."""
    DISCLOSURES = "disclosures"
    """Receives sealed Filter-3/4 disclosures; falls back to the table representative."""
    STAFF_SERGEANT = "staff_sergeant"
    """CMB only: escalations of overdue responses."""
    SERGEANT = "sergeant"
    COMMUNITY_ENGAGEMENT_TEAM = "community_engagement_team"
    """CMB only: the table chair."""
    CMB_MANAGER = "cmb_manager"
    """CMB only: public event requests."""


CMB_ROLES: frozenset[ContactRole] = frozenset(
    {
        ContactRole.STAFF_SERGEANT,
        ContactRole.SERGEANT,
        ContactRole.COMMUNITY_ENGAGEMENT_TEAM,
        ContactRole.CMB_MANAGER,
    }
)


class Channel(StrEnum):
    """How a contact receives notices."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class Status(StrEnum):
    """HSDS 3.0 service status, applied to the organization's table membership."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DEFUNCT = "defunct"
    TEMPORARILY_CLOSED = "temporarily closed"


class NoticePreferences(_Frozen):
    """What a contact wants to receive beyond the essential notices."""

    opt_out_non_essential: bool = False
    """Reminders, agenda updates and conclusions to non-engaged members are skipped."""
    email_copy_of_referral_rejected: bool = False
    """An e-mail copy of ReferralRejected, besides the Kafka/HTTP answer."""


class RoleContact(_Frozen):
    """A role address (never a person) and how to reach it."""

    role: ContactRole
    channel: Channel
    address: str = Field(min_length=3, max_length=320)
    preferences: NoticePreferences = NoticePreferences()

    @model_validator(mode="after")
    def _address_fits_channel(self) -> Self:
        if self.channel is Channel.EMAIL and not _EMAIL.fullmatch(self.address):
            raise ValueError(f"{self.address!r} is not an e-mail address")
        if self.channel is Channel.WEBHOOK and not _HTTPS.fullmatch(self.address):
            raise ValueError(f"{self.address!r} is not an https:// URL")
        return self


class ChangeRecord(_Frozen):
    """HSDS ``metadata``: one audited change to an organization's entry."""

    last_action_date: date
    last_action_type: Literal["create", "update", "delete"]
    field_name: str = Field(min_length=1)
    previous_value: str = ""
    replacement_value: str = ""
    updated_by: str = Field(min_length=1)


class Organization(_Frozen):
    """A partner organization (HSDS ``organization`` with its table membership)."""

    id: UUID
    """The HSDS organization id."""
    agency_id: AgencyId
    """The slug the contracts use for this agency (``Actor.agency_id``, ``originating_agency``)."""
    name: str = Field(min_length=1, max_length=200)
    agency_type: AgencyType
    sectors: tuple[Code, ...] = Field(min_length=1)
    risk_categories: tuple[Code, ...] = ()
    """Risk categories this organization acts on; a CMB may list none (it sits at every table)."""
    districts: tuple[Code, ...] = Field(min_length=1)
    contacts: tuple[RoleContact, ...] = Field(min_length=1)
    public_key: str = Field(description="base64 X25519 public key for sealed disclosures")
    signing_key: str = Field(
        description="base64 Ed25519 public key that verifies the agency's signed referrals")
    status: Status = Status.ACTIVE
    effective_from: date
    effective_to: date | None = None
    """Last day of membership; ``None`` while open-ended."""
    metadata: tuple[ChangeRecord, ...] = ()

    @field_validator("public_key")
    @classmethod
    def _x25519(cls, value: str) -> str:
        return _key32(value, "public_key", "an X25519 key")

    @field_validator("signing_key")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        return _key32(value, "signing_key", "an Ed25519 key")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.agency_type is AgencyType.POLICE_CMB:
            missing = CMB_ROLES - {c.role for c in self.contacts}
            if missing:
                raise ValueError(f"a police CMB needs contacts for {sorted(missing)}")
        return self

    def is_active(self, on: date) -> bool:
        """Whether this organization is an active table member on ``on`` (a local date)."""
        if self.status != Status.ACTIVE or on < self.effective_from:
            return False
        return self.effective_to is None or on <= self.effective_to

    def contacts_for(self, role: ContactRole) -> tuple[RoleContact, ...]:
        """This organization's contacts for ``role``, in file order."""
        return tuple(c for c in self.contacts if c.role is role)


class Weekday(StrEnum):
    """Days of the week, ``datetime.weekday()`` order."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday … 6 for Sunday, like :meth:`datetime.date.weekday`."""
        return _WEEKDAY_NUMBERS[self]


_WEEKDAY_NUMBERS = {day: n for n, day in enumerate(Weekday)}


class AnnualClosure(_Frozen):
    """Days the table closes every year, from ``start`` to ``end`` inclusive, as ``MM-DD``; a
    closure may run over the new year (``12-22`` to ``01-02``)."""

    start: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    end: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls in the closure (of its year, or of the year before)."""
        md = (day.month, day.day)
        start, end = self._bounds
        if start <= end:
            return start <= md <= end
        return md >= start or md <= end

    @cached_property
    def _bounds(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``start`` and ``end`` as (month, day), read once (placement asks for every date)."""
        return _month_day(self.start), _month_day(self.end)


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


class Cadence(_Frozen):
    """When a district's table meets regularly, in local time (America/Toronto).

    The table does not meet on Ontario's statutory holidays (always), on its ``annual_closures``
    and on its one-off ``skip_dates``.
    """

    weekday: Weekday
    local_time: time
    frequency: Literal["weekly", "biweekly"] = "weekly"
    anchor_date: date | None = None
    """A date of one regular meeting; required for biweekly, which meets 14 days apart from it."""
    skip_dates: tuple[date, ...] = ()
    """One-off local dates on which the regular meeting does not happen."""
    annual_closures: tuple[AnnualClosure, ...] = ()
    """Periods the table closes every year (the end-of-year weeks, say)."""

    def closed(self, day: date) -> bool:
        """Whether the table's own closures (not the statutory holidays) fall on ``day``."""
        return day in self.skip_dates or any(c.covers(day) for c in self.annual_closures)

    @field_validator("local_time", mode="before")
    @classmethod
    def _quoted_time(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 10:00 as the number 600: refuse it rather than meet at 00:10.
        if not isinstance(value, str | time):
            raise ValueError('local_time must be a quoted "HH:MM" string')
        return value

    @model_validator(mode="after")
    def _anchor(self) -> Self:
        if self.local_time.tzinfo is not None:
            raise ValueError("local_time is a wall-clock time in America/Toronto, without offset")
        if self.frequency == "biweekly" and self.anchor_date is None:
            raise ValueError("a biweekly cadence needs an anchor_date")
        if self.anchor_date is not None and self.anchor_date.weekday() != self.weekday.number:
            raise ValueError(f"anchor_date {self.anchor_date} is not a {self.weekday.value}")
        return self


class TableSettings(_Frozen):
    """One district's COMMANDE Table."""

    district: Code
    cadence: Cadence
    location: str = Field(min_length=1, max_length=300)
    cutoff_hours: int = Field(default=24, ge=0, le=24 * 14)
    """A situation arriving less than this before a regular meeting goes to the following one."""
    agenda_lead_time_hours: int = Field(default=24, ge=0, le=24 * 14)
    """Agendas of a regular meeting are issued this long before it."""
    urgent_notice_hours: int = Field(default=2, ge=0, le=23)
    """An urgent situation joins a meeting only if it starts at least this long after arrival."""
    adhoc_delay_hours: int = Field(default=4, ge=0, le=23)
    """An ad-hoc urgent meeting starts about this long after the situation arrived."""
    identity_release_stage: IdentityRelease = "filter_4"


class IntakeKeys(_Frozen):
    """intake's public signing keys: what openers of a disclosure package and partners verify
    intake's signatures with."""

    signing_key: str = Field(description="base64 Ed25519 public key of intake's current signing key")
    previous_signing_keys: tuple[str, ...] = Field(default=(), max_length=10)
    """Keys intake signed with before a rotation: packages they signed still verify."""

    @field_validator("signing_key")
    @classmethod
    def _current(cls, value: str) -> str:
        return _key32(value, "intake.signing_key", "an Ed25519 key")

    @field_validator("previous_signing_keys")
    @classmethod
    def _previous(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_key32(v, "intake.previous_signing_keys", "an Ed25519 key") for v in values)

    def all_signing_keys(self) -> tuple[str, ...]:
        """The current key first, then the previous ones."""
        return (self.signing_key, *self.previous_signing_keys)


class Directory(_Frozen):
    """The whole directory: who sits at which table, how each table meets, and intake's keys."""

    version: str = Field(min_length=1, max_length=64)
    intake: IntakeKeys
    organizations: tuple[Organization, ...]
    tables: tuple[TableSettings, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        _unique("organization id", (str(o.id) for o in self.organizations))
        _unique("agency_id", (o.agency_id for o in self.organizations))
        _unique("organization name", (o.name for o in self.organizations))
        _unique("table district", (t.district for t in self.tables))
        districts = {t.district for t in self.tables}
        for org in self.organizations:
            unknown = sorted(set(org.districts) - districts)
            if unknown:
                raise ValueError(f"{org.name!r} serves districts without a table: {unknown}")
        for district in sorted(districts):
            cmbs = [
                o
                for o in self.organizations
                if o.agency_type is AgencyType.POLICE_CMB and district in o.districts
            ]
            if not cmbs:
                raise ValueError(f"district {district!r} has no police_cmb organization")
            for a, b in _pairs(cmbs):
                if _overlap(a, b):
                    raise ValueError(f"district {district!r} has two CMBs at once: {a.name!r} and {b.name!r}")
        return self

    # -- queries ---------------------------------------------------------------------------

    def organization(self, org_id: UUID | str) -> Organization | None:
        """The organization with this HSDS id or agency slug, active or not."""
        if isinstance(org_id, UUID):
            return self._by_id.get(org_id)
        return self._by_agency.get(org_id)

    def table(self, district: str) -> TableSettings | None:
        """The table of ``district``."""
        return next((t for t in self.tables if t.district == district), None)

    def members(self, district: str, on: date) -> tuple[Organization, ...]:
        """Active organizations serving ``district`` on ``on``, CMB first, then by name and id."""
        return tuple(o for o in self._serving.get(district, ()) if o.is_active(on))

    # Indexes, built on first use: a directory is frozen, and every referral asks these of it.
    # (cached_property values live beside the fields; pydantic's equality ignores them.)

    @cached_property
    def _by_id(self) -> dict[UUID, Organization]:
        return {o.id: o for o in self.organizations}

    @cached_property
    def _by_agency(self) -> dict[str, Organization]:
        return {o.agency_id: o for o in self.organizations}

    @cached_property
    def _serving(self) -> dict[str, tuple[Organization, ...]]:
        """Each district's organizations, active or not, in :meth:`members` order."""
        ordered = sorted(self.organizations, key=_member_order)
        return {t.district: tuple(o for o in ordered if t.district in o.districts)
                for t in self.tables}

    def cmb(self, district: str, on: date) -> Organization | None:
        """The district's police CMB active on ``on`` (its Community Engagement Team chairs)."""
        return next(
            (o for o in self.members(district, on) if o.agency_type is AgencyType.POLICE_CMB),
            None,
        )

    def contacts(self, org_id: UUID | str, role: ContactRole) -> tuple[RoleContact, ...]:
        """Contacts of an organization for ``role``; empty when it has none or is unknown."""
        org = self.organization(org_id)
        return () if org is None else org.contacts_for(role)


def _key32(value: str, name: str, what: str) -> str:
    """``value`` when it is base64 of exactly 32 bytes (a public key)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} decodes to {len(raw)} bytes, {what} has 32")
    return value


def _member_order(org: Organization) -> tuple[bool, str, str]:
    return (org.agency_type is not AgencyType.POLICE_CMB, org.name.casefold(), str(org.id))


def _unique(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what}: {value!r}")
        seen.add(value)


def _pairs(items: list[Organization]) -> Iterable[tuple[Organization, Organization]]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b


def _overlap(a: Organization, b: Organization) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    active = {Status.ACTIVE, Status.TEMPORARILY_CLOSED}
    return (
        a.status in active
        and b.status in active
        and (a.effective_from <= b_end and b.effective_from <= a_end)
    )
