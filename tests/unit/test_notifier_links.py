"""E-mails link to the table console page where their reader acts (COMMANDE_PUBLIC_URL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from directory import Directory, load_directory
from schemas.disclosures import DisclosureSealed
from schemas.event_requests import EventRequestAcknowledged
from schemas.meetings import AgendaIssued, CommandRejected, UrgentSituationAdded
from schemas.notices import PUBLIC_REQUESTER
from schemas.reference import reference
from schemas.referrals import ReferralRejected
from schemas.situations import AgenciesAssigned, AgencyTask, SituationConcluded, SlaWarning
from services.notifier import recipients, render
from services.notifier.links import console_link
from services.notifier.model import notice_id
from tests.support.samples import EVENT_ID, NOW, sample

pytestmark = pytest.mark.unit

BASE = "https://console.example.org/"
HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(HALTON)


def test_each_notice_links_to_its_page() -> None:
    agenda = sample(AgendaIssued, agency_id="housing-services")
    assigned = sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"))
    package = sample(DisclosureSealed, recipient_agency="public-health",
                     disclosing_agency="housing-services")
    root = "https://console.example.org/console"
    assert console_link(BASE, agenda, "housing-services") == f"{root}/meetings/{agenda.meeting_id}"
    assert console_link(BASE, assigned, "housing-services") == \
        f"{root}/situations/{assigned.situation_id}"
    added = sample(UrgentSituationAdded)
    assert console_link(BASE, added, "hrps-cmb-d1") == f"{root}/meetings/{added.meeting_id}"
    assert console_link(BASE, sample(SlaWarning), "hrps-cmb-d1") == \
        f"{root}/situations/{sample(SlaWarning).situation_id}"
    assert console_link(BASE, package, "public-health") == \
        f"{root}/disclosures/{package.disclosure_id}"
    refusal = sample(CommandRejected)
    assert console_link(BASE, refusal, "hrps-cmb-d1") in (
        f"{root}/situations/{refusal.target_id}", f"{root}/")
    assert console_link(BASE, sample(EventRequestAcknowledged), "hrps-cmb-d1") == f"{root}/oversight"
    # nothing to act on in the console: a partner's referral answer, the public
    assert console_link(BASE, sample(ReferralRejected), "public-health") is None
    assert console_link(BASE, sample(EventRequestAcknowledged), PUBLIC_REQUESTER) is None


def test_the_assignment_says_where_to_accept_or_decline(directory: Directory) -> None:
    event = sample(AgenciesAssigned, lead=AgencyTask(agency_id="housing-services"))
    [planned] = recipients.plan(event, directory, NOW.date())
    link = console_link(BASE, event, planned.recipient.agency_id)
    ctx = render.Context(notice_id(EVENT_ID, planned.recipient.key, planned.kind),
                         "https://console.example.org/ack/TOKEN", NOW + timedelta(days=14),
                         console_url=link)
    out = render.render(planned, event, ctx, reference(), directory)
    assert f", in the console: {link}." in out.text
    assert f"Open it in the COMMANDE console (sign in): {link}" in out.text
    assert f'<a href="{link}">in the console</a>' in out.html
    assert out.body["console_url"] == link


def test_without_a_console_address_no_console_line(directory: Directory) -> None:
    event = sample(SituationConcluded)
    planned = recipients.plan(event, directory, NOW.date(), originating_agency="public-health")
    ctx = render.Context(notice_id(EVENT_ID, planned[0].recipient.key, planned[0].kind),
                         "https://console.example.org/ack/TOKEN", NOW + timedelta(days=14))
    assert "COMMANDE console" not in render.render(planned[0], event, ctx, reference(), directory).text


def test_the_disclosure_opens_in_the_browser_or_from_the_terminal(directory: Directory) -> None:
    event = sample(DisclosureSealed, recipient_agency="public-health",
                   disclosing_agency="housing-services")
    [planned] = recipients.plan(event, directory, NOW.date())
    link = console_link(BASE, event, "public-health")
    ctx = render.Context(notice_id(EVENT_ID, planned.recipient.key, planned.kind),
                         "https://console.example.org/ack/TOKEN", NOW + timedelta(days=14),
                         console_url=link)
    text = render.render(planned, event, ctx, reference(), directory).text
    assert f"in your browser only (your key and the details never reach the server):\n  {link}\n" in text
    assert "or with: commande intake disclosure open --key" in text
