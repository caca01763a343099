"""Projections over the fixed synthetic stream, against expectations computed by hand.

See :mod:`tests.support.analytics_samples` for the ten situations; the numbers below are worked out
from that table, not from the code.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date

import pytest

from schemas.base import Message
from schemas.envelope import Envelope, from_record
from services.analytics.projections import FACTS, TIMELINE, Keyed
from services.analytics.projections.facts import Draft, SituationFacts
from services.analytics.projections.provincial import rows
from services.analytics.projections.statistics import percentile, summarize
from services.analytics.projections.timeline import Timeline
from tests.support.analytics_samples import AGENCY_TYPES, fixed_stream, sid

pytestmark = pytest.mark.unit


def envelopes() -> list[Envelope[Message]]:
    return [from_record(r.record.headers, r.record.value, topic=r.record.topic)
            for r in fixed_stream()]


def folded(stream: list[Envelope[Message]] | None = None) -> list[SituationFacts]:
    keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
    for env in stream if stream is not None else envelopes():
        keyed.apply(env)
    return list(keyed.states())


def test_statistics_counts_equal_hand_computed() -> None:
    stats = summarize(folded())
    assert stats.situations == 10
    c = stats.counts
    assert c["district"] == {("district_1",): 6, ("district_2",): 3, ("district_3",): 1}
    # S10 opened 2026-02-01 03:00Z, which is 31 January in Halton.
    assert c["month"] == {("2026-01",): 7, ("2026-02",): 3}
    assert c["month_district"] == {
        ("2026-01", "district_1"): 6, ("2026-01", "district_3"): 1, ("2026-02", "district_2"): 3}
    assert c["decision"] == {("confirmed",): 7, ("pending",): 1, ("rejected",): 1,
                             ("returned",): 1}
    assert c["conclusion"] == {
        ("rejected_not_aer",): 1, ("returned_to_originator",): 1,
        ("risk_lowered_connected_to_services",): 3, ("risk_lowered_informed_of_services",): 1,
        ("risk_lowered_other",): 1, ("still_aer_refused_services",): 1}
    # S5 (rejected) is left out of risk categories and age groups.
    assert c["risk_category"] == {
        ("alcohol",): 1, ("antisocial_behaviour",): 1, ("basic_needs",): 1, ("drugs",): 2,
        ("elder_abuse",): 1, ("housing",): 3, ("mental_health",): 9}
    assert c["age_group"] == {
        ("age_18_24",): 1, ("age_25_29",): 5, ("age_30_39",): 1, ("age_40_59",): 1,
        ("age_60_plus",): 1, ("age_6_11",): 1}


def test_mobilization_sla_and_acceptance_equal_hand_computed() -> None:
    stats = summarize(folded())
    # S4 6 h, S1 12 h, S2 24 h, S8 48 h, S7 53 h, S3 60 h.
    assert stats.mobilization_hours == (6.0, 12.0, 24.0, 48.0, 53.0, 60.0)
    assert stats.mobilization_median == 36.0
    assert stats.mobilization_p90 == 60.0  # rank ceil(0.9 * 6) = 6
    # confirmed: S1 S2 S3 S4 S7 S8 S9; breached: S3, S7 (both kinds), S9.
    assert (stats.aer_confirmed, stats.sla_breached) == (7, 3)
    assert stats.sla_breach_rate == pytest.approx(3 / 7)
    assert stats.sla_breached_by_kind == {"first_contact": 3, "lead_acceptance": 1}
    # assigned 2+1+2+1+2+2+1 = 11; answered 10 (S8's assisting never answers); accepted 8.
    assert (stats.assignments, stats.assignments_answered, stats.assignments_accepted) == (11, 10, 8)
    assert stats.acceptance_rate == pytest.approx(0.8)


def test_percentile_is_nearest_rank() -> None:
    assert percentile((), 90) is None
    assert percentile((5.0,), 90) == 5.0
    values = tuple(float(v) for v in range(1, 11))
    assert percentile(values, 90) == 9.0
    assert percentile(values, 91) == 10.0


def test_provincial_rows_one_per_closed_situation_with_rejection_redacted() -> None:
    out = rows(folded(), AGENCY_TYPES)
    assert [r.row_number for r in out] == list(range(1, 9))  # S9 open, S10 pending: no row
    assert [r.conclusion for r in out] == [
        "risk_lowered_connected_to_services", "risk_lowered_informed_of_services",
        "still_aer_refused_services", "risk_lowered_connected_to_services", "rejected_not_aer",
        "returned_to_originator", "risk_lowered_other", "risk_lowered_connected_to_services"]
    first = out[0]
    assert (first.district, first.table, first.situation_type, first.priority) == (
        "district_1", "1 District", "individual", "routine")
    assert (first.opened_date, first.decision_date, first.closed_date) == (
        date(2026, 1, 5), date(2026, 1, 13), date(2026, 2, 10))
    assert (first.originating_agency_type, first.lead_agency_type) == ("police_cmb", "mental_health")
    assert first.assisting_agency_types == ("housing",)
    assert (first.age_groups, first.genders) == (("age_25_29",), ("woman",))
    assert first.risk_factors == ("housing.eviction_risk", "mental_health.crisis_calls")
    assert first.risk_categories == ("housing", "mental_health")
    assert first.protective_factors == ("family_support",)
    assert first.study_flags == ()
    assert first.services_mobilized == ("housing", "mental_health")
    assert (first.mobilization_hours, first.outcome, first.redacted) == (12.0, "risk_lowered", False)

    rejected = out[4]
    assert (rejected.decision, rejected.conclusion, rejected.outcome) == (
        "rejected", "rejected_not_aer", "rejected")
    assert rejected.originating_agency_type == "child_youth_mental_health"
    assert rejected.closed_date == date(2026, 1, 13)
    assert rejected.redacted is True
    for name in ("assisting_agency_types", "age_groups", "genders", "risk_factors",
                 "risk_categories", "protective_factors", "study_flags", "services_mobilized",
                 "mobilization_hours"):
        assert getattr(rejected, name) is None, name

    returned = out[5]  # S6: no SituationConcluded; the return closes it
    assert (returned.conclusion, returned.outcome, returned.redacted) == (
        "returned_to_originator", "returned", False)
    assert returned.closed_date == date(2026, 1, 13)
    assert returned.risk_categories == ("antisocial_behaviour", "mental_health")
    assert returned.genders == ("non_binary",)

    family = out[3]
    assert family.age_groups == ("age_25_29", "age_6_11")
    assert family.study_flags == ("domestic_violence",)

    reassigned = out[6]  # S7: the second lead counts
    assert (reassigned.lead_agency_type, reassigned.mobilization_hours) == ("mental_health", 53.0)


def test_rows_never_carry_situation_ids() -> None:
    ids = {str(sid(n)) for n in range(1, 11)}
    text = repr(rows(folded(), AGENCY_TYPES))
    assert not any(i in text for i in ids)


def test_unknown_agency_maps_to_unknown() -> None:
    out = rows(folded(), {})
    assert {r.originating_agency_type for r in out} == {"unknown"}


def test_timeline_of_reassigned_situation() -> None:
    keyed: Keyed[Timeline] = Keyed(TIMELINE.fold)
    for env in envelopes():
        keyed.apply(env)
    timelines = {tl.situation_id: tl for tl in keyed.states()}
    assert len(timelines) == 10
    s7 = timelines[sid(7)]
    assert [e.event for e in s7.entries] == [
        "opened", "scheduled", "aer_decision_recorded", "agencies_assigned", "sla_breached",
        "sla_breached", "assignment_responded", "agencies_assigned", "assignment_responded",
        "intervention_recorded", "concluded"]
    assert s7.entries[6].detail == "agency=addiction-services requested->rejected"
    assert s7.entries[-1].detail == "conclusion=risk_lowered_other"
    assert [e.at for e in s7.entries] == sorted(e.at for e in s7.entries)


def test_fold_does_not_change_the_state_it_was_given() -> None:
    stream = envelopes()
    before = FACTS.fold(None, stream[0])
    assert before is not None
    snapshot = repr(before)
    later = next(e for e in stream[1:] if e.subject == before.situation_id
                 and e.type.endswith("aer_decision_recorded.v1"))
    after = FACTS.fold(before, later)
    assert repr(before) == snapshot
    assert before.decision is None
    assert after is not None
    assert after.decision == "confirmed"


def test_interleaving_across_situations_does_not_change_the_result() -> None:
    """Partitions interleave differently on every read; only per-situation order is kept."""
    stream = envelopes()
    expected = (summarize(folded(stream)), rows(folded(stream), AGENCY_TYPES))
    rng = random.Random(7)
    for _ in range(5):
        queues: dict[object, list[Envelope[Message]]] = {}
        for env in stream:
            queues.setdefault(env.subject, []).append(env)
        shuffled: list[Envelope[Message]] = []
        while queues:
            key = rng.choice(sorted(queues, key=str))
            shuffled.append(queues[key].pop(0))
            if not queues[key]:
                del queues[key]
        assert (summarize(folded(shuffled)), rows(folded(shuffled), AGENCY_TYPES)) == expected


def test_the_replays_mutable_draft_has_exactly_the_facts_fields_in_their_order() -> None:
    """``Draft`` is built from and frozen into ``SituationFacts`` positionally: a field added to
    one and not the other, or in another order, would shift every value after it."""
    def shape(cls: type[object]) -> list[tuple[str, object, object]]:
        return [(f.name, f.type, f.default) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    assert shape(Draft) == shape(SituationFacts)
