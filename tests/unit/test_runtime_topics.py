"""The registry against a topic on the broker: what drifted, and what can be set back."""

from __future__ import annotations

import pytest

from schemas.topics import SITUATIONS
from services.runtime.settings import Settings
from services.runtime.topics import Drift, drift, wanted_config

pytestmark = pytest.mark.unit

PRODUCTION = Settings(env="production")


def test_production_asks_for_three_replicas_and_two_in_sync() -> None:
    assert (PRODUCTION.replication_factor, PRODUCTION.min_insync_replicas) == (3, 2)
    assert (Settings(env="development").replication_factor,
            Settings(env="development").min_insync_replicas) == (1, 1)
    assert Settings(env="production", kafka_replication_factor=5).replication_factor == 5


def test_a_matching_topic_has_no_drift() -> None:
    assert drift(SITUATIONS, PRODUCTION, wanted_config(SITUATIONS, PRODUCTION), 6, 3) == []


def test_retention_and_min_insync_drift_are_fixable_partitions_and_replicas_reported() -> None:
    config = {**wanted_config(SITUATIONS, PRODUCTION), "retention.ms": "604800000",
              "min.insync.replicas": "1"}
    assert drift(SITUATIONS, PRODUCTION, config, 3, 1) == [
        Drift(SITUATIONS.name, "retention.ms", "604800000", "-1", True),
        Drift(SITUATIONS.name, "min.insync.replicas", "1", "2", True),
        Drift(SITUATIONS.name, "partitions", "3", "6", False),
        Drift(SITUATIONS.name, "replication factor", "1", "3", False),
    ]
