"""The notices stream: what notifier delivered, failed to deliver, and what was acknowledged.

Notices carry no recipient address: only the recipient agency. The notice id is the
``Message-ID`` / ``Idempotency-Key`` a receiver de-duplicates on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict

from schemas.base import AgencyId, AnyUuid, Code, Event, UtcDatetime, Uuid7
from schemas.topics import NOTICES

Channel = Literal["email", "webhook"]
NoticeKind = Literal[
    "invitation", "agenda", "assignment", "disclosure", "sla_warning", "escalation",
    "referral_status", "command_rejected",
    "event_request", "event_request_reminder", "event_request_acknowledgement",
    "event_request_outcome", "identity_purged", "event_request_confirmation",
    "urgent_situation",
]
"""``event_request*``: a community event request (schemas.event_requests). The CMB manager and
Staff Sergeant are notified as their police district agency; notices to the member of the public
who asked carry the reserved ``recipient_agency`` :data:`PUBLIC_REQUESTER`."""

PUBLIC_REQUESTER = "public-requester"
"""``recipient_agency`` of a notice to the requester of a community event request: a member of
the public, never in the directory, reached at the address they gave (never on this topic)."""


class NoticeEvent(Event):
    """An event of the notices stream, keyed by notice id.

    Attributes:
        notice_id: the notice (stable across retries).
        recipient_agency: the agency it is for.
    """

    topic = NOTICES

    notice_id: Uuid7
    recipient_agency: AgencyId

    def key(self) -> str:
        """The notice id."""
        return str(self.notice_id)


class NoticeDelivered(NoticeEvent):
    """A notice reached its recipient's channel (SMTP accepted it, the webhook answered 2xx).

    Attributes:
        kind: what the notice is about.
        cause_id: ``ce_id`` of the event that caused it.
        channel: e-mail or webhook.
        attempt: which attempt succeeded, from 1.
        delivered_at: when.
    """

    ce_type = "ca.halton.commande.notice.delivered.v1"

    kind: NoticeKind
    cause_id: AnyUuid
    channel: Channel
    attempt: Annotated[int, Strict(), Field(ge=1)]
    delivered_at: UtcDatetime


class NoticeFailed(NoticeEvent):
    """A delivery attempt failed; ``permanent`` says whether notifier gives up.

    Attributes:
        kind: what the notice is about.
        cause_id: ``ce_id`` of the event that caused it.
        channel: e-mail or webhook.
        attempt: which attempt failed, from 1.
        error: an error code (``smtp_4xx``, ``webhook_timeout``...); never a message body.
        permanent: true when no retry follows.
        next_attempt_at: when the next try is due, unless permanent.
        failed_at: when.
    """

    ce_type = "ca.halton.commande.notice.failed.v1"

    kind: NoticeKind
    cause_id: AnyUuid
    channel: Channel
    attempt: Annotated[int, Strict(), Field(ge=1)]
    error: Code
    permanent: Annotated[bool, Strict()]
    next_attempt_at: UtcDatetime | None = None
    failed_at: UtcDatetime


class NoticeAcknowledged(NoticeEvent):
    """The recipient acknowledged a notice.

    Attributes:
        via: how: a signed link, a webhook callback, or the API.
        acknowledged_at: when.
    """

    ce_type = "ca.halton.commande.notice.acknowledged.v1"

    via: Literal["link", "webhook", "api"]
    acknowledged_at: UtcDatetime


