"""Replay's guards (restricted topics, time parsing) and the simulator's determinism."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.envelope import from_record
from schemas.errors import ConfigurationError
from schemas.topics import TOPICS
from services.analytics.projections import FACTS, Keyed
from services.analytics.projections.facts import SituationFacts
from services.analytics.projections.statistics import summarize
from services.analytics.replay import parse_time, resolve
from services.analytics.simulate import Plan, generate, publish
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", [s.name for s in TOPICS if s.restricted])
def test_restricted_topics_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="restricted"):
        resolve([name])
    with pytest.raises(ConfigurationError, match="restricted"):
        resolve([f"test.analytics.x.{name}"])


def test_unknown_topics_are_refused_and_copies_map_to_their_contract() -> None:
    with pytest.raises(ConfigurationError, match="not a commande topic"):
        resolve(["payroll"])
    with pytest.raises(ConfigurationError, match="not a commande topic"):
        resolve(["xcommande.situations.v1"])
    (copy,) = resolve(["test.analytics.abc.commande.situations.v1"])
    assert (copy.name, copy.spec.name) == (
        "test.analytics.abc.commande.situations.v1", "commande.situations.v1")


def test_parse_time() -> None:
    assert parse_time("beginning") is None
    assert parse_time("2026-02-01") == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_time("2026-02-01T09:00-05:00") == datetime(2026, 2, 1, 14, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="not a time"):
        parse_time("last tuesday")


def test_simulation_is_deterministic_valid_and_time_ordered() -> None:
    plan = Plan(situations=300, seed=11)
    first = list(generate(plan))
    assert first == list(generate(plan))
    assert first != list(generate(Plan(situations=300, seed=12)))
    stamps = [r.timestamp_ms for r in first]
    assert stamps == sorted(stamps)
    assert max(stamps) <= int(plan.horizon.timestamp() * 1000)
    ids = [dict(r.record.headers)["ce_id"] for r in first]
    assert len(set(ids)) == len(ids)
    keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
    topics = set()
    for r in first:
        env = from_record(r.record.headers, r.record.value, topic=r.record.topic)
        topics.add(r.record.topic)
        keyed.apply(env)
    assert topics == {"commande.situations.v1", "commande.referral-status.v1"}
    stats = summarize(keyed.states())
    assert stats.situations == 300
    decisions = stats.counts["decision"]
    assert set(decisions) == {("confirmed",), ("rejected",), ("returned",)}
    assert decisions[("confirmed",)] > decisions[("rejected",)] > 0
    assert len(stats.counts["month"]) == 10
    assert stats.sla_breached > 0
    assert stats.mobilization_median is not None
    assert 10 < stats.mobilization_median < 40


@pytest.mark.parametrize("prefix", ["sandbox-", "", "trial.", "commande."])
async def test_the_simulator_writes_only_to_sandbox_copies(prefix: str) -> None:
    """Never the live topics (convening would schedule the synthetic situations), and a prefix
    replay recognises (``sandbox.<...>.<topic>``): refused before connecting."""
    with pytest.raises(ConfigurationError, match="throwaway copies only"):
        await publish(Settings(kafka_bootstrap="127.0.0.1:1"), iter(()), prefix=prefix)


def test_simulation_refuses_a_future_horizon() -> None:
    Plan(situations=1, start=date(2026, 1, 1), months=10).check(datetime(2026, 11, 26, tzinfo=UTC))
    with pytest.raises(ConfigurationError, match="future"):
        Plan(situations=1, start=date(2026, 6, 1), months=10).check(
            datetime(2026, 11, 26, tzinfo=UTC))
