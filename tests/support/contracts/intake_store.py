"""The contract of :class:`~services.intake.ports.IntakeStore`: what the shell may rely on.

:class:`IntakeStoreContract` is run twice, on the in-memory fake
(``tests/unit/test_intake_store_fake.py``) and on PostgreSQL
(``tests/integration/test_intake_store_pg.py``); each subclass gives a fresh, empty ``store``
fixture. A taken unique key raises asyncpg's ``UniqueViolationError`` on both (as convening's
fake does). Only what the port shows is
asserted: purge dates and last activity are seen through what becomes due.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from uuid6 import uuid7

from schemas.disclosures import DisclosureSealed
from schemas.referrals import Reason
from services.intake.ports import (
    TOKEN_ID_LENGTH,
    Answer,
    Assignment,
    IntakeStore,
    NewSituation,
    ReferralStatus,
    RetentionState,
    SituationRow,
)
from services.intake.vault import Sealed
from tests.support.samples import sample

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENCY = "mental-health-assoc"
KEY_ID = "k1"
REASON = Reason(code="risk_factors_too_few", field="summary.risk_factors",
                message="Name at least two risk factors.")


def sealed(n: int = 0) -> Sealed:
    return Sealed(KEY_ID, bytes([n]) * 12, b"ciphertext-" + bytes([n]))


def opened(ref: str, at: datetime = T0, sid: UUID | None = None
           ) -> tuple[NewSituation, Answer]:
    """A situation opened for ``ref`` and the accepted answer that goes with it."""
    sid = sid or uuid7()
    return (NewSituation(sid, AGENCY, ref, "district_1", sealed(), at),
            Answer(agency_id=AGENCY, referral_ref=ref, fingerprint=b"fp-" + ref.encode(),
                   fingerprint_key=KEY_ID, outcome="accepted", situation_id=sid,
                   district="district_1", reasons=(), answered_at=at))


def rejected(ref: str, at: datetime = T0, fingerprint: bytes = b"fp-rejected") -> Answer:
    return Answer(agency_id=AGENCY, referral_ref=ref, fingerprint=fingerprint,
                  fingerprint_key=KEY_ID, outcome="rejected", situation_id=None, district=None,
                  reasons=(REASON,), answered_at=at)


async def open_situation(store: IntakeStore, ref: str, at: datetime = T0) -> UUID:
    situation, answer = opened(ref, at)
    await store.save_many([situation], [answer])
    return situation.situation_id


def disclosure(situation_id: UUID, recipient: str, stage: int) -> DisclosureSealed:
    return sample(DisclosureSealed, situation_id=situation_id, disclosure_id=uuid7(),
                  recipient_agency=recipient, filter_stage=stage)


class IntakeStoreContract:
    """Every test gets an empty store (its own transaction, rolled back, on PostgreSQL)."""

    # -- referrals --------------------------------------------------------------------------

    async def test_a_reference_never_answered_is_not_found(self, store: IntakeStore) -> None:
        assert await store.get_referral(AGENCY, "never") is None
        assert await store.get_referrals([(AGENCY, "never"), ("other", "never")]) == {}

    async def test_an_accepted_answer_opens_its_situation_and_vault_row(
            self, store: IntakeStore) -> None:
        situation, answer = opened("acc-1")
        await store.save_many([situation], [answer])
        found = await store.get_referral(AGENCY, "acc-1")
        assert found is not None
        state, key = found
        assert key == KEY_ID
        assert (state.agency_id, state.referral_ref, state.outcome) == (AGENCY, "acc-1",
                                                                         "accepted")
        assert state.fingerprint == answer.fingerprint
        assert (state.situation_id, state.district) == (situation.situation_id, "district_1")
        assert (state.reasons, state.answered_at) == ((), T0)
        assert state.situation_status == "open"
        assert await store.get_situation(situation.situation_id) == SituationRow(
            situation_id=situation.situation_id, agency_id=AGENCY, referral_ref="acc-1",
            district="district_1", status="open", conclusion=None, purged_at=None)
        assert await store.get_vault(situation.situation_id) == sealed()

    async def test_a_rejected_answer_keeps_its_reasons_and_has_no_situation(
            self, store: IntakeStore) -> None:
        await store.save_many([], [rejected("rej-1")])
        found = await store.get_referral(AGENCY, "rej-1")
        assert found is not None
        state, _ = found
        assert (state.outcome, state.reasons, state.situation_id) == ("rejected", (REASON,), None)
        assert state.situation_status is None

    async def test_a_rejected_answer_is_replaced_but_an_accepted_one_stays(
            self, store: IntakeStore) -> None:
        await store.save_many([], [rejected("fix-1")])
        await store.save_many([], [rejected("fix-1", T0 + timedelta(minutes=1), b"fp-again")])
        again = await store.get_referral(AGENCY, "fix-1")
        assert again is not None
        assert (again[0].fingerprint, again[0].answered_at) == (b"fp-again",
                                                                T0 + timedelta(minutes=1))
        situation, answer = opened("fix-1", T0 + timedelta(minutes=2))
        await store.save_many([situation], [answer])
        await store.save_many([], [rejected("fix-1", T0 + timedelta(minutes=3))])
        found = await store.get_referral(AGENCY, "fix-1")
        assert found is not None
        assert (found[0].outcome, found[0].situation_id) == ("accepted", situation.situation_id)
        assert found[0].answered_at == T0 + timedelta(minutes=2)

    async def test_many_references_are_read_at_once_and_only_answered_ones_come_back(
            self, store: IntakeStore) -> None:
        a, answer_a = opened("many-a")
        await store.save_many([a], [answer_a, rejected("many-b")])
        found = await store.get_referrals([(AGENCY, "many-b"), (AGENCY, "many-a"),
                                           (AGENCY, "many-c")])
        assert set(found) == {(AGENCY, "many-a"), (AGENCY, "many-b")}
        assert found[(AGENCY, "many-a")][0].situation_id == a.situation_id
        assert found[(AGENCY, "many-b")][0].outcome == "rejected"

    async def test_one_reference_answered_twice_in_one_save_is_refused(
            self, store: IntakeStore) -> None:
        with pytest.raises(asyncpg.CardinalityViolationError):
            await store.save_many([], [rejected("twice-in-one"),
                                       rejected("twice-in-one", T0 + timedelta(minutes=1))])

    async def test_a_second_situation_for_one_reference_is_refused(
            self, store: IntakeStore) -> None:
        await open_situation(store, "twice")
        situation, answer = opened("twice")
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.save_many([situation], [answer])

    # -- situations and retention -----------------------------------------------------------

    async def test_what_is_not_there_is_none_and_changes_nothing(
            self, store: IntakeStore) -> None:
        nobody = uuid7()
        assert await store.get_situation(nobody) is None
        assert await store.get_vault(nobody) is None
        await store.conclude(nobody, "withdrawn", T0, T0)
        await store.reopen(nobody)
        await store.touch([(nobody, T0)])
        assert await store.purge(nobody, "withdrawn", T0) == 0
        assert await store.get_situation(nobody) is None
        assert await store.retention_state(nobody) is None

    async def test_a_concluded_situation_keeps_its_purge_date_until_reopened(
            self, store: IntakeStore) -> None:
        sid = await open_situation(store, "conclude")
        assert await store.retention_state(sid) == RetentionState(
            sid, "district_1", "open", None, None, T0)
        due = T0 + timedelta(days=90)
        await store.conclude(sid, "risk_lowered_connected_to_services", T0, due)
        row = await store.get_situation(sid)
        assert row is not None
        assert (row.status, row.conclusion) == ("concluded", "risk_lowered_connected_to_services")
        found = await store.get_referral(AGENCY, "conclude")
        assert found is not None
        assert found[0].situation_status == "concluded"
        assert await store.retention_state(sid) == RetentionState(
            sid, "district_1", "concluded", due, None, T0)
        await store.reopen(sid)
        row = await store.get_situation(sid)
        assert row is not None
        assert (row.status, row.conclusion) == ("open", None)
        assert await store.retention_state(sid) == RetentionState(
            sid, "district_1", "open", None, None, T0)

    async def test_a_conclusion_without_a_date_has_none(self, store: IntakeStore) -> None:
        sid = await open_situation(store, "no-date")
        await store.conclude(sid, "withdrawn", T0, None)
        state = await store.retention_state(sid)
        assert state is not None
        assert (state.status, state.purge_after) == ("concluded", None)

    async def test_purge_destroys_the_identity_and_forgets_the_fingerprint(
            self, store: IntakeStore) -> None:
        sid = await open_situation(store, "purge")
        await store.conclude(sid, "rejected_not_aer", T0, T0 + timedelta(days=1))
        now = T0 + timedelta(hours=1)
        assert await store.purge(sid, "rejected_not_aer", now) == 1
        assert await store.get_vault(sid) is None
        row = await store.get_situation(sid)
        assert row is not None
        assert (row.purged_at, row.status) == (now, "concluded")
        found = await store.get_referral(AGENCY, "purge")
        assert found is not None
        assert (found[0].fingerprint, found[1]) == (None, None)
        assert (found[0].outcome, found[0].situation_id) == ("accepted", sid)
        state = await store.retention_state(sid)
        assert state is not None
        assert (state.purged_at, state.purge_after) == (now, None)
        await store.reopen(sid)  # a purged situation is not reopened
        row = await store.get_situation(sid)
        assert row is not None
        assert row.status == "concluded"
        assert await store.purge(sid, "rejected_not_aer", now) == 0

    async def test_activity_only_moves_on(self, store: IntakeStore) -> None:
        first = await open_situation(store, "act-1", T0)
        second = await open_situation(store, "act-2", T0 + timedelta(days=1))
        await store.touch([(first, T0 + timedelta(days=3))])
        await store.touch([(first, T0)])  # an older event does not take activity back
        await store.touch([])
        # One statement, one situation twice, in either order: the latest counts.
        await store.touch([(second, T0 + timedelta(days=5)), (second, T0 + timedelta(days=2))])
        states = [await store.retention_state(sid) for sid in (first, second)]
        assert [s.last_activity_at if s else None for s in states] == [
            T0 + timedelta(days=3), T0 + timedelta(days=5)]

    # -- assignments and disclosures --------------------------------------------------------

    async def test_an_assignment_is_remembered_and_replaced(self, store: IntakeStore) -> None:
        sid = uuid7()
        assert await store.get_assignment(sid, "housing-services") is None
        await store.save_assignment(sid, "housing-services", Assignment("assisting", "filter_4"))
        await store.save_assignment(sid, "housing-services", Assignment("lead", "filter_3"))
        await store.save_assignment(sid, "public-health", Assignment("assisting", "filter_3"))
        assert await store.get_assignment(sid, "housing-services") == Assignment("lead",
                                                                                 "filter_3")
        assert await store.get_assignment(sid, "public-health") == Assignment("assisting",
                                                                              "filter_3")
        assert await store.get_assignment(uuid7(), "housing-services") is None

    async def test_a_disclosure_is_recorded_once_per_recipient_and_stage(
            self, store: IntakeStore) -> None:
        sid = uuid7()
        assert await store.record_disclosure(disclosure(sid, "housing-services", 3)) is True
        assert await store.record_disclosure(disclosure(sid, "housing-services", 3)) is False
        assert await store.record_disclosure(disclosure(sid, "housing-services", 4)) is True
        assert await store.record_disclosure(disclosure(sid, "public-health", 3)) is True
        assert await store.record_disclosure(disclosure(uuid7(), "housing-services", 3)) is True

    async def test_a_disclosure_id_is_recorded_once(self, store: IntakeStore) -> None:
        first = disclosure(uuid7(), "housing-services", 3)
        assert await store.record_disclosure(first) is True
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.record_disclosure(first.model_copy(update={"situation_id": uuid7()}))

    # -- HTTP ingress tokens and answers read back -------------------------------------------

    async def test_a_token_names_its_agency_until_it_expires_or_is_revoked(
            self, store: IntakeStore) -> None:
        live, short, other = (hashlib.sha256(n).digest() for n in (b"live", b"short", b"other"))
        await store.add_token(live, AGENCY, T0, T0 + timedelta(days=30))
        await store.add_token(short, AGENCY, T0 + timedelta(minutes=1), T0 + timedelta(hours=1))
        await store.add_token(other, "public-health", T0 + timedelta(minutes=2),
                              T0 + timedelta(days=30))
        assert await store.agency_for_token(live, T0) == AGENCY
        assert await store.agency_for_token(short, T0 + timedelta(minutes=59)) == AGENCY
        assert await store.agency_for_token(short, T0 + timedelta(hours=1)) is None  # expired
        assert await store.agency_for_token(hashlib.sha256(b"never").digest(), T0) is None

        assert await store.revoke_token(live.hex()[:12].upper(), T0 + timedelta(days=1)) == AGENCY
        assert await store.agency_for_token(live, T0 + timedelta(days=1)) is None
        assert await store.revoke_token(live.hex()[:12], T0 + timedelta(days=2)) is None  # again

        listed = await store.list_tokens(AGENCY)
        assert [(t.token_id, t.agency_id, t.revoked_at) for t in listed] == [
            (live.hex()[:TOKEN_ID_LENGTH], AGENCY, T0 + timedelta(days=1)),
            (short.hex()[:TOKEN_ID_LENGTH], AGENCY, None)]
        assert [t.token_id for t in await store.list_tokens(None)] == [
            h.hex()[:TOKEN_ID_LENGTH] for h in (live, short, other)]

    async def test_a_token_hash_is_kept_once(self, store: IntakeStore) -> None:
        token = hashlib.sha256(b"twice").digest()
        await store.add_token(token, AGENCY, T0, T0 + timedelta(days=1))
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.add_token(token, "public-health", T0, T0 + timedelta(days=1))

    async def test_an_answer_reads_back_as_its_agency_may_see_it(self, store: IntakeStore) -> None:
        sid = await open_situation(store, "R-status-ok")
        await store.save_many([], [rejected("R-status-no")])
        accepted = await store.referral_status(AGENCY, "R-status-ok")
        assert accepted == ReferralStatus(outcome="accepted", situation_id=sid,
                                          district="district_1", reasons=[], answered_at=T0)
        refused = await store.referral_status(AGENCY, "R-status-no")
        assert refused is not None
        assert (refused.outcome, refused.situation_id, refused.reasons) == (
            "rejected", None, [REASON.model_dump(mode="json")])
        assert await store.referral_status(AGENCY, "R-never") is None
        assert await store.referral_status("public-health", "R-status-ok") is None
