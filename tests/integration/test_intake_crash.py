"""kill -9 of intake in the middle of a batch, then a restart: exactly one situation per accepted
referral and no referral lost (issue 4, "done when")."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from schemas.envelope import from_record
from schemas.referrals import (
    AerAttestation,
    IdentifiedPerson,
    PersonConcerned,
    ReferralAccepted,
    ReferralSubmitted,
    SituationSummary,
    Subject,
)
from schemas.situations import SituationOpened
from schemas.topics import REFERRAL_STATUS, SITUATIONS
from services.intake import sealing
from services.intake.provenance import partner_source
from services.intake.signing import development_signing_key
from services.runtime.events import emit_signed
from services.runtime.kafka import Producer
from services.runtime.settings import Settings
from tests.support.kafka import HARNESS, read_all, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AGENCY = "addiction-services"
SIGNER = development_signing_key(AGENCY)
COUNT = 300
BATCH = 10
NOW = datetime.now(UTC).replace(microsecond=0)


def referral(n: int) -> ReferralSubmitted:
    return ReferralSubmitted(
        agency_id=AGENCY, referral_ref=f"K{RUN}-{n:05d}", submitted_at=NOW, priority="routine",
        summary=SituationSummary(
            situation_type="individual", municipality="burlington",
            persons=(PersonConcerned(age_group="age_30_39", gender="unknown"),),
            risk_factors=("drugs.problem_use", "housing.eviction_risk"),
            narrative="Synthetic load: problematic substance use and an eviction notice."),
        aer=AerAttestation(significant_interest=True, probable_harm=True, severe_harm=True,
                           multi_disciplinary=True, attested_at=NOW - timedelta(hours=1)),
        sealed_subject=sealing.seal_subject(  # as a partner sends it: intake requires sealing
            Subject(people=(IdentifiedPerson(given_name="Loadtest", family_name=f"N{n}",
                                             phone="+1 905 555 0100"),), legal_basis="consent"),
            sealing.development_private_key(sealing.INTAKE_KEY_NAME).public_key),
    )


CHILD = """
import asyncio, pathlib, signal, sys
from services.intake.main import build
from services.runtime.logging import configure_logging
from services.runtime.settings import Settings

async def main() -> None:
    configure_logging("INFO", "json", service="intake")
    svc = build(Settings())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await svc.faststream.start()
    pathlib.Path(sys.argv[1]).write_text("ready")
    await stop.wait()
    await svc.faststream.stop()  # leave the consumer group at once

asyncio.run(main())
"""


class Child:
    """intake in its own OS process (``commande run`` cannot build services yet: see report)."""

    def __init__(self, settings: Settings, folder: Path, name: str) -> None:
        self.ready = folder / f"{name}.ready"
        self.log = folder / f"{name}.log"
        env = {**os.environ, "COMMANDE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
               "COMMANDE_DATABASE_URL": settings.database_url.get_secret_value(),
               # small batches, so that the kill lands between and inside transactions
               "COMMANDE_INTAKE_MAX_RECORDS": str(BATCH)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(self.ready)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    async def started(self) -> None:
        async def ready() -> bool:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-2000:]
            return self.ready.exists()

        await wait_for(ready, timeout=60, every=0.1)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def counts(db: asyncpg.Pool) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT count(*) AS rows, count(DISTINCT referral_ref) AS refs FROM intake.situations "
        "WHERE agency_id = $1 AND referral_ref LIKE $2", AGENCY, f"K{RUN}-%")
    assert row is not None
    return int(row["rows"]), int(row["refs"])


async def test_kill_9_mid_batch_then_restart_loses_nothing_and_opens_each_situation_once(
        settings: Settings, admin_db: asyncpg.Pool, tmp_path: Path) -> None:
    proc = Child(settings, tmp_path, "first")
    await proc.started()
    producer = Producer(settings, HARNESS, client_id=f"intake-crash-{RUN}")
    await producer.start()
    try:
        records = []
        for n in range(COUNT):
            records.append(emit_signed(referral(n), source=partner_source(AGENCY), key=SIGNER))
        await producer.send_many(records)

        async def started() -> int:
            rows, _ = await counts(admin_db)
            return rows if rows >= 3 * BATCH else 0

        at_kill = await wait_for(started, timeout=60, every=0.05)
        proc.kill()
        assert at_kill < COUNT, "intake finished before the kill; raise COUNT"
        proc = Child(settings, tmp_path, "second")
        await proc.started()

        async def finished() -> bool:
            answered = await admin_db.fetchval(
                "SELECT count(*) FROM intake.referrals WHERE agency_id = $1 AND referral_ref LIKE $2",
                AGENCY, f"K{RUN}-%")
            return bool(answered == COUNT)

        await wait_for(finished, timeout=90)
        assert await counts(admin_db) == (COUNT, COUNT)
        outcomes = await admin_db.fetch(
            "SELECT DISTINCT outcome FROM intake.referrals WHERE agency_id = $1 AND referral_ref "
            "LIKE $2", AGENCY, f"K{RUN}-%")
        assert [r["outcome"] for r in outcomes] == ["accepted"]

        async def published() -> dict[str, set[uuid.UUID]]:
            by_ref: dict[str, set[uuid.UUID]] = defaultdict(set)
            for r in await read_all(settings, REFERRAL_STATUS.name):
                if r.key is not None and r.key.startswith(f"{AGENCY}/K{RUN}-".encode()):
                    event = from_record(r.headers, r.value).event
                    assert isinstance(event, ReferralAccepted)
                    by_ref[event.referral_ref].add(event.situation_id)
            return by_ref if len(by_ref) == COUNT else {}

        answers = await wait_for(published, timeout=60)
        assert all(len(ids) == 1 for ids in answers.values())
        opened: dict[str, set[uuid.UUID]] = defaultdict(set)
        for r in await read_all(settings, SITUATIONS.name):
            if dict(r.headers).get("ce_type") == SituationOpened.ce_type.encode():
                event = from_record(r.headers, r.value).event
                assert isinstance(event, SituationOpened)
                if event.referral_ref.startswith(f"K{RUN}-"):
                    opened[event.referral_ref].add(event.situation_id)
        assert len(opened) == COUNT
        assert all(opened[ref] == ids for ref, ids in answers.items())
    finally:
        await producer.stop()
        proc.stop()
