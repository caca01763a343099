"""The ACL table: who may write and read each topic (deny by default)."""

from __future__ import annotations

import pytest

from schemas.access import SERVICES, Operation, Resource, bindings, partner, table
from schemas.topics import TABLE_ACTIONS, TOPICS

pytestmark = pytest.mark.unit

ROWS = table(["housing-services", "hrps-cmb-d1"], development=False)


def writers(topic: str) -> set[str]:
    return {b.principal for b in bindings(ROWS)
            if b.resource is Resource.TOPIC and b.name == topic and b.operation is Operation.WRITE}


def readers(topic: str) -> set[str]:
    return {b.principal for b in bindings(ROWS)
            if b.resource is Resource.TOPIC and b.name == topic and b.operation is Operation.READ}


def test_only_the_gateway_writes_peoples_commands() -> None:
    assert writers(TABLE_ACTIONS.name) == {"gateway"}


def test_facts_have_only_their_producers_as_writers() -> None:
    assert writers("commande.situations.v1") == {"intake", "convening"}
    assert writers("commande.meetings.v1") == {"convening"}
    assert writers("commande.disclosures.v1") == {"intake"}
    assert writers("commande.notices.v1") == {"notifier"}
    assert writers("commande.referrals.v1") == {"intake", "partner-housing-services",
                                                "partner-hrps-cmb-d1"}


def test_analytics_reads_no_restricted_topic_and_writes_nothing() -> None:
    [analytics] = [row for row in ROWS if row.principal == "analytics"]
    assert not analytics.writes
    assert not {spec.name for spec in analytics.reads} & {s.name for s in TOPICS if s.restricted}


def test_a_restricted_topic_is_read_by_its_consumers_only() -> None:
    # the gateway hands each sealed package to its recipient's browser (it cannot open it)
    assert readers("commande.disclosures.v1") == {"notifier", "gateway"}
    assert readers("commande.referrals.v1") == {"intake"}
    assert readers("commande.dlq.v1") == {"operator"}


def test_a_partner_writes_referrals_and_reads_the_answers_only() -> None:
    row = partner("hrps-cmb-d1")
    assert [s.name for s in row.writes] == ["commande.referrals.v1",
                                            "commande.referrals.urgent.v1"]
    assert [s.name for s in row.reads] == ["commande.referral-status.v1"]
    assert row.group_prefix is None


def test_development_rows_stay_out_of_production() -> None:
    assert "simulator" not in {row.principal for row in ROWS}
    assert "simulator" in {row.principal for row in table([], development=True)}


def test_every_service_has_a_group_of_its_own_prefix() -> None:
    prefixes = [row.group_prefix for row in SERVICES if row.group_prefix]
    assert prefixes == ["intake", "convening", "notifier", "gateway"]
