"""The registry: CloudEvents type ↔ model class, and topic ↔ the types allowed on it.

Adding an event or command means adding its class to :data:`MESSAGES`; a ``v2`` type lives beside
its ``v1`` here, never instead of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from schemas.base import Command, Message
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.disclosures import DisclosureSealed
from schemas.errors import UnknownEventType, WrongTopic
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestSubmitted,
    EventRequestWithdrawn,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.meetings import (
    AgendaIssued,
    CommandRejected,
    MeetingScheduled,
    ParticipantInvited,
    UrgentSituationAdded,
)
from schemas.notices import NoticeAcknowledged, NoticeDelivered, NoticeFailed
from schemas.referrals import (
    ReferralAccepted,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
)
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    IdentityPurged,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from schemas.topics import (
    MEETINGS_URGENT,
    REFERRALS_URGENT,
    SITUATIONS_URGENT,
    TOPICS,
    TopicSpec,
)

MESSAGES: tuple[type[Message], ...] = (
    ReferralSubmitted, ReferralWithdrawn, ReferralAccepted, ReferralRejected,
    SituationOpened, SituationScheduled, AerDecisionRecorded, AgenciesAssigned,
    AssignmentResponded, InterventionRecorded, SituationConcluded, SituationReopened,
    SlaWarning, SlaBreached, IdentityPurged,
    MeetingScheduled, ParticipantInvited, AgendaIssued, CommandRejected, UrgentSituationAdded,
    RecordAerDecision, AssignAgencies, RespondToAssignment, RecordIntervention,
    ConcludeSituation, ReopenSituation, RespondToInvitation,
    DisclosureSealed,
    NoticeDelivered, NoticeFailed, NoticeAcknowledged,
    EventRequestSubmitted, ScheduleEventRequest, DeclineEventRequest, WithdrawEventRequest,
    EventRequestAcknowledged, EventRequestRejected, EventRequestScheduled, EventRequestDeclined,
    EventRequestWithdrawn, EventRequestReminderDue, EventRequestCommandRefused,
    EventRequestContactPurged, EventRequestConfirmationRequested, EventRequestConfirmed,
    EventRequestExpired,
)
"""Every event and command, in a stable order."""

BY_TYPE: Mapping[str, type[Message]] = MappingProxyType({m.ce_type: m for m in MESSAGES})
"""``ce_type`` → model class."""

LANE_TYPES: Mapping[str, tuple[type[Message], ...]] = MappingProxyType({
    REFERRALS_URGENT.name: (ReferralSubmitted,),
    SITUATIONS_URGENT.name: (SituationOpened,),
    MEETINGS_URGENT.name: (AgendaIssued, UrgentSituationAdded),
})
"""Urgent lane → the types it carries (each also belongs on the lane's main topic)."""


def models_on(topic_name: str) -> tuple[type[Message], ...]:
    """The message classes that may be written to ``topic_name`` (its own, or its lane's)."""
    if topic_name in LANE_TYPES:
        return LANE_TYPES[topic_name]
    return tuple(m for m in MESSAGES if m.topic.name == topic_name)


def topic_of(event: Message) -> TopicSpec:
    """Where a producer publishes ``event``: its topic, or for an urgent referral the referrals'
    urgent lane (so that no backlog of routine referrals delays it)."""
    if isinstance(event, ReferralSubmitted) and event.priority == "urgent":
        return REFERRALS_URGENT
    return event.topic


def lane_copy_of(event: Message) -> TopicSpec | None:
    """The urgent lane that also gets a copy of ``event`` (the same record: same ``ce_id``), or
    ``None``: an urgent situation's opening, an ad-hoc meeting's agendas, and the chair's notice
    of an urgent situation added to a meeting."""
    if isinstance(event, SituationOpened) and event.priority == "urgent":
        return SITUATIONS_URGENT
    if (isinstance(event, AgendaIssued) and event.meeting is not None
            and event.meeting.kind == "ad_hoc") or isinstance(event, UrgentSituationAdded):
        return MEETINGS_URGENT
    return None


TYPES_BY_TOPIC: Mapping[str, frozenset[str]] = MappingProxyType(
    {spec.name: frozenset(m.ce_type for m in models_on(spec.name)) for spec in TOPICS}
)
"""Topic name → the ``ce_type`` values allowed on it (the DLQ carries anything, so none here)."""

if len(BY_TYPE) != len(MESSAGES):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("two message classes declare the same ce_type")


def model_for(ce_type: str) -> type[Message]:
    """The model class for ``ce_type``; raises :class:`UnknownEventType` for an unknown one."""
    try:
        return BY_TYPE[ce_type]
    except KeyError:
        raise UnknownEventType(
            f"ce_type {_shown(ce_type)} is not a registered commande event or command",
            header="ce_type",
        ) from None


def allowed_types(topic_name: str) -> frozenset[str]:
    """The ``ce_type`` values allowed on ``topic_name``; ``KeyError`` for an unknown topic."""
    return TYPES_BY_TOPIC[topic_name]


def check_topic(ce_type: str, topic_name: str) -> None:
    """Raise :class:`WrongTopic` unless ``ce_type`` may be written to ``topic_name``."""
    if ce_type not in TYPES_BY_TOPIC.get(topic_name, frozenset()):
        expected = model_for(ce_type).topic.name
        raise WrongTopic(
            f"{ce_type} belongs on {expected}, not on {_shown(topic_name)}", header="ce_type"
        )


def is_command(model: type[Message]) -> bool:
    """Whether ``model`` is a command (rather than an event)."""
    return issubclass(model, Command)


def _shown(value: str) -> str:
    """A header value made safe to echo in an error: printable ASCII, truncated."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in value[:80])
    return repr(cleaned + ("..." if len(value) > 80 else ""))
