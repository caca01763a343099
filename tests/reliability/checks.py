"""What every reliability scenario offers and checks, in one place.

:class:`Traffic` offers a steady stream of synthetic referrals (the sample files, sealed, each with
its own reference) and keeps offering while the broker is away: unpublished records wait in a
buffer and are sent again, unchanged (same ``ce_id``), when Kafka answers.

:func:`check_pipeline` then reads the topics, the databases' outboxes and the SMTP sink and asserts:

* every referral is answered; every accepted one has exactly one situation, one
  ``SituationOpened`` and one ``SituationScheduled``;
* every notice that was due was delivered (``NoticeDelivered`` and an e-mail with the notice's
  Message-ID); "due" comes from the events on the topics through notifier's recipient rules (an
  ``AgendaIssued`` calls for invitations or agenda updates, a ``ReferralRejected`` for a copy to the
  intake contacts that asked); webhook notices are counted apart (example.org does not resolve
  here, so they end in ``NoticeFailed``, which is not the scenario's fault);
* an e-mail repeats only with the same Message-ID, and only if its first copy was sent inside a
  crash window the scenario names (from a little before the fault to the end of it: the delivery
  was sent but its transaction never committed);
* no event was published twice under different ids (one ``ce_id`` per natural identity);
* nothing of the scenario was dead-lettered (the traffic is valid and every fault transient);
* the partitions kept flowing (every consumer group caught up, every outbox drained);
* no identity of the samples on a de-identified topic, in a delivered e-mail or in any service log.

It returns the :class:`Counts` the scenario reports (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import functools
import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import asyncpg
from aiokafka.errors import KafkaError
from nacl.public import PublicKey

from directory import load_directory
from schemas.base import Message
from schemas.errors import ContractError, TransientError
from schemas.meetings import AgendaIssued, MeetingScheduled, ParticipantInvited
from schemas.notices import NoticeDelivered, NoticeFailed
from schemas.referrals import ReferralAccepted, ReferralRejected, ReferralSubmitted
from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import DLQ, MEETINGS, NOTICES, REFERRAL_STATUS, SITUATIONS, TABLE_ACTIONS
from services.cli.submit_cmd import load_referral
from services.intake import sealing
from services.intake.provenance import partner_source
from services.intake.signing import development_signing_key
from services.notifier.channels.mime import message_id
from services.notifier.model import notice_id
from services.notifier.recipients import plan
from services.notifier.settings import NotifierSettings
from services.runtime.events import decode, emit_signed
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.lag import group_lag
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.support.kafka import HARNESS, end_offsets, read_all, wait_for

M = TypeVar("M", bound=Message)

SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "referrals"
MIX = (("milton-individual", 4), ("burlington-not-aer", 3), ("oakville-family-urgent", 2),
       ("toronto-outside-halton", 1))
"""Which sample files the traffic draws from, and how often (urgent ones get an ad-hoc meeting
whose invitations go out at once, so every run has notices due)."""
REJECTED_SAMPLES = frozenset({"toronto-outside-halton"})
WATCHED = (REFERRAL_STATUS.name, SITUATIONS.name, MEETINGS.name, NOTICES.name, DLQ.name)
DEIDENTIFIED = (REFERRAL_STATUS.name, SITUATIONS.name, MEETINGS.name, NOTICES.name)
PIPELINE_GROUPS: dict[str, tuple[str, ...]] = {
    "intake": ("commande.referrals.v1",),
    "intake-urgent": ("commande.referrals.urgent.v1",),
    "intake-disclosures": (SITUATIONS.name,),
    "convening": (SITUATIONS.name,),
    "convening-urgent": ("commande.situations.urgent.v1",),
    "convening-commands": (TABLE_ACTIONS.name,),
    "notifier": (MEETINGS.name, SITUATIONS.name, "commande.disclosures.v1", REFERRAL_STATUS.name,
                 TABLE_ACTIONS.name),
    "notifier-urgent": ("commande.meetings.urgent.v1",),
}
SCHEMAS = ("intake", "convening", "notifier")
Offsets = dict[str, dict[int, int]]
WINDOW_SLACK = 5.0
"""A notice sent this long before a crash (the rest of its delivery batch still in flight) may be
sent again after it."""


def identity_markers() -> tuple[str, ...]:
    """The identifying values of every sample (names, dates of birth, phones, addresses, notes)."""
    found: set[str] = set()
    for path in SAMPLES.glob("*.json"):
        subject = json.loads(path.read_text()).get("subject") or {}
        for person in subject.get("people") or ():
            found |= {str(person[k]) for k in ("given_name", "family_name", "date_of_birth", "phone")
                      if person.get(k)}
        found |= {str(subject[k]) for k in ("address", "safety_notes") if subject.get(k)}
    return tuple(sorted(found))


IDENTITY = identity_markers()


@dataclass
class Counts:
    """What one scenario checked; ``None`` where the scenario does not look at it."""

    scenario: str
    sent: int
    accepted: int | None = None
    rejected: int | None = None
    situations: int | None = None
    notices_due: int | None = None
    notices_delivered: int | None = None
    webhook_notices: int | None = None
    repeats: int | None = None
    dead_lettered: int | None = None
    recovery_s: float | None = None
    notes: str = ""

    def line(self) -> str:
        """One line for the run's summary."""
        def show(value: int | float | None) -> str:
            if value is None:
                return "-"
            return f"{value:.1f}" if isinstance(value, float) else str(value)

        parts = [("sent", self.sent), ("accepted", self.accepted), ("rejected", self.rejected),
                 ("situations", self.situations), ("notices due", self.notices_due),
                 ("delivered", self.notices_delivered), ("webhook (apart)", self.webhook_notices),
                 ("repeats", self.repeats), ("dead-lettered", self.dead_lettered),
                 ("recovery s", self.recovery_s)]
        text = f"{self.scenario}: " + ", ".join(f"{k} {show(v)}" for k, v in parts)
        return text + (f" ({self.notes})" if self.notes else "")


# --- traffic ------------------------------------------------------------------------------------


@functools.cache
def _intake_public_key() -> PublicKey:
    return sealing.development_private_key(sealing.INTAKE_KEY_NAME).public_key


def sealed(referral: ReferralSubmitted) -> ReferralSubmitted:
    """``referral`` with its subject sealed to intake's development key, as a partner sends it
    (``load_referral(seal=True)`` does the same but logs a warning per referral)."""
    assert referral.subject is not None
    box = sealing.seal_subject(referral.subject, _intake_public_key())
    return ReferralSubmitted.model_validate(
        {**referral.model_dump(), "subject": None, "sealed_subject": box})


@dataclass
class Traffic:
    """A steady stream of referrals: ``per_tick`` every ``every`` seconds until :meth:`finish`.

    Making referrals never waits for Kafka; a publisher task sends what is buffered and keeps
    unacknowledged records (unchanged, so a resend keeps its ``ce_id``) until the broker answers.
    """

    settings: Settings
    run: str
    per_tick: int = 3
    every: float = 0.5
    sample_of: dict[str, str] = field(default_factory=dict)
    """``referral_ref -> sample name``, for every referral offered."""
    published: set[str] = field(default_factory=set)
    publish_failures: int = 0
    _buffer: list[tuple[str, OutRecord]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> Traffic:
        """Start offering (as tasks of the running loop)."""
        self._tasks = [asyncio.create_task(self._make()), asyncio.create_task(self._publish())]
        return self

    def offer(self, count: int) -> None:
        """Make ``count`` referrals now (buffered for the publisher)."""
        rng = random.Random(f"{self.run}-{len(self.sample_of)}")
        names = [name for name, weight in MIX for _ in range(weight)]
        for _ in range(count):
            name = rng.choice(names)
            ref = f"REL-{self.run}-{len(self.sample_of):05d}"
            referral = sealed(load_referral(SAMPLES / f"{name}.json", ref=ref, seal=False))
            self.sample_of[ref] = name
            self._buffer.append((ref, emit_signed(referral, source=partner_source(referral.agency_id),
                                                  key=development_signing_key(referral.agency_id))))

    async def _make(self) -> None:
        while not self._stop.is_set():
            self.offer(self.per_tick)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every)

    async def _publish(self) -> None:
        producer: Producer | None = None
        try:
            while True:
                pending = list(self._buffer)
                if not pending:
                    if self._stop.is_set() and self._tasks[0].done():
                        return
                    await asyncio.sleep(0.05)
                    continue
                try:
                    if producer is None:
                        producer = Producer(self.settings, HARNESS, client_id=f"reliability-{self.run}")
                        await producer.start()
                    await producer.send_many([rec for _, rec in pending])
                except TransientError:
                    self.publish_failures += 1
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await producer.stop()
                    producer = None
                    await asyncio.sleep(0.5)
                    continue
                del self._buffer[:len(pending)]
                self.published |= {ref for ref, _ in pending}
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def finish(self, within: float = 90.0) -> None:
        """Stop making referrals and wait until every one offered is published."""
        self._stop.set()
        await self._tasks[0]
        await asyncio.wait_for(self._tasks[1], within)

    @property
    def refs(self) -> set[str]:
        return set(self.sample_of)


# --- reading ------------------------------------------------------------------------------------


async def snapshot(settings: Settings, topics: Iterable[str] = WATCHED) -> Offsets:
    """End offsets of ``topics`` now (a scenario reads only what comes after)."""
    return {t: await end_offsets(settings, t) for t in topics}


async def decoded(settings: Settings, topic: str, since: Offsets) -> list[tuple[InRecord, object]]:
    """``(record, envelope or None)`` of ``topic`` since the snapshot (undecodable: None)."""
    out: list[tuple[InRecord, object]] = []
    for rec in await read_all(settings, topic, since=since.get(topic), timeout=60):
        try:
            out.append((rec, decode(rec)))
        except ContractError:
            out.append((rec, None))
    return out


async def resumed_after(settings: Settings, healed_at: float, *, timeout: float = 60.0) -> float:
    """Seconds from ``healed_at`` (``time.monotonic()``) until a new ``SituationScheduled`` is on
    the situations topic (read from the end offsets when called): processing has resumed."""
    since = await end_offsets(settings, SITUATIONS.name)

    async def scheduled() -> bool:
        for rec in await read_all(settings, SITUATIONS.name, since=since):
            with contextlib.suppress(ContractError):
                if isinstance(decode(rec).event, SituationScheduled):
                    return True
        return False

    await wait_for(scheduled, timeout=timeout, every=0.25)
    return time.monotonic() - healed_at


async def scheduled_after(settings: Settings, traffic: Traffic, offered: int, since: Offsets,
                          started: float, *, timeout: float = 60.0) -> float:
    """Seconds from ``started`` (``time.monotonic()``) until a referral offered after the first
    ``offered`` ones of ``traffic`` is scheduled (its ``ReferralAccepted`` and its situation's
    ``SituationScheduled`` read from ``since``, a snapshot taken before the fault): new work
    flows end to end again, not only the partitions the fault did not touch."""

    async def scheduled() -> bool:
        later = set(list(traffic.sample_of)[offered:])
        try:
            opened = {str(env.event.situation_id)  # type: ignore[attr-defined]
                      for _rec, env in await decoded(settings, REFERRAL_STATUS.name, since)
                      if isinstance(getattr(env, "event", None), ReferralAccepted)
                      and env.event.referral_ref in later}  # type: ignore[attr-defined]
            return bool(opened) and any(
                isinstance(event := getattr(env, "event", None), SituationScheduled)
                and str(event.situation_id) in opened
                for _rec, env in await decoded(settings, SITUATIONS.name, since))
        except (KafkaError, TransientError, TimeoutError):  # a leader still moving: read again
            return False

    await wait_for(scheduled, timeout=timeout, every=0.25)
    return time.monotonic() - started


@dataclass
class MailIndex:
    """The SMTP sink's Maildir, by Message-ID (headers only; kept across polls)."""

    maildir: Path
    _seen: dict[str, str] = field(default_factory=dict)

    def by_message_id(self) -> dict[str, list[Path]]:
        new = self.maildir / "new"
        parser = BytesHeaderParser(policy=policy.default)
        if new.exists():
            for path in new.iterdir():
                if path.name not in self._seen:
                    with path.open("rb") as fh:
                        self._seen[path.name] = str(parser.parse(fh).get("Message-ID", ""))
        out: dict[str, list[Path]] = defaultdict(list)
        for name, mid in self._seen.items():
            out[mid].append(new / name)
        return out


# --- checking -----------------------------------------------------------------------------------


def natural_identity(env_type: str, event: object, rec: InRecord) -> tuple[object, ...]:
    """What makes an event the same event whatever its ``ce_id``: published twice under two ids
    means handled twice."""
    match event:
        case ReferralAccepted() | ReferralRejected():
            return (env_type, event.agency_id, event.referral_ref)
        case SituationOpened() | SituationScheduled():
            return (env_type, str(event.situation_id))
        case MeetingScheduled():
            return (env_type, str(event.meeting_id))
        case ParticipantInvited():
            return (env_type, str(event.invitation_id))
        case AgendaIssued():
            return (env_type, str(event.meeting_id), event.agency_id, event.revision)
        case NoticeDelivered():
            return (env_type, str(event.notice_id))
        case NoticeFailed():
            return (env_type, str(event.notice_id), event.attempt)
    return (env_type, rec.key, hashlib.sha256(rec.value).hexdigest())


@dataclass(frozen=True)
class Due:
    """One notice the events call for."""

    notice_id: UUID
    channel: str
    kind: str


async def check_pipeline(settings: Settings, since: Offsets, traffic: Traffic, *, scenario: str,
                         logs: Sequence[str], crash_windows: Sequence[tuple[float, float]] = (),
                         recovery_s: float | None = None, timeout: float = 150.0,
                         notes: str = "") -> Counts:
    """Wait for the pipeline to settle, then check everything the module docstring lists."""
    refs = traffic.refs
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(5.0, deadline - time.monotonic())

    # 1. every referral answered; one situation per accepted referral
    answers: dict[str, dict[str, set[str]]] = {}

    async def answered() -> bool:
        answers.clear()
        for _rec, env in await decoded(settings, REFERRAL_STATUS.name, since):
            event = getattr(env, "event", None)
            if isinstance(event, ReferralAccepted | ReferralRejected) and event.referral_ref in refs:
                kind = "accepted" if isinstance(event, ReferralAccepted) else "rejected"
                situation = str(event.situation_id) if isinstance(event, ReferralAccepted) else ""
                answers.setdefault(event.referral_ref, defaultdict(set))[kind].add(situation)
        return set(answers) == refs

    await _wait(answered, left(), lambda: f"unanswered referrals: {sorted(refs - set(answers))[:5]}")
    accepted = {ref for ref, a in answers.items() if "accepted" in a}
    rejected = {ref for ref, a in answers.items() if "rejected" in a}
    assert not accepted & rejected, f"both accepted and rejected: {sorted(accepted & rejected)[:5]}"
    expected_rejected = {ref for ref in refs if traffic.sample_of[ref] in REJECTED_SAMPLES}
    assert rejected == expected_rejected, "an answer differs from what the sample calls for"
    two = {ref: ids["accepted"] for ref, ids in answers.items() if len(ids.get("accepted", ())) > 1}
    assert not two, f"an accepted referral got two situations: {two}"
    situations = {next(iter(answers[ref]["accepted"])) for ref in accepted}
    assert len(situations) == len(accepted), "two referrals share a situation"

    # 2. every situation opened and scheduled
    by_situation: dict[str, set[str]] = defaultdict(set)

    async def scheduled() -> bool:
        by_situation.clear()
        for _rec, env in await decoded(settings, SITUATIONS.name, since):
            event = getattr(env, "event", None)
            if isinstance(event, SituationScheduled) and str(event.situation_id) in situations:
                by_situation[str(event.situation_id)].add(str(env.id))  # type: ignore[attr-defined]
        return set(by_situation) == situations

    await _wait(scheduled, left(), lambda: f"{len(situations - set(by_situation))} situations "
                "not scheduled")

    # 3. the pipeline settles: every group caught up, every outbox drained
    await _wait(lambda: settled(settings), left(), lambda: "consumer lag or outbox backlog remains")

    # 4. every due notice delivered (the due set grows as agendas are issued: read until stable)
    mails = MailIndex(settings.mail_dir)
    state: dict[str, object] = {}

    async def delivered() -> bool:
        due, keys = await _notices_due(settings, since, situations, refs)
        done = {n.notice_id for n in await _notice_events(settings, since, NoticeDelivered)}
        by_mid = mails.by_message_id()
        mail_from = NotifierSettings().notifier_mail_from
        email = [d for d in due if d.channel == "email"]
        missing = [d for d in email if d.notice_id not in done
                   or not by_mid.get(message_id(d.notice_id, mail_from))]
        state.update(due=due, email=email, missing=missing, done=done, by_mid=by_mid,
                     mail_from=mail_from, keys=keys)
        return not missing and await settled(settings)

    await _wait(delivered, left(), lambda: f"{len(state.get('missing', []))} due notices "  # type: ignore[arg-type]
                "not delivered")
    due: list[Due] = state["due"]  # type: ignore[assignment]
    email: list[Due] = state["email"]  # type: ignore[assignment]
    by_mid: dict[str, list[Path]] = state["by_mid"]  # type: ignore[assignment]
    mail_from = str(state["mail_from"])
    copies = {d.notice_id: by_mid[message_id(d.notice_id, mail_from)] for d in email}
    repeats = sum(len(paths) - 1 for paths in copies.values())
    outside = [nid for nid, paths in copies.items() if len(paths) > 1 and not any(
        start - WINDOW_SLACK <= min(p.stat().st_mtime for p in paths) <= end + 1.0
        for start, end in crash_windows)]
    assert not outside, (f"{len(outside)} e-mails repeated whose first copy was not sent inside a "
                         f"crash window: {outside[:3]}")
    delivered_ids = state["done"]
    assert isinstance(delivered_ids, set)

    # 5. no event twice under different ids; what the DLQ holds
    ids_of: dict[tuple[object, ...], set[str]] = defaultdict(set)
    dead: list[InRecord] = []
    for topic in WATCHED:
        for rec, env in await decoded(settings, topic, since):
            if topic == DLQ.name:
                dead.append(rec)  # whose: sorted out below
                continue
            if env is None:
                continue
            event = env.event  # type: ignore[attr-defined]
            ids_of[natural_identity(env.type, event, rec)].add(str(env.id))  # type: ignore[attr-defined]
            if topic in DEIDENTIFIED:
                _no_identity(rec.value.decode(errors="replace") + repr(rec.headers) + repr(rec.key),
                             f"on {topic}")
    twice = {k: v for k, v in ids_of.items() if len(v) > 1}
    assert not twice, f"published twice under different ids: {list(twice.items())[:3]}"
    # The traffic is all well-formed and every fault is transient: nothing of ours may be
    # dead-lettered. (On the suite's shared stack the DLQ also gets other tests' leftovers.)
    ours_keys = situations | {str(d.notice_id) for d in due} | set(state["keys"])  # type: ignore[call-overload]
    ours = [r for r in dead if r.key is not None and (
        traffic.run in r.key.decode(errors="replace") or r.key.decode(errors="replace") in ours_keys)]
    assert not ours, f"{len(ours)} records of this scenario dead-lettered: " + ", ".join(
        dict(r.headers).get("error", b"?").decode(errors="replace")[:80] for r in ours[:3])

    # 6. no identity in any delivered e-mail of ours, nor in any service log
    body_parser = BytesParser(policy=policy.default)
    for paths in copies.values():
        for path in paths:
            _no_identity(_readable(body_parser.parsebytes(path.read_bytes())),
                         f"in e-mail {path.name}")
    for log in logs:
        _no_identity(log, "in a service log")

    webhook = [d for d in due if d.channel != "email"]
    return Counts(scenario=scenario, sent=len(traffic.published), accepted=len(accepted),
                  rejected=len(rejected), situations=len(situations), notices_due=len(email),
                  notices_delivered=sum(1 for d in email if d.notice_id in delivered_ids),
                  webhook_notices=len(webhook), repeats=repeats, dead_lettered=len(ours),
                  recovery_s=recovery_s, notes=notes + (
                      f"; {len(dead)} other tests' records dead-lettered meanwhile"
                      if len(dead) > len(ours) else ""))


async def _notices_due(settings: Settings, since: Offsets, situations: set[str],
                       refs: set[str]) -> tuple[list[Due], set[str]]:
    """The notices our events call for, and the keys of those events (meeting ids, referral
    keys)."""
    directory = load_directory(NotifierSettings().notifier_directory)
    today = datetime.now(UTC).date()
    due: dict[UUID, Due] = {}
    keys: set[str] = set()
    for topic in (MEETINGS.name, REFERRAL_STATUS.name):
        for rec, env in await decoded(settings, topic, since):
            event = getattr(env, "event", None)
            ours = (isinstance(event, AgendaIssued) and any(
                str(i.situation_id) in situations for i in event.items)) or (
                isinstance(event, ReferralRejected) and event.referral_ref in refs)
            if not ours:
                continue
            if rec.key is not None:
                keys.add(rec.key.decode(errors="replace"))
            for p in plan(event, directory, today):
                nid = notice_id(env.id, p.recipient.key, p.kind)  # type: ignore[attr-defined]
                due[nid] = Due(nid, p.recipient.channel.value, p.kind)
    return list(due.values()), keys


async def _notice_events(settings: Settings, since: Offsets, kind: type[M]) -> list[M]:
    found = (getattr(env, "event", None) for _rec, env in await decoded(settings, NOTICES.name, since))
    return [event for event in found if isinstance(event, kind)]


async def settled(settings: Settings, groups: dict[str, tuple[str, ...]] = PIPELINE_GROUPS,
                  schemas: Sequence[str] = SCHEMAS) -> bool:
    """Every group's committed offsets at its partitions' ends (no partition stuck), every
    outbox of ``schemas`` empty."""
    try:
        for group, topics in groups.items():
            if any((await group_lag(settings, HARNESS, group, topics)).values()):
                return False
    except TransientError:
        return False
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        for schema in schemas:
            if await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"):
                return False
    finally:
        await conn.close()
    return True


def _readable(msg: email.message.Message) -> str:
    """What a reader of the e-mail sees: every header and every text part decoded (a
    transfer encoding would hide a name from a search of the raw message)."""
    texts = [bytes(part.get_payload(decode=True)).decode(part.get_content_charset() or "utf-8",
                                                          errors="replace")
             for part in msg.walk() if part.get_content_maintype() == "text"]
    return "\n".join([*(f"{k}: {v}" for k, v in msg.items()), *texts])


def _no_identity(text: str, where: str) -> None:
    found = [m for m in IDENTITY if m in text]
    assert not found, f"identifying data {where} ({len(found)} markers)"


async def _wait(predicate, timeout: float, why) -> None:  # type: ignore[no-untyped-def]
    try:
        await wait_for(predicate, timeout=timeout, every=0.5)
    except TimeoutError:
        raise AssertionError(f"not settled within {timeout:.0f}s: {why()}") from None


def tally(names: Iterable[str]) -> str:
    """``a x2, b`` for a list of names."""
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(Counter(names).items()))
