"""Who may produce what intake acts on, and who may receive identity (pure: no I/O, no clock).

A fact is trusted first because only its producer's Kafka principal may write its topic; where
the effect is sensitive intake checks again here, in one place:

* :data:`EXPECTED_PRODUCERS`: the ``ce_source`` each situation fact and event-request record
  must come from (:func:`trust`);
* :func:`check_referral`: a referral (or its withdrawal) must carry a valid Ed25519 signature of
  the agency it names (``ce_source`` ``/partners/<agency_id>``), or of intake for a referral
  an earlier version's HTTP ingress queued (``ce_source`` ``/commande/intake``; today's decides
  in the request); otherwise the reasons to
  send back in a ``ReferralRejected``;
* :func:`disclosure_refusal`: identity is sealed only for an active member of the situation's
  district table, as lead or assisting agency, and never earlier than the table releases it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from nacl.signing import VerifyKey

from directory import Directory
from schemas.base import IdentityRelease
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestSubmitted,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.referrals import Reason, ReferralSubmitted, ReferralWithdrawn
from schemas.signing import (
    SignatureError,
    record_signing_bytes,
    signature_header,
    verifies,
    verify_key_from_b64,
)
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationReopened,
    SituationScheduled,
)

INTAKE = "/commande/intake"
CONVENING = "/commande/convening"
GATEWAY = "/commande/gateway"
PARTNERS = "/partners/"
ROLES = frozenset({"lead", "assisting"})
"""The roles that receive identified fields (domain.md section 3)."""

EXPECTED_PRODUCERS: Mapping[str, frozenset[str]] = MappingProxyType({
    AgenciesAssigned.ce_type: frozenset({CONVENING}),
    AssignmentResponded.ce_type: frozenset({CONVENING}),
    SituationConcluded.ce_type: frozenset({CONVENING}),
    SituationReopened.ce_type: frozenset({CONVENING}),
    SituationScheduled.ce_type: frozenset({CONVENING}),
    AerDecisionRecorded.ce_type: frozenset({CONVENING}),
    InterventionRecorded.ce_type: frozenset({CONVENING}),
    ScheduleEventRequest.ce_type: frozenset({GATEWAY}),
    DeclineEventRequest.ce_type: frozenset({GATEWAY}),
    WithdrawEventRequest.ce_type: frozenset({GATEWAY}),
    EventRequestSubmitted.ce_type: frozenset({INTAKE}),
})
"""``ce_type`` -> the ``ce_source`` values intake takes it from. A type not listed is taken from
nobody. Referrals are not listed: they are bound to their agency by signature
(:func:`check_referral`)."""


class Trust(StrEnum):
    """What intake does with a record, by who produced it."""

    TRUSTED = "trusted"
    """The expected producer: act on it."""
    OWN = "own"
    """intake's own event read back (e.g. the ``SituationConcluded`` of a withdrawal): nothing
    to do, nothing to report."""
    UNTRUSTED = "untrusted"
    """Anyone else: no effect, and a warning for operators."""


def trust(ce_type: str, source: str) -> Trust:
    """Whether a record of ``ce_type`` from ``source`` may take effect (:data:`EXPECTED_PRODUCERS`)."""
    if source in EXPECTED_PRODUCERS.get(ce_type, frozenset()):
        return Trust.TRUSTED
    return Trust.OWN if source == INTAKE else Trust.UNTRUSTED


def partner_source(agency_id: str) -> str:
    """The ``ce_source`` of an agency's own referral records: ``/partners/<agency_id>``."""
    return f"{PARTNERS}{agency_id}"


def check_referral(headers: Iterable[tuple[str, bytes | None]], key: bytes | None,
                   value: bytes | None, source: str,
                   event: ReferralSubmitted | ReferralWithdrawn,
                   directory: Directory) -> tuple[Reason, ...]:
    """Why a referral record may not be taken as its agency's (empty: it may).

    Args:
        headers, key, value: the record as consumed (the signature covers them as sent).
        source: its ``ce_source``.
        event: the decoded referral or withdrawal.
        directory: where the agencies' and intake's signing keys are.
    """
    headers = list(headers)
    agency = event.agency_id
    by_intake = source == INTAKE and isinstance(event, ReferralSubmitted)
    if not by_intake and source != partner_source(agency):
        return (_reason("source_not_allowed", (
            f"Publish your agency's records with ce_source {partner_source(agency)} (the "
            "agency_id of the body), signed with your agency's signing key.")),)
    if key is None or key.decode("utf-8", "replace") != event.key():
        return (_reason("record_key_mismatch", (
            f"The record key must be {event.key()} (agency_id/referral_ref of the body).")),)
    try:
        signature = signature_header(headers)
    except SignatureError as exc:
        return (_reason("signature_invalid", (
            f"The ce_signature header is unusable ({exc}): send base64 of the 64-byte Ed25519 "
            "signature of the record (docs/partners.md).")),)
    if signature is None:
        return (_reason("signature_missing", (
            "Sign the record with your agency's signing key (Ed25519) and send the signature, "
            "base64, in the ce_signature header (docs/partners.md, 'Signing').")),)
    if by_intake:
        keys = _keys(directory.intake.all_signing_keys())
    else:
        org = directory.organization(agency)
        if org is None:
            return (Reason(code="agency_unknown", field="agency_id", message=(
                "Your agency is not in the directory, so its signature cannot be checked; ask "
                "the district's CMB to add it with its signing key.")),)
        keys = _keys((org.signing_key,))
    try:
        message = record_signing_bytes(headers, key, value)
    except SignatureError as exc:
        return (_reason("signature_invalid", f"The signed record is incomplete ({exc})."),)
    if verifies(message, signature, keys) is not None:
        return ()
    if verifies(message, signature, _others(directory, agency, by_intake)) is not None:
        return (_reason("signature_wrong_agency", (
            "The record is signed with another organization's key: an agency signs only its own "
            "referrals, with its own signing key, and agency_id must be that agency.")),)
    return (_reason("signature_invalid", (
        "The signature does not match this record under your agency's signing key in the "
        "directory: sign the exact bytes of the canonical form (ce_id, ce_source, ce_type, "
        "ce_time, key, value as sent) with your current key, or ask the CMB to update the "
        "directory's signing_key after a rotation.")),)


def disclosure_refusal(agency_id: str, role: str, release: IdentityRelease, district: str,
                       directory: Directory, on: date) -> str | None:
    """Why ``agency_id`` may not receive identity of a ``district`` situation as ``role`` at
    ``release`` on the local date ``on`` (``None``: it may)."""
    table = directory.table(district)
    if table is None:
        return "district_has_no_table"
    if role not in ROLES:
        return "role_not_allowed"
    if release == "filter_3" and table.identity_release_stage != "filter_3":
        return "identity_release_not_allowed"
    if all(o.agency_id != agency_id for o in directory.members(district, on)):
        return "not_active_member"
    return None


def assignment_refusals(event: AgenciesAssigned, district: str, directory: Directory,
                        on: date) -> dict[str, str | None]:
    """:func:`disclosure_refusal` for each agency of an assignment (lead first). When the table
    may not release identity at the event's stage, every agency is refused: the event does not
    fit the table, so nothing of it is taken."""
    roles = [(event.lead.agency_id, "lead"), *((t.agency_id, "assisting") for t in event.assisting)]
    found = {agency: disclosure_refusal(agency, role, event.identity_release, district,
                                        directory, on) for agency, role in roles}
    if "identity_release_not_allowed" in found.values():
        return dict.fromkeys(found, "identity_release_not_allowed")
    return found


def _reason(code: str, message: str) -> Reason:
    return Reason(code=code, field=None, message=message[:500])


def _keys(encoded: Iterable[str]) -> tuple[VerifyKey, ...]:
    return tuple(verify_key_from_b64(k) for k in encoded)


def _others(directory: Directory, agency: str, by_intake: bool) -> tuple[VerifyKey, ...]:
    """Every signing key of the directory but the one the record should have been signed with."""
    others = [o.signing_key for o in directory.organizations if by_intake or o.agency_id != agency]
    if not by_intake:
        others.extend(directory.intake.all_signing_keys())
    return _keys(others)
