"""intake's thin shell: decode -> load state -> pure core -> save + emit (outbox).

Every handler runs inside the consumer runtime's transaction (inbox, our writes, outbox).
Logs carry ids, codes and counts only: never a name, a narrative or a ciphertext.

Provenance (:mod:`services.intake.provenance`) is checked before anything takes effect: a
referral on Kafka must carry its agency's signature (or intake's, on one an earlier version's
HTTP ingress queued; the ingress now decides in the request, :meth:`Intake.submit_direct`), or it is
answered with a ``ReferralRejected`` and changes nothing; a situation fact from another producer
than convening, or an assignment naming an agency that may not receive identity, seals nothing
and leaves the vault untouched (a warning says so, with ids and codes only).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import cast
from uuid import UUID
from zoneinfo import ZoneInfo

from nacl.public import PrivateKey
from nacl.signing import SigningKey
from uuid6 import uuid7

from directory import TIMEZONE, DirectoryHolder
from schemas.base import IdentityRelease, Message, SituationKeyed
from schemas.disclosures import DisclosureSealed
from schemas.envelope import H_ID, Envelope, to_record
from schemas.errors import EnvelopeError, InvalidBody
from schemas.reference import Reference
from schemas.referrals import (
    Reason,
    ReferralRejected,
    ReferralSubmitted,
    ReferralWithdrawn,
    Subject,
)
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationReopened,
    SituationScheduled,
)
from schemas.topics import REFERRALS, REFERRALS_URGENT
from services.intake import disclosure, provenance, retention, rules, sealing
from services.intake.decide import ReferralDecision, decide_submission, decide_withdrawal
from services.intake.ports import Answer, Assignment, Found, IntakeStore, NewSituation
from services.intake.provenance import Trust
from services.intake.signing import sign_disclosure
from services.intake.store import PgIntakeStore
from services.intake.vault import CipherError, Vault
from services.runtime import events
from services.runtime.clock import Clock
from services.runtime.cooperative import cooperatively
from services.runtime.db import Connection
from services.runtime.decision import Unchanged
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.logging import get_logger

ACTIVITY = (SituationScheduled, AerDecisionRecorded, InterventionRecorded)
"""Convening's facts intake reads only as activity (an open situation the table works on keeps
its identity until the maximum retention after its last activity)."""

SOURCE = provenance.INTAKE
log = get_logger("commande.intake")
_KEY = re.compile(r"^([a-z][a-z0-9-]{1,47})/([A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
_FIELD = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_ZONE = ZoneInfo(TIMEZONE)


@dataclass
class Intake:
    """The handlers and what they need (wired by :func:`services.intake.main.build`)."""

    clock: Clock
    vault: Vault
    intake_key: PrivateKey
    signing_key: SigningKey
    directory: DirectoryHolder
    reference: Reference
    config: rules.RuleConfig
    require_sealed: bool
    disclosure_fields: dict[str, tuple[str, ...]]
    retention_days: int
    inactive_days: int = 180
    """Days without activity after which an open situation's identity is purged (its timer is
    set at its opening; :mod:`services.intake.purging`)."""
    stores: Callable[[Connection], IntakeStore] = field(default=PgIntakeStore)
    """The store bound to a handler's transaction (the in-memory fake in shell tests)."""

    # -- commande.referrals.v1 ------------------------------------------------------------

    async def on_referral(self, conn: Connection, env: Envelope[Message],
                          rec: InRecord) -> Sequence[OutRecord]:
        """ReferralSubmitted or ReferralWithdrawn, once its signature is checked."""
        refused = self._unsigned(env, rec)
        if refused is not None:
            return [refused]
        return await self._referral(conn, env)

    async def on_referrals(self, conn: Connection, items: Sequence[tuple[Envelope[Message], InRecord]]
                           ) -> Sequence[OutRecord]:
        """The referral consumer's batch handler (one transaction). Records without a valid
        signature are answered at once and change nothing. Then the submissions of references
        that occur once in the batch are decided together, with one read of their state and
        pipelined writes; withdrawals and references repeated in the batch then go one by one,
        in order (a reference's records stay in order: they are all in one of the two groups)."""
        out: list[OutRecord] = []
        signed: list[Envelope[Message]] = []
        async for env, rec in cooperatively(items):
            refused = self._unsigned(env, rec)
            if refused is None:
                signed.append(env)
            else:
                out.append(refused)
        counts = Counter(_ref_key(env.event) for env in signed)

        def together(env: Envelope[Message]) -> bool:
            return isinstance(env.event, ReferralSubmitted) and counts[_ref_key(env.event)] == 1

        out.extend(await self._submitted_many(conn, [env for env in signed if together(env)]))
        for env in signed:
            if not together(env):
                out.extend(await self._referral(conn, env))
        return out

    async def _referral(self, conn: Connection, env: Envelope[Message]) -> Sequence[OutRecord]:
        event = env.event
        if isinstance(event, ReferralSubmitted):
            return await self._submitted(conn, env, event)
        if isinstance(event, ReferralWithdrawn):
            return await self._withdrawn(conn, env, event)
        return []

    def _unsigned(self, env: Envelope[Message], rec: InRecord) -> OutRecord | None:
        """The ``ReferralRejected`` for a referral record not signed by its agency (or by intake:
        one an earlier version's HTTP ingress queued), or ``None`` when the signature holds."""
        event = env.event
        if not isinstance(event, ReferralSubmitted | ReferralWithdrawn):
            return None
        reasons = provenance.check_referral(rec.headers, rec.key, rec.value, env.source, event,
                                            self.directory.current())
        if not reasons:
            return None
        now = self.clock.now()
        log.warning("referral record refused: not signed by its agency", agency_id=event.agency_id,
                    event_id=str(env.id), codes=sorted({r.code for r in reasons}))
        return self._emit(ReferralRejected(agency_id=event.agency_id,
                                           referral_ref=event.referral_ref, rejected_at=now,
                                           reasons=reasons), env, now)

    async def _submitted(self, conn: Connection, env: Envelope[Message],
                         event: ReferralSubmitted) -> Sequence[OutRecord]:
        store = self.stores(conn)
        found = await store.get_referral(event.agency_id, event.referral_ref)
        return await self._answer(store, [(env, event, found)])

    async def _submitted_many(self, conn: Connection, envs: Sequence[Envelope[Message]]
                              ) -> Sequence[OutRecord]:
        if not envs:
            return []
        events = [cast(ReferralSubmitted, env.event) for env in envs]
        store = self.stores(conn)
        found = await store.get_referrals([(e.agency_id, e.referral_ref) for e in events])
        return await self._answer(store, [(env, e, found.get((e.agency_id, e.referral_ref)))
                                         for env, e in zip(envs, events, strict=True)])

    async def _answer(self, store: IntakeStore,
                      items: Sequence[tuple[Envelope[Message], ReferralSubmitted, Found | None]]
                      ) -> Sequence[OutRecord]:
        """Decide submissions of distinct references (with their stored state) and save."""
        return [r for _, records in await self._decide_and_save(store, items) for r in records]

    async def submit_direct(self, conn: Connection, event: ReferralSubmitted
                            ) -> tuple[ReferralDecision | Unchanged, Sequence[OutRecord]]:
        """Decide a submission that reached intake itself (its HTTP ingress, the token already
        bound to the agency) in the caller's transaction: the same rules, once, with the subject
        as received (it never crosses Kafka); returns the decision and what to publish."""
        store = self.stores(conn)
        found = await store.get_referral(event.agency_id, event.referral_ref)
        [answered] = await self._decide_and_save(store, [(None, event, found)], direct=True)
        return answered

    async def _decide_and_save(
            self, store: IntakeStore,
            items: Sequence[tuple[Envelope[Message] | None, ReferralSubmitted, Found | None]],
            *, direct: bool = False
    ) -> list[tuple[ReferralDecision | Unchanged, list[OutRecord]]]:
        """Each submission's decision and records (caused by its envelope, when it came as a
        record), then one save of what they wrote."""
        now = self.clock.now()
        situations: list[NewSituation] = []
        answers: list[Answer] = []
        out = []
        async for env, event, found in cooperatively(items):
            decision = self._decide(event, found, now, situations, answers, direct=direct)
            out.append((decision, events.emit_all(decision.events, source=SOURCE, cause=env,
                                                  time=now)))
        await store.save_many(situations, answers)
        await store.timer_store.insert([
            retention.inactivity_timer(n.situation_id, n.opened_at + timedelta(
                days=self.inactive_days)) for n in situations], now)
        return out

    def _decide(self, event: ReferralSubmitted, found: Found | None, now: datetime,
                situations: list[NewSituation], answers: list[Answer], *,
                direct: bool = False) -> ReferralDecision | Unchanged:
        """Filter 1 and the duplicate rules for one submission; what to write is appended.
        ``direct``: received by intake itself, so a subject in clear is expected."""
        subject, checked = self.check(event, now, direct=direct)
        content = _content(event, subject)
        state = found[0] if found else None
        current = self.vault.fingerprint(content)
        compare = current
        if found is not None and found[1] not in (None, self.vault.current_id):
            try:
                compare = self.vault.fingerprint(content, found[1])
            except CipherError:
                compare = b""
        situation_id = uuid7()
        decision = decide_submission(state, event, checked, compare, now, situation_id)
        if isinstance(decision, Unchanged):
            log.info("referral answered again; nothing changes", agency_id=event.agency_id,
                     code=decision.code)
            return decision
        new = decision.state
        answers.append(Answer(  # fingerprinted with the vault's current key
            agency_id=new.agency_id, referral_ref=new.referral_ref, fingerprint=current,
            fingerprint_key=self.vault.current_id, outcome=new.outcome,
            situation_id=new.situation_id, district=new.district, reasons=new.reasons,
            answered_at=new.answered_at))
        if new.situation_id is None:
            log.info("referral rejected", agency_id=event.agency_id,
                     codes=sorted({r.code for r in new.reasons}))
            return decision
        assert subject is not None
        assert new.district is not None
        situations.append(NewSituation(
            new.situation_id, event.agency_id, event.referral_ref, new.district,
            self.vault.encrypt(new.situation_id, subject), now))
        log.info("referral accepted", agency_id=event.agency_id,
                 situation_id=str(new.situation_id), district=new.district)
        return decision

    def check(self, event: ReferralSubmitted, now: datetime, *, direct: bool = False
              ) -> tuple[Subject | None, rules.Checked]:
        """Open the subject and run every Filter 1 rule."""
        subject, reasons = self._open_subject(event, direct)
        checked = rules.check(event, subject, reference=self.reference,
                              directory=self.directory.current(),
                              today=now.astimezone(_ZONE).date(), config=self.config)
        return subject, replace(checked, reasons=(*reasons, *checked.reasons))

    def _open_subject(self, event: ReferralSubmitted, direct: bool
                      ) -> tuple[Subject | None, tuple[Reason, ...]]:
        if event.subject is not None:
            if self.require_sealed and not direct:
                return event.subject, (Reason(
                    code="subject_must_be_sealed", field="subject",
                    message="Send the identified block sealed to intake's public key "
                            "(sealed_subject), never in the clear."),)
            return event.subject, ()
        assert event.sealed_subject is not None
        try:
            return sealing.open_subject(event.sealed_subject, self.intake_key), ()
        except sealing.SealingError:
            return None, (Reason(
                code="sealed_subject_unreadable", field="sealed_subject",
                message="The sealed subject cannot be opened with intake's key or is not a "
                        "valid subject block; seal the subject JSON to intake's current public "
                        "key."),)

    async def _withdrawn(self, conn: Connection, env: Envelope[Message],
                         event: ReferralWithdrawn) -> Sequence[OutRecord]:
        now = self.clock.now()
        store = self.stores(conn)
        found = await store.get_referral(event.agency_id, event.referral_ref)
        state = found[0] if found else None
        present = 0
        if state is not None and state.situation_id is not None:
            present = 1 if await store.get_vault(state.situation_id) is not None else 0
        decision = decide_withdrawal(state, event, now, present)
        if isinstance(decision, Unchanged):
            log.info("withdrawal changes nothing", agency_id=event.agency_id, code=decision.code)
            return [self._emit(e, env, now) for e in decision.events]
        situation_id = decision.state.situation_id
        assert situation_id is not None
        await store.conclude(situation_id, "withdrawn", now, None)
        await store.purge(situation_id, "withdrawn", now)
        await store.timer_store.settle(retention.timer_keys(situation_id), "cancelled", now)
        log.info("referral withdrawn; identity purged", situation_id=str(situation_id))
        return [self._emit(e, env, now) for e in decision.events]

    async def on_dead_letter(self, conn: Connection, rec: InRecord,
                             error: BaseException) -> Sequence[OutRecord]:
        """A referral record that could not be handled: answer the agency when the key names it."""
        if rec.topic not in (REFERRALS.name, REFERRALS_URGENT.name) or rec.key is None:
            return []
        match = _KEY.match(rec.key.decode("utf-8", "replace"))
        if match is None:
            log.warning("dead-lettered referral without an agency key; nobody to answer")
            return []
        now = self.clock.now()
        rejected = ReferralRejected(agency_id=match.group(1), referral_ref=match.group(2),
                                    rejected_at=now, reasons=contract_reasons(error))
        log.info("referral rejected as undecodable", agency_id=match.group(1),
                 codes=sorted({r.code for r in rejected.reasons}))
        cause = _record_id(rec)  # so the sender can tell this answer is to its record
        return [events.out_record(to_record(rejected, source=SOURCE, time=now,
                                            causation_id=cause, correlation_id=cause))]

    # -- commande.situations.v1 -----------------------------------------------------------

    async def on_situation(self, conn: Connection, env: Envelope[Message],
                           rec: InRecord) -> Sequence[OutRecord]:
        """One situation fact (the consumer's retry of a record alone)."""
        return await self.on_situations(conn, [(env, rec)])

    async def on_situations(self, conn: Connection,
                            items: Sequence[tuple[Envelope[Message], InRecord]]
                            ) -> Sequence[OutRecord]:
        """Assignments (disclosures), conclusions and reopenings (retention), from convening
        only, in order. Every fact about a situation is activity (the table worked on it:
        identity may stay); the activity of consecutive facts is recorded in one statement,
        before the next fact that does more than that is handled."""
        store = self.stores(conn)
        out: list[OutRecord] = []
        activity: list[tuple[UUID, datetime]] = []
        for env, _ in items:
            event = env.event
            trusted = provenance.trust(env.type, env.source)
            if trusted is not Trust.TRUSTED:
                if trusted is Trust.UNTRUSTED:
                    log.warning("situation fact from an unexpected producer ignored",
                                event_type=env.type, event_id=str(env.id),
                                situation_id=str(env.subject))
                continue
            if isinstance(event, SituationKeyed):
                activity.append((event.situation_id, env.time))
            if isinstance(event, ACTIVITY):
                continue
            await store.touch(activity)
            activity = []
            out.extend(await self._situation(store, env, event))
        await store.touch(activity)
        return out

    async def _situation(self, store: IntakeStore, env: Envelope[Message],
                         event: Message) -> Sequence[OutRecord]:
        if isinstance(event, AgenciesAssigned):
            return await self._assigned(store, env, event)
        if isinstance(event, AssignmentResponded) and event.to_state == "accepted":
            found = await store.get_assignment(event.situation_id, event.agency_id)
            if found is not None and found.identity_release == "filter_4":
                return await self._disclose(store, env, event.situation_id, event.agency_id,
                                            found.role, "filter_4")
            return []
        if isinstance(event, SituationConcluded):
            return await self._concluded(store, env, event)
        if isinstance(event, SituationReopened):
            await store.reopen(event.situation_id)
            now = self.clock.now()  # its purge date goes; its inactivity is looked at now
            await store.timer_store.settle(
                [retention.timer_key(retention.RETENTION_TIMER, event.situation_id)],
                "cancelled", now)
            await store.timer_store.arm(retention.inactivity_timer(event.situation_id, now), now)
        return []

    async def _assigned(self, store: IntakeStore, env: Envelope[Message],
                        event: AgenciesAssigned) -> Sequence[OutRecord]:
        """Record who may receive identity, and seal it now when the table releases it at
        Filter 3. An agency that may not receive it (not an active member of the situation's
        table, or a release earlier than the table allows) is neither recorded nor sealed for."""
        row = await store.get_situation(event.situation_id)
        if row is None:
            log.info("assignment of a situation intake did not open; nothing to disclose",
                     situation_id=str(event.situation_id))
            return []
        refusals = provenance.assignment_refusals(event, row.district, self.directory.current(),
                                                  self._today())
        roles = [(event.lead.agency_id, "lead"),
                 *((t.agency_id, "assisting") for t in event.assisting)]
        out: list[OutRecord] = []
        for agency, role in roles:
            code = refusals[agency]
            if code is not None:
                _log_refused(event.situation_id, agency, role, code, env)
                continue
            await store.save_assignment(event.situation_id, agency,
                                        Assignment(role, event.identity_release))
            if event.identity_release == "filter_3":
                out.extend(await self._disclose(store, env, event.situation_id, agency, role,
                                                "filter_3"))
        return out

    async def _disclose(self, store: IntakeStore, env: Envelope[Message], situation_id: UUID,
                        agency: str, role: str, release: IdentityRelease) -> list[OutRecord]:
        """Load the situation and its vault row, decide (:mod:`services.intake.disclosure`),
        seal and sign the package, record it in the audit log and emit it (once per recipient
        and stage)."""
        row = await store.get_situation(situation_id)
        sealed = await store.get_vault(situation_id) if row is not None else None
        if row is None or sealed is None:
            log.info("no identity to disclose", situation_id=str(situation_id))
            return []
        org = disclosure.recipient(agency, role, release, row.district, self.directory.current(),
                                   self._today())
        if isinstance(org, disclosure.Withhold):
            if org.code == disclosure.NOT_IN_DIRECTORY:
                log.error("disclosure recipient not in the directory; nothing sealed",
                          situation_id=str(situation_id), recipient_agency=agency)
            else:
                _log_refused(situation_id, agency, role, org.code, env)
            return []
        plan = disclosure.release(self.vault.decrypt(situation_id, sealed), role, release,
                                  self.disclosure_fields)
        if isinstance(plan, disclosure.Withhold):
            log.info("no allowed field to disclose", situation_id=str(situation_id), role=role)
            return []
        now = self.clock.now()
        public = sealing.public_key_from_b64(org.public_key)
        disclosure_id = uuid7()
        ciphertext = sealing.seal(sealing.disclosure_package(
            str(situation_id), str(disclosure_id), agency, role, plan.legal_basis, plan.package),
            public)
        event = sign_disclosure(DisclosureSealed(
            situation_id=situation_id, disclosure_id=disclosure_id, disclosing_agency=row.agency_id,
            recipient_agency=agency, recipient_key_id=sealing.key_id(public), fields=plan.fields,
            legal_basis=plan.legal_basis, filter_stage=plan.stage, purpose=plan.purpose,
            ciphertext=ciphertext, sealed_at=now), self.signing_key)
        if not await store.record_disclosure(event):
            return []
        log.info("disclosure sealed", situation_id=str(situation_id), recipient_agency=agency,
                 role=role, filter_stage=plan.stage, fields=len(plan.fields))
        return [self._emit(event, env, now)]

    async def _concluded(self, store: IntakeStore, env: Envelope[Message],
                         event: SituationConcluded) -> Sequence[OutRecord]:
        row = await store.get_situation(event.situation_id)
        if row is None or row.purged_at is not None:
            return []
        decision = retention.on_conclusion(event.conclusion, event.concluded_at, self.reference,
                                           self.retention_days)
        if isinstance(decision, retention.KeepUntil):
            await store.conclude(event.situation_id, event.conclusion, event.concluded_at,
                                 decision.purge_after)
            await store.timer_store.schedule(
                retention.retention_timer(event.situation_id, decision.purge_after),
                self.clock.now())
            log.info("situation concluded; identity kept until due", situation_id=str(row.situation_id),
                     purge_after=decision.purge_after.isoformat())
            return []
        await store.conclude(event.situation_id, event.conclusion, event.concluded_at, None)
        now = self.clock.now()
        count = await store.purge(event.situation_id, decision.reason, now)
        await store.timer_store.settle(retention.timer_keys(event.situation_id), "cancelled", now)
        log.info("identity purged", situation_id=str(row.situation_id), reason=decision.reason)
        return [self._emit(retention.purged(event.situation_id, decision.reason, count, now),
                           env, now)]

    def _today(self) -> date:
        """Today at the tables (the directory's memberships are by local date)."""
        return self.clock.now().astimezone(_ZONE).date()

    def _emit(self, event: Message, cause: Envelope[Message], now: datetime) -> OutRecord:
        return events.emit(event, source=SOURCE, cause=cause, time=now)


def _log_refused(situation_id: UUID, agency: str, role: str, code: str,
                 env: Envelope[Message]) -> None:
    log.warning("disclosure refused: recipient may not receive identity",
                situation_id=str(situation_id), recipient_agency=agency, role=role, code=code,
                event_id=str(env.id))


def _record_id(rec: InRecord) -> str | None:
    """A consumed record's ``ce_id`` when it is a well-formed UUIDv7 (the cause of an answer to
    a record that could not be decoded), else ``None``."""
    raw = dict(rec.headers).get(H_ID, b"").decode("ascii", "replace")
    return raw if _UUID7.match(raw) else None


def _ref_key(event: Message) -> tuple[str, str] | None:
    """A referral event's ``(agency_id, referral_ref)``."""
    if isinstance(event, ReferralSubmitted | ReferralWithdrawn):
        return event.agency_id, event.referral_ref
    return None


def _content(event: ReferralSubmitted, subject: Subject | None) -> bytes:
    """What two submissions must share to be "the same referral" (submission time excluded;
    a sealed subject compared by its opened content, since sealing is randomised)."""
    body = event.model_dump(mode="json", exclude={"submitted_at", "subject", "sealed_subject"})
    body["subject"] = (subject.model_dump(mode="json") if subject is not None
                       else event.sealed_subject)
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def contract_reasons(error: BaseException) -> tuple[Reason, ...]:
    if isinstance(error, InvalidBody):
        reasons = [Reason(
            code="contract_violation", field=path if _FIELD.match(path) else None,
            message=f"{msg[:300]} (contract {error.ce_type}); fix the field and send again.")
            for path, msg in error.errors[:100]]
        if reasons:
            return tuple(reasons)
    if isinstance(error, EnvelopeError):
        return (Reason(code="invalid_envelope", field=None, message=(
            f"{str(error)[:300]}. Send a CloudEvents 1.0 record in Kafka binary mode with a JSON "
            "body.")[:500]),)
    return (Reason(code="processing_failed", field=None, message=(
        "Intake could not process this record and set it aside for an operator; contact the "
        "district's Community Mobilization Bureau before sending it again.")),)
