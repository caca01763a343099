"""Which records of a topic its urgent lane also carries: ``Service.consume``'s ``both_ways``
(a copy one way in is handling is left to it by the other, docs/adr/0006)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.base import Message
from schemas.envelope import Envelope, new_event_id
from schemas.meetings import UrgentSituationAdded
from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import MEETINGS_URGENT, SITUATIONS_URGENT
from services.runtime.events import copied_to
from tests.support.samples import sample

AT = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


def envelope(event: Message) -> Envelope[Message]:
    return Envelope(id=new_event_id(), source="/commande/intake", type=event.ce_type, time=AT,
                    subject=None, correlationid=None, causationid=None, event=event)


def test_a_record_is_a_copy_of_the_lane_it_is_written_to_and_of_no_other() -> None:
    situations, meetings = copied_to(SITUATIONS_URGENT.name), copied_to(MEETINGS_URGENT.name)
    urgent = envelope(sample(SituationOpened, priority="urgent"))
    assert (situations(urgent), meetings(urgent)) == (True, False)
    notice = envelope(sample(UrgentSituationAdded))
    assert (situations(notice), meetings(notice)) == (False, True)
    for routine in (sample(SituationOpened, priority="routine"), sample(SituationScheduled)):
        assert not situations(envelope(routine))
        assert not meetings(envelope(routine))
