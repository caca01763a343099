"""Garbage interleaved with real traffic: every bad record ends in the DLQ (or rejected with
reasons), every good referral is answered, the partitions keep flowing, and no identified data
reaches a de-identified topic."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator

import pytest

from deploy.local.services import ServiceProcess
from schemas.referrals import ReferralAccepted, ReferralRejected
from schemas.topics import DLQ, REFERRAL_STATUS, REFERRALS, SITUATIONS
from services.cli.submit_cmd import load_referral
from services.intake.provenance import partner_source
from services.intake.signing import development_signing_key
from services.runtime.events import decode, emit, emit_signed
from services.runtime.kafka import OutRecord, Producer
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.reliability.checks import Counts, settled
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(240)]
SAMPLE = PROJECT_ROOT / "deploy" / "samples" / "referrals" / "milton-individual.json"
IDENTITY = ("Avery", "Synthetic-Example", "555 0101", "100 Example Street")


@pytest.fixture(scope="module")
def intake(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("intake", settings, tmp_path_factory.mktemp("reliability")).start()
    yield proc
    assert proc.terminate() == 0, f"intake did not stop cleanly; see {proc.log_file}"


def garbage(run: str, rng: random.Random) -> list[tuple[str, OutRecord]]:
    """(kind, record) pairs; each key names the run and the kind, no personal data."""
    valid = emit(load_referral(SAMPLE, ref=f"G-{run}-shape", seal=True), source="/partners/x")
    headers = dict(valid.headers)

    def rec(kind: str, value: bytes, hdrs: dict[str, bytes]) -> tuple[str, OutRecord]:
        return kind, OutRecord(REFERRALS.name, value, f"garbage-{run}/{kind}".encode(),
                               tuple(hdrs.items()))

    return [
        rec("random_bytes", rng.randbytes(512), {}),
        rec("two_megabytes", b'{"agency_id": "' + b"x" * (2 * 1024 * 1024) + b'"}', headers),
        rec("wrong_type", valid.value, {**headers, "ce_type": b"ca.halton.commande.situation.opened.v1"}),
        rec("missing_ce_id", valid.value, {k: v for k, v in headers.items() if k != "ce_id"}),
        rec("forged_specversion", valid.value, {**headers, "ce_specversion": b"0.3"}),
        rec("unknown_type", valid.value, {**headers, "ce_type": b"ca.halton.commande.nothing.v1"}),
        rec("wrong_shape", json.dumps({"hello": ["world"]}).encode(), headers),
        rec("not_json_content", valid.value, {**headers, "content-type": b"text/plain"}),
        rec("forged_id", valid.value, {**headers, "ce_id": b"not-a-uuid"}),
    ]


async def test_garbage_interleaved_with_referrals(intake: ServiceProcess, settings: Settings,
                                                  report: Callable[[Counts], None]) -> None:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)
    good = [load_referral(SAMPLE, ref=f"R-{run}-{i}", seal=True) for i in range(40)]
    bad = garbage(run, rng)
    stream: list[OutRecord] = [emit_signed(r, source=partner_source(r.agency_id),
                                           key=development_signing_key(r.agency_id)) for r in good]
    for _kind, record in bad:
        stream.insert(rng.randrange(len(stream) + 1), record)
    since = {t: await end_offsets(settings, t)
             for t in (REFERRAL_STATUS.name, SITUATIONS.name, DLQ.name)}
    producer = Producer(settings, HARNESS)
    await producer.start()
    try:
        await producer.send_many(stream)
    finally:
        await producer.stop()

    refs = {r.referral_ref for r in good}

    async def answered() -> dict[str, ReferralAccepted | ReferralRejected] | None:
        got: dict[str, ReferralAccepted | ReferralRejected] = {}
        for rec in await read_all(settings, REFERRAL_STATUS.name,
                                  since=since[REFERRAL_STATUS.name]):
            event = decode(rec).event
            if isinstance(event, ReferralAccepted | ReferralRejected) and event.referral_ref in refs:
                got[event.referral_ref] = event
        return got if set(got) == refs else None

    answers = await wait_for(answered, timeout=120)
    assert all(isinstance(a, ReferralAccepted) for a in answers.values())

    async def dead_lettered() -> set[str] | None:
        kinds = {r.key.decode().split("/", 1)[1] for r in await read_all(settings, DLQ.name,
                                                             since=since[DLQ.name])
                 if r.key is not None and r.key.startswith(f"garbage-{run}/".encode())}
        return kinds if len(kinds) == len(bad) else None

    kinds = await wait_for(dead_lettered, timeout=60)
    assert kinds == {k for k, _ in bad}
    for topic in (REFERRAL_STATUS.name, SITUATIONS.name):
        for rec in await read_all(settings, topic, since=since[topic]):
            text = rec.value.decode(errors="replace") + repr(rec.headers) + repr(rec.key)
            assert not any(marker in text for marker in IDENTITY), f"identity on {topic}"
    logs = intake.logs()
    assert not any(marker in logs for marker in IDENTITY), "identity in intake's log"
    assert intake.proc is not None
    assert intake.proc.poll() is None, "intake died"

    async def flowing() -> bool:  # intake's partitions all consumed to the end: none stuck
        return await settled(settings, {"intake": (REFERRALS.name,)}, ("intake",))

    await wait_for(flowing, timeout=60)
    report(Counts(scenario="garbage interleaved", sent=len(good) + len(bad),
                  accepted=len(answers), dead_lettered=len(kinds),
                  notes=f"{len(good)} referrals + {len(bad)} garbage: {', '.join(sorted(kinds))}"))
