"""One broker of three killed (SIGKILL) under steady traffic, then restarted, on a private
three-node KRaft cluster secured like the embedded stack (SASL_SSL, SCRAM, the ACL table), every
topic replicated three times with ``min.insync.replicas`` 2 and every client bootstrapping from
all three brokers.

While the broker is away, the partitions it led move to the other two and writes go on with two
in-sync replicas: a referral offered after the kill is answered and scheduled within 30 s, with
the broker still down. After its restart it is back in every partition's ISR, and the shared
checks hold: nothing lost, nothing published twice under new ids, every due notice delivered
(none twice: deliveries do not touch Kafka), every group caught up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from deploy.local.kafka_security import SUPER_USER
from schemas.topics import TOPICS
from services.runtime import kafka_client
from services.runtime.settings import Settings
from services.runtime.topics import reconcile
from tests.reliability.checks import (
    Counts,
    Traffic,
    check_pipeline,
    resumed_after,
    scheduled_after,
    snapshot,
)
from tests.reliability.conftest import PrivateStack, running_services
from tests.support.kafka import wait_for

pytestmark = [pytest.mark.reliability]
RECOVERY_BOUND = 30.0
DOWN_FOR = 15.0
"""The broker stays away at least this long after the kill (traffic keeps coming)."""


async def _replicas(settings: Settings, *, tries: int = 20
                    ) -> dict[tuple[str, int], tuple[int, list[int], list[int]]]:
    """``{(topic, partition): (leader, replicas, isr)}`` of every registry topic (asked again
    while the admin client picks a broker that is down or starting)."""
    for attempt in range(tries):
        admin = kafka_client.admin(settings, SUPER_USER, request_timeout_ms=10000)
        try:
            await admin.start()
            return {(d["topic"], p["partition"]): (p["leader"], list(p["replicas"]), list(p["isr"]))
                    for d in await admin.describe_topics([t.name for t in TOPICS])
                    for p in d["partitions"]}
        except KafkaError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    raise AssertionError("unreachable")


async def _seconds_until_isr_full(settings: Settings, started: float) -> float:
    """Seconds from ``started`` until every registry topic's partitions have all three
    replicas in sync."""

    async def full() -> bool:
        return all(len(isr) == 3 for _, _, isr in (await _replicas(settings)).values())

    await wait_for(full, timeout=60, every=0.5)
    return time.monotonic() - started


@pytest.mark.timeout(300)  # cluster start included; about 160 s on a 2-core machine
async def test_one_broker_of_three_killed_under_traffic(
        private_cluster: PrivateStack, tmp_path: Path, report: Callable[[Counts], None]) -> None:
    settings = private_cluster.settings
    created, drifted = await reconcile(settings, SUPER_USER)
    assert (created, drifted) == ([], []), "the cluster's topics differ from the registry at RF 3"
    layout = await _replicas(settings)
    assert all(len(replicas) == 3 for _, replicas, _ in layout.values())
    led = Counter(leader for leader, _, _ in layout.values())
    victim = min(led, key=lambda node: (-led[node], node))  # the broker leading the most partitions

    with running_services(settings, tmp_path / "logs") as services:
        since = await snapshot(settings)
        traffic = Traffic(settings, uuid.uuid4().hex[:8], per_tick=2).start()
        await asyncio.sleep(4)
        before = await snapshot(settings)
        offered = len(traffic.sample_of)
        killed = time.monotonic()
        await asyncio.to_thread(private_cluster.stop_broker, kill=True, node=victim)
        after_kill = await scheduled_after(settings, traffic, offered, before, killed, timeout=60)
        await asyncio.sleep(max(0.0, DOWN_FOR - (time.monotonic() - killed)))
        down = await _replicas(settings)
        assert all(victim not in isr for _, _, isr in down.values()), "the dead broker stayed in an ISR"
        assert all(leader != victim and leader >= 0 for leader, _, _ in down.values()), \
            "a partition had no live leader"
        down_for = time.monotonic() - killed
        starting = time.monotonic()
        await asyncio.to_thread(private_cluster.start_broker)
        up = time.monotonic()
        after_restart, in_sync = await asyncio.gather(resumed_after(settings, up, timeout=60),
                                                      _seconds_until_isr_full(settings, up))
        await traffic.finish()
        assert all(services.alive().values()), f"a service died: {services.alive()}"
        counts = await check_pipeline(
            settings, since, traffic, scenario="one broker of three killed",
            logs=services.logs(), recovery_s=after_kill,
            notes=(f"node {victim} (leading {led[victim]} of {len(layout)} partitions) killed, "
                   f"down {down_for:.0f}s: a referral offered after the kill scheduled "
                   f"{after_kill:.1f}s later; restarted in {up - starting:.1f}s, then every ISR "
                   f"full after {in_sync:.1f}s, a new situation scheduled after "
                   f"{after_restart:.1f}s; "
                   f"{traffic.publish_failures} publish retries"))
        codes = services.stop_all()
    report(counts)
    assert codes == dict.fromkeys(codes, 0), f"services did not stop cleanly: {codes}"
    assert after_kill < RECOVERY_BOUND, f"processing resumed only {after_kill:.1f}s after the kill"
