"""``COMMANDE_CONSUMERS``: a service run as an ``urgent`` instance and a ``routine`` one reads
between them exactly what one ``all`` instance reads, and the urgent one nothing but the lanes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.topics import TOPICS
from services.convening.main import build as build_convening
from services.convening.settings import ConveningSettings
from services.intake.main import build as build_intake
from services.intake.settings import IntakeSettings
from services.notifier.main import build as build_notifier
from services.notifier.settings import NotifierSettings
from services.runtime.service import Service

LANES = {t.name for t in TOPICS if t.lane_of is not None}
SERVICES: list[tuple[Callable[[Any], Service], type[Any]]] = [
    (build_intake, IntakeSettings), (build_convening, ConveningSettings),
    (build_notifier, NotifierSettings)]


def read(build: Callable[[Any], Service], kind: type[Any], which: str) -> set[tuple[str, str]]:
    settings = kind(env="development", kafka_password=SecretStr("x"), consumers=which)
    return set(build(settings).subscriptions)


@pytest.mark.parametrize(("build", "kind"), SERVICES, ids=["intake", "convening", "notifier"])
def test_the_urgent_and_routine_instances_split_what_one_instance_reads(
        build: Callable[[Any], Service], kind: type[Any]) -> None:
    every, urgent, routine = (read(build, kind, w) for w in ("all", "urgent", "routine"))
    assert urgent
    assert {t for _, t in urgent} <= LANES
    assert not {t for _, t in routine} & LANES
    assert urgent | routine == every
    assert all(group.endswith("-urgent") for group, _ in urgent)
