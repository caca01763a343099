"""kill -9 of a random service between waves of steady traffic, then a restart: every accepted
referral has exactly one situation, every situation is scheduled, and no event is published twice
under different ids (a repeat after a crash keeps its ce_id)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest

from deploy.local.services import ServiceProcess
from schemas.referrals import ReferralAccepted
from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import REFERRAL_STATUS, SITUATIONS
from services.cli.submit_cmd import load_referral
from services.cli.wire import publish
from services.runtime.events import decode
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.kafkautil import end_offsets, read_all, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]
SAMPLES = [PROJECT_ROOT / "deploy" / "samples" / "referrals" / f"{name}.json"
           for name in ("milton-individual", "oakville-family-urgent", "burlington-not-aer")]


@pytest.fixture(scope="module")
def services(settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("kill9")
    env = {"COMMANDE_CLOCK_OFFSET_FILE": str(logs / "clock-offset")}
    procs = {w: ServiceProcess(w, settings, logs, extra_env=env).start()
             for w in ("intake", "convening", "notifier")}
    yield procs
    for proc in procs.values():
        if proc.proc is not None and proc.proc.poll() is None:
            proc.terminate()


async def test_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing(
        services: dict[str, ServiceProcess], settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)
    since = {t: await end_offsets(settings.kafka_bootstrap, t)
             for t in (REFERRAL_STATUS.name, SITUATIONS.name)}
    refs: set[str] = set()
    kills: list[str] = []
    for wave in range(6):
        batch = [load_referral(rng.choice(SAMPLES), ref=f"K-{run}-{wave}-{i}", seal=True)
                 for i in range(10)]
        refs |= {r.referral_ref for r in batch}
        await publish(settings.kafka_bootstrap, batch, source="/partners/reliability")
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        victim = rng.choice(sorted(services))
        old = services[victim]
        old.kill()
        kills.append(victim)
        services[victim] = ServiceProcess(victim, settings, old.log_dir, extra_env=old.extra_env).start()

    async def accepted() -> dict[str, set[str]] | None:
        by_ref: dict[str, set[str]] = defaultdict(set)
        for rec in await read_all(settings.kafka_bootstrap, REFERRAL_STATUS.name,
                                  since=since[REFERRAL_STATUS.name]):
            event = decode(rec).event
            if isinstance(event, ReferralAccepted) and event.referral_ref in refs:
                by_ref[event.referral_ref].add(str(event.situation_id))
        return by_ref if set(by_ref) == refs else None

    by_ref = await wait_for(accepted, timeout=120)
    assert all(len(ids) == 1 for ids in by_ref.values()), "an accepted referral got two situations"
    situations = {next(iter(ids)) for ids in by_ref.values()}

    async def scheduled() -> dict[tuple[str, str], set[str]] | None:
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for rec in await read_all(settings.kafka_bootstrap, SITUATIONS.name,
                                  since=since[SITUATIONS.name]):
            env = decode(rec)
            event = env.event
            if isinstance(event, SituationOpened | SituationScheduled) and \
                    str(event.situation_id) in situations:
                ids[(type(event).__name__, str(event.situation_id))].add(str(env.id))
        done = {sid for (kind, sid) in ids if kind == "SituationScheduled"}
        return ids if done == situations else None

    ids = await wait_for(scheduled, timeout=120)
    twice = {key: v for key, v in ids.items() if len(v) > 1}
    assert not twice, f"published twice under different ids: {twice}"
    print(f"\nkill -9 scenario: sent {len(refs)}, killed {', '.join(kills)}; accepted "
          f"{len(by_ref)}; situations {len(situations)}; scheduled "
          f"{sum(1 for k in ids if k[0] == 'SituationScheduled')}")
