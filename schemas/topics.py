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
DLQ = TopicSpec(
    "commande.dlq.v1", "original key", "any service", "operators",
    retention_ms=365 * DAY_MS, restricted=True,
)

TOPICS: tuple[TopicSpec, ...] = (
    REFERRALS, REFERRAL_STATUS, SITUATIONS, TABLE_ACTIONS, MEETINGS, DISCLOSURES, NOTICES,
    EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS, DLQ,
)


def topic(name: str) -> TopicSpec:
    """The registered topic called ``name``; raises ``KeyError`` for an unknown one."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
