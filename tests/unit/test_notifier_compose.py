"""Composing notices (pure): the same event, facts and time give the same rows; the facts decide
who can be addressed and how urgent a notice is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from directory import Directory, load_directory
from schemas.base import Actor
from schemas.meetings import AgendaIssued, CommandRejected
from schemas.reference import reference
from schemas.situations import SituationConcluded
from services.notifier.compose import Composer, Facts
from services.notifier.model import MeetingInfo
from services.notifier.priority import Priority
from services.notifier.settings import NotifierSettings
from tests.support.samples import EVENT_ID, NOW, sample

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"
TOPIC = "commande.meetings.v1"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(HALTON)


@pytest.fixture(scope="module")
def composer() -> Composer:
    settings = NotifierSettings(env="development", notifier_public_url="http://notifier.test/",
                                notifier_ack_secret=SecretStr("synthetic-ack-secret-compose"))
    return Composer(settings, reference(), b"synthetic-ack-secret-compose")


def test_the_same_event_facts_and_time_give_the_same_notices(composer: Composer,
                                                            directory: Directory) -> None:
    event = sample(AgendaIssued, agency_id="housing-services", meeting=None)
    facts = Facts(meeting=MeetingInfo("district_1", "regular", NOW + timedelta(days=1),
                                      NOW + timedelta(days=1, hours=2), "Sample room"))
    first = composer.notices(event, EVENT_ID, TOPIC, facts, directory, NOW)
    assert first == composer.notices(event, EVENT_ID, TOPIC, facts, directory, NOW)
    [n] = first
    assert (n.cause_id, n.cause_topic, n.kind, n.priority) == (EVENT_ID, TOPIC, "invitation",
                                                                Priority.ROUTINE)
    assert "http://notifier.test/ack/" in n.payload["text"]
    assert "Sample room" in n.payload["text"]


def test_an_ad_hoc_meetings_agenda_is_urgent(composer: Composer, directory: Directory) -> None:
    event = sample(AgendaIssued, agency_id="housing-services", meeting=None)
    facts = Facts(meeting=MeetingInfo("district_1", "ad_hoc", NOW + timedelta(hours=20),
                                      NOW + timedelta(hours=21), "Sample room"))
    [n] = composer.notices(event, EVENT_ID, TOPIC, facts, directory, NOW)
    assert n.priority == Priority.URGENT


def test_notices_that_need_a_missing_fact_have_no_recipient(composer: Composer,
                                                            directory: Directory) -> None:
    refusal = sample(CommandRejected, actor=None)
    assert composer.notices(refusal, EVENT_ID, TOPIC, Facts(), directory, NOW) == []
    [n] = composer.notices(refusal, EVENT_ID, TOPIC,
                           Facts(actor=Actor(agency_id="housing-services", role="lead_agency")),
                           directory, NOW)
    assert (n.kind, n.recipient_agency) == ("command_rejected", "housing-services")
    concluded = sample(SituationConcluded)
    assert composer.notices(concluded, EVENT_ID, TOPIC, Facts(), directory, NOW) == []
    [n] = composer.notices(concluded, EVENT_ID, TOPIC, Facts(originator="public-health"),
                           directory, NOW)
    assert (n.kind, n.recipient_agency) == ("referral_status", "public-health")
