"""The topic registry: every Kafka topic commande uses, in one place.

The stack and every service create topics from :data:`TOPICS` through
:func:`services.runtime.topics.ensure_topics`;
nothing creates a topic ad hoc (FastStream's own auto-creation is switched off).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DAY_MS = 24 * 60 * 60 * 1000


class Cleanup(StrEnum):
    """Kafka ``cleanup.policy`` values we use."""

    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, what may be written to it and how it is kept."""

    name: str
    key_rule: str
    writers: str
    readers: str
    retention_ms: int
    """``-1`` keeps records forever."""
    partitions: int = 6
    cleanup: Cleanup = Cleanup.DELETE
    restricted: bool = False
    """Carries identity (sealed or not): never to be read by analytics or shown in logs."""
    lane_of: str | None = None
    """An urgent lane: the topic whose urgent records it also carries (``docs/adr/0006``)."""

    def config(self) -> dict[str, str]:
        """Topic-level configuration for ``CreateTopics``."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup.value}


REFERRALS = TopicSpec(
    "commande.referrals.v1", "{agency_id}/{referral_ref}", "partners", "intake",
    retention_ms=30 * DAY_MS, restricted=True,
)
REFERRAL_STATUS = TopicSpec(
    "commande.referral-status.v1", "{agency_id}/{referral_ref}", "intake", "partners",
    retention_ms=365 * DAY_MS,
)
SITUATIONS = TopicSpec(
    "commande.situations.v1", "situation id", "intake, convening", "all", retention_ms=-1
)
TABLE_ACTIONS = TopicSpec(
    "commande.table-actions.v1", "situation id", "chair and agency clients", "convening",
    retention_ms=365 * DAY_MS,
)
MEETINGS = TopicSpec(
    "commande.meetings.v1", "meeting id / situation id", "convening", "notifier, all",
    retention_ms=-1,
)
DISCLOSURES = TopicSpec(
    "commande.disclosures.v1", "situation id", "intake", "notifier",
    retention_ms=14 * DAY_MS, restricted=True,
)
NOTICES = TopicSpec(
    "commande.notices.v1", "notice id", "notifier", "all", retention_ms=365 * DAY_MS
)
EVENT_REQUEST_SUBMISSIONS = TopicSpec(
    "commande.event-request-submissions.v1", "request id",
    "the public (via intake's HTTP ingress), organizations, the CMB (follow-up commands)",
    "intake, notifier", retention_ms=30 * DAY_MS, restricted=True,
)
EVENT_REQUESTS = TopicSpec(
    "commande.event-requests.v1", "request id", "intake", "notifier, analytics, all",
    retention_ms=-1,
)
# Urgent lanes (docs/adr/0006-urgent-lane.md): a backlog on a main topic never delays what an
# urgent situation needs. Partners put urgent referrals on the referrals lane instead of the main
# topic; intake and convening publish each urgent SituationOpened, each ad-hoc meeting's
# AgendaIssued and each UrgentSituationAdded twice, the same record on the main topic (the log
# everyone reads) and on the lane. The reader consumes both with one inbox, so whichever copy
# comes first is handled, once.
REFERRALS_URGENT = TopicSpec(
    "commande.referrals.urgent.v1", "{agency_id}/{referral_ref}", "partners (urgent referrals)",
    "intake", retention_ms=30 * DAY_MS, restricted=True, lane_of=REFERRALS.name,
)
SITUATIONS_URGENT = TopicSpec(
    "commande.situations.urgent.v1", "situation id",
    "intake (a copy of each urgent SituationOpened)", "convening", retention_ms=7 * DAY_MS,
    lane_of=SITUATIONS.name,
)
MEETINGS_URGENT = TopicSpec(
    "commande.meetings.urgent.v1", "meeting id / situation id",
    "convening (a copy of each ad-hoc meeting's AgendaIssued, and of each UrgentSituationAdded)",
    "notifier",
    retention_ms=7 * DAY_MS, lane_of=MEETINGS.name,
)
DLQ = TopicSpec(
    "commande.dlq.v1", "original key", "any service", "operators",
    retention_ms=365 * DAY_MS, restricted=True,
)

TOPICS: tuple[TopicSpec, ...] = (
    REFERRALS, REFERRAL_STATUS, SITUATIONS, TABLE_ACTIONS, MEETINGS, DISCLOSURES, NOTICES,
    EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS, REFERRALS_URGENT, SITUATIONS_URGENT,
    MEETINGS_URGENT, DLQ,
)


def lane(spec: TopicSpec) -> TopicSpec | None:
    """The urgent lane of ``spec``, if it has one."""
    return next((t for t in TOPICS if t.lane_of == spec.name), None)


def topic(name: str) -> TopicSpec:
    """The registered topic called ``name``; raises ``KeyError`` for an unknown one."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
