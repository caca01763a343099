"""Who receives which identified fields of a situation, at which stage and for what (pure).

Two steps, so the vault is opened only for a recipient that may receive identity:

* :func:`recipient`: the agency must be allowed by :func:`services.intake.provenance.
  disclosure_refusal` (an active member of the situation's table, a release the table allows)
  and be in the directory (its public key seals the package);
* :func:`release`: the fields its role may see (``COMMANDE_INTAKE_DISCLOSURE_FIELDS``) that the
  subject holds; none means nothing is sealed.

The shell seals and signs what :func:`release` returns, records it in the audit log and emits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from directory import Directory, Organization
from schemas.base import IdentityRelease
from schemas.referrals import Subject
from services.intake import provenance, sealing

PURPOSES = {
    "lead": "Plan and make the intervention as lead agency.",
    "assisting": "Support the intervention as an assisting agency.",
}
NOT_IN_DIRECTORY = "recipient_not_in_directory"
NO_ALLOWED_FIELD = "no_allowed_field"


@dataclass(frozen=True, slots=True)
class Withhold:
    """Nothing is sealed; ``code`` says why (a provenance refusal code, :data:`NOT_IN_DIRECTORY`
    or :data:`NO_ALLOWED_FIELD`), for the log."""

    code: str


@dataclass(frozen=True, slots=True)
class Release:
    """Seal ``package`` (only ``fields``, under ``legal_basis``) for the recipient at ``stage``."""

    fields: tuple[str, ...]
    package: dict[str, Any]
    stage: Literal[3, 4]
    purpose: str
    legal_basis: str


def recipient(agency: str, role: str, identity_release: IdentityRelease, district: str,
              directory: Directory, today: date) -> Organization | Withhold:
    """The organization ``agency`` whose key a package is sealed to, or why none is."""
    code = provenance.disclosure_refusal(agency, role, identity_release, district, directory,
                                         today)
    if code is not None:
        return Withhold(code)
    org = directory.organization(agency)
    return Withhold(NOT_IN_DIRECTORY) if org is None else org


def release(subject: Subject, role: str, identity_release: IdentityRelease,
            fields_by_role: Mapping[str, tuple[str, ...]]) -> Release | Withhold:
    """What of ``subject`` a recipient in ``role`` gets at the table's release stage."""
    fields, package = sealing.select_fields(subject, fields_by_role.get(role, ()))
    if not fields:
        return Withhold(NO_ALLOWED_FIELD)
    return Release(fields=fields, package=package,
                   stage=3 if identity_release == "filter_3" else 4, purpose=PURPOSES[role],
                   legal_basis=subject.legal_basis)
