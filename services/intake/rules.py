"""Filter 1: the business rules a referral must meet, all checked, every failure reported (pure).

:func:`check` returns every :class:`~schemas.referrals.Reason` at once, so the agency fixes its
referral in one round. Reason codes are stable snake_case; messages are sentences a person can
act on and never quote personal data. Reference data and the directory are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from directory import Directory
from schemas.reference import Reference
from schemas.reference.models import Municipality
from schemas.reference.places import accepted_spellings, towns
from schemas.referrals import REASON_MESSAGE_MAX, Reason, ReferralSubmitted, Subject
from services.intake.deidentify import check_narrative, check_reference

AER_TESTS: tuple[tuple[str, str], ...] = (
    ("significant_interest", "a significant interest is at stake"),
    ("probable_harm", "harm is probable without intervention"),
    ("severe_harm", "the harm would be severe"),
    ("multi_disciplinary", "the risk is beyond your agency's mandate and crosses sectors"),
)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Configurable thresholds of Filter 1 (defaults: two factors across two sectors)."""

    min_risk_factors: int = 2
    min_sectors: int = 2


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of :func:`check`: the district and the municipality code (when the
    municipality as written is Halton's), and every reason to reject."""

    district: str | None
    reasons: tuple[Reason, ...]
    municipality: str | None

    @property
    def ok(self) -> bool:
        """No reason to reject."""
        return not self.reasons


def _reason(code: str, field: str | None, message: str) -> Reason:
    return Reason(code=code, field=field, message=message)


def check(event: ReferralSubmitted, subject: Subject | None, *, reference: Reference,
          directory: Directory, today: date, config: RuleConfig = RuleConfig()) -> Checked:
    """Every Filter 1 rule on ``event``; ``subject`` is the opened identified block.

    Args:
        event: the referral.
        subject: its identified block in the clear (opened by the shell), or ``None`` when it
            could not be opened (the shell then adds its own reason).
        reference: reference data (municipalities, taxonomy, age groups, genders, ...).
        directory: the partner directory in force.
        today: the local (America/Toronto) date, for table membership.
        config: thresholds.
    """
    reasons: list[Reason] = []
    municipality, district = _municipality(event, reference, reasons)
    _membership(event, district, directory, today, reasons)
    _risk(event, reference, config, reasons)
    _aer(event, reasons)
    _persons(event, reference, reasons)
    _codes(event, reference, reasons)
    names = [n for p in (subject.people if subject else ()) for n in (p.given_name, p.family_name)]
    reasons.extend(check_narrative(event.summary.narrative, names))
    reasons.extend(check_reference(event.referral_ref, names))
    if subject is not None:
        _identified(event, subject, reasons)
    return Checked(district=district, reasons=tuple(reasons), municipality=municipality)


def _municipality(event: ReferralSubmitted, reference: Reference,
                  out: list[Reason]) -> tuple[str | None, str | None]:
    """The municipality code and district of the municipality as written (the one lookup,
    :meth:`Reference.place`); a place outside Halton or an unknown name is a reason, whose
    message names places from the reference data, never what the agency typed."""
    place = reference.place(event.summary.municipality)
    if isinstance(place, Municipality):
        district = reference.district_for(place.code)
        assert district is not None  # every Halton municipality is in a district
        return place.code, district.code
    if place is not None:
        out.append(_reason(
            "municipality_outside_halton", "summary.municipality",
            f"{place.name} ({place.region}) is outside Halton Region; Halton's tables cover "
            f"{_and(towns(reference.districts))}. Refer the situation to the situation table "
            "of its own area."))
    else:
        before = ("The municipality is not one we recognise; write a Halton municipality or "
                  "community: ")
        after = " (any case, accents, spaces or hyphens), or its code."
        room = REASON_MESSAGE_MAX - len(before) - len(after)
        out.append(_reason("municipality_unknown", "summary.municipality",
                           before + accepted_spellings(reference.districts, room) + after))
    return None, None


def _and(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _membership(event: ReferralSubmitted, district: str | None, directory: Directory,
                today: date, out: list[Reason]) -> None:
    org = directory.organization(event.agency_id)
    if org is None:
        out.append(_reason(
            "agency_unknown", "agency_id",
            "Your agency is not in the COMMANDE directory; ask the district's Community "
            "Mobilization Bureau to add it before referring."))
        return
    if not org.is_active(today):
        out.append(_reason(
            "agency_not_active", "agency_id",
            "Your agency's table membership is not active today; ask the district's Community "
            "Mobilization Bureau to renew it."))
        return
    if district is not None and district not in org.districts:
        out.append(_reason(
            "agency_not_member_of_district_table", "agency_id",
            f"Your agency does not sit at the {district} table; ask that district's Community "
            "Mobilization Bureau to add it, or refer through a member agency."))


def _risk(event: ReferralSubmitted, reference: Reference, config: RuleConfig,
          out: list[Reason]) -> None:
    factors = event.summary.risk_factors
    known = [f for f in factors if reference.risk_factor(f) is not None]
    for i, code in enumerate(factors):
        if reference.risk_factor(code) is None:
            out.append(_reason(
                "risk_factor_unknown", f"summary.risk_factors.{i}",
                "This risk factor is not in the risk taxonomy; use a category.factor code from "
                "the taxonomy (commande schemas reference)."))
    distinct = set(known)
    if len(distinct) < config.min_risk_factors:
        out.append(_reason(
            "too_few_risk_factors", "summary.risk_factors",
            f"At least {config.min_risk_factors} different known risk factors are needed for "
            f"acutely elevated risk; {len(distinct)} given."))
    sectors = reference.sectors_for(distinct)
    if len(sectors) < config.min_sectors:
        out.append(_reason(
            "too_few_sectors", "summary.risk_factors",
            f"The risk factors must call for at least {config.min_sectors} service sectors; "
            f"they reach {len(sectors)}. A single-sector risk stays with your agency."))


def _aer(event: ReferralSubmitted, out: list[Reason]) -> None:
    for name, meaning in AER_TESTS:
        if not getattr(event.aer, name):
            out.append(_reason(
                "aer_attestation_incomplete", f"aer.{name}",
                f"The AER test '{meaning}' is not attested; a referral needs all four tests."))
    if event.aer.attested_at > event.submitted_at:
        out.append(_reason(
            "aer_attested_after_submission", "aer.attested_at",
            "The attestation is dated after the submission; attest before referring."))


def _persons(event: ReferralSubmitted, reference: Reference, out: list[Reason]) -> None:
    ages = reference.codes("age_groups")
    genders = reference.codes("genders")
    for i, person in enumerate(event.summary.persons):
        if person.age_group not in ages:
            out.append(_reason(
                "age_group_unknown", f"summary.persons.{i}.age_group",
                f"Unknown age group; use one of {', '.join(sorted(ages))}."))
        if person.gender not in genders:
            out.append(_reason(
                "gender_unknown", f"summary.persons.{i}.gender",
                f"Unknown gender code; use one of {', '.join(sorted(genders))}."))


def _codes(event: ReferralSubmitted, reference: Reference, out: list[Reason]) -> None:
    for kind, field, values in (
        ("protective_factors", "summary.protective_factors", event.summary.protective_factors),
        ("study_flags", "summary.study_flags", event.summary.study_flags),
    ):
        known = reference.codes(kind)
        for i, code in enumerate(values):
            if code not in known:
                out.append(_reason(
                    f"{kind.rstrip('s')}_unknown", f"{field}.{i}",
                    f"Unknown code in {kind.replace('_', ' ')}; use a code from the reference data."))


def _identified(event: ReferralSubmitted, subject: Subject, out: list[Reason]) -> None:
    """Enough to find the person: a name plus an address, phone or location description."""
    if event.summary.situation_type == "location":
        return
    if not subject.people:
        out.append(_reason(
            "subject_name_missing", "subject.people",
            "Name at least one person concerned in the subject block, so the lead agency can "
            "find them (only a 'location' situation may have no person)."))
    reachable = (subject.address or subject.location_description
                 or any(p.phone for p in subject.people))
    if not reachable:
        out.append(_reason(
            "subject_not_locatable", "subject",
            "Give an address, a phone number or a location description, so the lead agency can "
            "reach the person."))
