"""The fixed synthetic stream the analytics tests compute their expectations from by hand.

Ten situations, written on the situations stream in event-time order:

===  ==========  ========  ========================================================================
id   district    opened    life
===  ==========  ========  ========================================================================
S1   district_1  01-05     confirmed 01-13 15:00Z; lead + assisting accept; contact +12 h; concluded
S2   district_1  01-06     confirmed; lead accepts; contact +24 h; concluded (informed of services)
S3   district_1  01-07     confirmed; lead accepts, assisting rejects; first-contact SLA warned and
                           breached; contact +60 h; concluded still AER (refused services)
S4   district_1  01-08     family of two; confirmed; contact +6 h; concluded
S5   district_1  01-09     rejected (not AER), concluded rejected_not_aer, identity purged
S6   district_1  01-10     returned to originator (no SituationConcluded), identity purged
S7   district_2  02-02     confirmed 02-11; first lead never answers, both SLAs breached, rejects;
                           second lead accepts; contact +53 h; concluded risk lowered (other)
S8   district_2  02-03     confirmed; lead accepts, assisting never answers; contact +48 h; concluded
S9   district_2  02-04     confirmed; lead accepts; first-contact SLA warned and breached; unable to
                           locate; still open
S10  district_3  02-01     opened 03:00Z = 31 January in Halton; nothing else (pending)
===  ==========  ========  ========================================================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.analytics.synthetic import Script, Stream, TimedRecord, epoch_ms, uuid7_at

AGENCY_TYPES: dict[str, str] = {
    "hrps-cmb-d1": "police_cmb", "hrps-cmb-d2": "police_cmb", "hrps-cmb-d3": "police_cmb",
    "housing-services": "housing", "public-health": "public_health",
    "youth-mental-health": "child_youth_mental_health", "addiction-services": "addiction_services",
    "town-milton": "municipality", "halton-ems": "ems", "mental-health-assoc": "mental_health",
    "childrens-aid": "child_welfare", "school-board": "school_board",
}
"""The agency types of the synthetic directory (``deploy/directory/halton.yaml``) used below."""


def t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A 2026 instant in UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def sid(n: int) -> UUID:
    """The id of situation ``Sn``."""
    return uuid7_at(epoch_ms(t(1, 1, 0)) + n, 0xA11_0000 + n)


M1 = uuid7_at(epoch_ms(t(1, 1, 0)), 0xB1)
"""1 District's meeting of 13 January 2026 (10:00 in Halton)."""
M2 = uuid7_at(epoch_ms(t(1, 1, 0)), 0xB2)
"""2 District's meeting of 11 February 2026."""
JAN13 = t(1, 13, 15)
FEB11 = t(2, 11, 15)


def fixed_stream() -> list[TimedRecord]:
    """The records of the ten situations, sorted by event time (stable)."""
    s = Stream()

    s1 = Script(s, sid(1), "district_1", "hrps-cmb-d1")
    s1.opened(t(1, 5, 15), originator="hrps-cmb-d1", municipality="milton",
              persons=(("age_25_29", "woman"),),
              risk_factors=("mental_health.crisis_calls", "housing.eviction_risk"),
              protective=("family_support",))
    s1.scheduled(t(1, 5, 16), M1, JAN13)
    s1.decision(JAN13, "confirmed")
    s1.assigned(t(1, 13, 15, 30), "mental-health-assoc", ("housing-services",))
    s1.responded(t(1, 13, 16), "mental-health-assoc")
    s1.responded(t(1, 13, 17), "housing-services")
    s1.contact(t(1, 14, 5), "mental-health-assoc", t(1, 14, 3), "accepted_services",
               ("mental_health", "housing"))
    s1.concluded(t(2, 10, 15, 30), "risk_lowered_connected_to_services")

    s2 = Script(s, sid(2), "district_1", "hrps-cmb-d1")
    s2.opened(t(1, 6, 15), originator="town-milton", municipality="milton",
              persons=(("age_25_29", "man"),),
              risk_factors=("mental_health.suspected", "housing.homeless"))
    s2.scheduled(t(1, 6, 16), M1, JAN13)
    s2.decision(JAN13, "confirmed")
    s2.assigned(t(1, 13, 15, 30), "housing-services")
    s2.responded(t(1, 13, 16), "housing-services")
    s2.contact(t(1, 14, 16), "housing-services", t(1, 14, 15), "accepted_information", ("housing",))
    s2.concluded(t(2, 10, 15, 30), "risk_lowered_informed_of_services")

    s3 = Script(s, sid(3), "district_1", "hrps-cmb-d1")
    s3.opened(t(1, 7, 15), originator="halton-ems", municipality="georgetown",
              persons=(("age_30_39", "man"),),
              risk_factors=("mental_health.diagnosed_not_treated", "housing.unsafe_conditions",
                            "drugs.problem_use"))
    s3.scheduled(t(1, 7, 16), M1, JAN13)
    s3.decision(JAN13, "confirmed")
    s3.assigned(t(1, 13, 15, 30), "addiction-services", ("mental-health-assoc",))
    s3.responded(t(1, 13, 16), "addiction-services")
    s3.responded(t(1, 13, 17), "mental-health-assoc", "rejected")
    s3.sla(t(1, 14, 15), "first_contact", JAN13, breached=False, agency="addiction-services")
    s3.sla(t(1, 15, 15), "first_contact", JAN13, breached=True, agency="addiction-services")
    s3.contact(t(1, 16, 4), "addiction-services", t(1, 16, 3), "refused")
    s3.concluded(t(2, 10, 15, 30), "still_aer_refused_services")

    s4 = Script(s, sid(4), "district_1", "hrps-cmb-d1")
    s4.opened(t(1, 8, 15), originator="hrps-cmb-d1", municipality="acton",
              situation_type="family", persons=(("age_25_29", "woman"), ("age_6_11", "man")),
              risk_factors=("mental_health.household", "basic_needs.food_insecurity"),
              study=("domestic_violence",))
    s4.scheduled(t(1, 8, 16), M1, JAN13)
    s4.decision(JAN13, "confirmed")
    s4.assigned(t(1, 13, 15, 30), "childrens-aid")
    s4.responded(t(1, 13, 16), "childrens-aid")
    s4.contact(t(1, 13, 22), "childrens-aid", t(1, 13, 21), "accepted_services", ("child_welfare",))
    s4.concluded(t(2, 10, 15, 30), "risk_lowered_connected_to_services")

    s5 = Script(s, sid(5), "district_1", "hrps-cmb-d1")
    s5.opened(t(1, 9, 15), originator="youth-mental-health", municipality="milton",
              persons=(("age_12_17", "woman"),),
              risk_factors=("mental_health.suspected", "housing.eviction_risk"),
              protective=("family_support",), study=("opioids",))
    s5.scheduled(t(1, 9, 16), M1, JAN13)
    s5.decision(JAN13, "rejected")
    s5.concluded(t(1, 13, 15, 5), "rejected_not_aer")
    s5.purged(t(1, 13, 15, 10), "rejected_not_aer")

    s6 = Script(s, sid(6), "district_1", "hrps-cmb-d1")
    s6.opened(t(1, 10, 15), originator="school-board", municipality="halton_hills",
              persons=(("age_18_24", "non_binary"),),
              risk_factors=("mental_health.crisis_calls", "antisocial_behaviour.threats"))
    s6.scheduled(t(1, 10, 16), M1, JAN13)
    s6.decision(JAN13, "returned")
    s6.purged(t(1, 13, 15, 10), "returned")

    s7 = Script(s, sid(7), "district_2", "hrps-cmb-d2")
    s7.opened(t(2, 2, 15), originator="hrps-cmb-d2", municipality="oakville",
              persons=(("age_25_29", "man"),),
              risk_factors=("mental_health.suspected", "drugs.overdose"))
    s7.scheduled(t(2, 2, 16), M2, FEB11)
    s7.decision(FEB11, "confirmed")
    s7.assigned(t(2, 11, 15, 30), "addiction-services")
    s7.sla(t(2, 13, 15), "first_contact", FEB11, breached=True, agency="addiction-services")
    s7.sla(t(2, 13, 15, 30), "lead_acceptance", t(2, 11, 15, 30), breached=True,
           agency="addiction-services")
    s7.responded(t(2, 13, 16), "addiction-services", "rejected")
    s7.assigned(t(2, 13, 17), "mental-health-assoc")
    s7.responded(t(2, 13, 18), "mental-health-assoc")
    s7.contact(t(2, 13, 20, 30), "mental-health-assoc", t(2, 13, 20), "accepted_services",
               ("mental_health", "addictions"))
    s7.concluded(t(3, 11, 15, 30), "risk_lowered_other")

    s8 = Script(s, sid(8), "district_2", "hrps-cmb-d2")
    s8.opened(t(2, 3, 15), originator="public-health", municipality="oakville",
              persons=(("age_25_29", "woman"),),
              risk_factors=("mental_health.medication_noncompliance", "alcohol.problem_use"))
    s8.scheduled(t(2, 3, 16), M2, FEB11)
    s8.decision(FEB11, "confirmed")
    s8.assigned(t(2, 11, 15, 30), "mental-health-assoc", ("housing-services",))
    s8.responded(t(2, 11, 16), "mental-health-assoc")
    s8.contact(t(2, 13, 15, 30), "mental-health-assoc", t(2, 13, 15), "accepted_services",
               ("mental_health",))
    s8.concluded(t(3, 11, 15, 30), "risk_lowered_connected_to_services")

    s9 = Script(s, sid(9), "district_2", "hrps-cmb-d2")
    s9.opened(t(2, 4, 15), originator="hrps-cmb-d2", municipality="oakville",
              persons=(("age_40_59", "woman"),), risk_factors=("mental_health.crisis_calls",))
    s9.scheduled(t(2, 4, 16), M2, FEB11)
    s9.decision(FEB11, "confirmed")
    s9.assigned(t(2, 11, 15, 30), "mental-health-assoc")
    s9.responded(t(2, 11, 16), "mental-health-assoc")
    s9.sla(t(2, 12, 15), "first_contact", FEB11, breached=False, agency="mental-health-assoc")
    s9.sla(t(2, 13, 15), "first_contact", FEB11, breached=True, agency="mental-health-assoc")
    s9.contact(t(2, 14, 12), "mental-health-assoc", None, "unable_to_locate")

    s10 = Script(s, sid(10), district="district_3", chair_agency="hrps-cmb-d3")
    s10.opened(t(2, 1, 3), originator="hrps-cmb-d3", municipality="burlington",
               persons=(("age_60_plus", "man"),),
               risk_factors=("mental_health.suspected", "elder_abuse.financial"))

    return sorted(s.records, key=lambda r: r.timestamp_ms)


def horizon() -> datetime:
    """An instant after every event of the fixed stream."""
    return t(3, 11, 15, 30) + timedelta(days=1)


# The fixed stream (analytics_samples.py) by hand: districts 6 / 3 / 1 of 10; January 7 (S1-S6, and S10
# opened on 31 January in Halton), February 3. February < 5 leaves January alone in the month
# line: it goes too (complementary); in month x district, district 1's column (6 = 6 + 0) would
# give its January cell away once February's 0 is hidden, so that cell goes too.
STATISTICS_ROWS = """\
district,district_1,,1 District,,6,
district,district_2,,2 District,,,small_cell
district,district_3,,3 District,,,small_cell
district,total,,Total,,10,
month,2026-01,,January 2026,,,complementary
month,2026-02,,February 2026,,,small_cell
month,total,,Total,,10,
month_district,2026-01,district_1,January 2026,1 District,,complementary
month_district,2026-01,district_2,January 2026,2 District,,small_cell
month_district,2026-01,district_3,January 2026,3 District,,small_cell
month_district,2026-02,district_1,February 2026,1 District,,small_cell
month_district,2026-02,district_2,February 2026,2 District,,small_cell
month_district,2026-02,district_3,February 2026,3 District,,small_cell
decision,confirmed,,AER confirmed,,7,
decision,rejected,,Rejected (not AER),,,small_cell
decision,returned,,Returned to the originator,,,small_cell
decision,pending,,Not yet decided,,,small_cell
decision,total,,Total,,10,
"""

# 3 breaches of 7 rest on small counts; 8 accepted of 10 answered would give away the 2 not
# accepted, so the 8 is hidden (complementary) and so is the rate. Times: S1-S9 decided (median
# 168 h), six first contacts (mobilization 6, 12, 24, 48, 53, 60 h), seven concluded.
MEASURES_CSV = """\
measure,label,unit,count,value,suppression
situations,Situations,count,10,,
persons,Persons concerned (situations not rejected),count,10,,
aer_confirmed,Situations confirmed as AER,count,7,,
closed,Situations closed,count,8,,
decision_median_hours,Median time from opening to the Filter 2 decision,hours,,168.0,
mobilization_situations,Situations with AER confirmed and a first contact,count,6,,
mobilization_median_hours,Median service mobilization time (AER confirmed to first contact),hours,,36.0,
mobilization_p90_hours,90th percentile of service mobilization time,hours,,60.0,
contacted,Situations with a first contact,count,6,,
contact_median_hours,Median time from opening to first contact,hours,,204.0,
concluded,Situations concluded,count,7,,
conclusion_median_days,Median time from opening to conclusion,days,,35.0,
sla_warned_situations,AER situations with an SLA warning,count,,,small_cell
sla_breached_situations,AER situations with an SLA breach,count,,,small_cell
sla_breached_first_contact,Situations breaching the 48 h first contact,count,,,small_cell
sla_breached_lead_acceptance,Situations whose lead acceptance was overdue,count,,,small_cell
sla_breach_rate,Share of AER situations with an SLA breach,percent,,,suppressed
assignments,Agency assignments (lead or assisting),count,11,,
assignments_answered,Assignments answered,count,10,,
assignments_accepted,Assignments accepted at first answer,count,,,complementary
assignment_acceptance_rate,Share of answered assignments accepted,percent,,,suppressed
"""

# Month-level dates; rows numbered after sorting on the exported columns (S4, the family, first).
ROW_1 = ("1,district_1,1 District,family,routine,2026-01,2026-01,2026-02,confirmed,police_cmb,"
         "child_welfare,,age_25_29;age_6_11,man;woman,basic_needs.food_insecurity;"
         "mental_health.household,basic_needs;mental_health,,domestic_violence,child_welfare,6.0,"
         "risk_lowered_connected_to_services,risk_lowered,false")
ROW_2 = ("2,district_1,1 District,individual,routine,2026-01,2026-01,2026-01,rejected,"
         "child_youth_mental_health,,,,,,,,,,,rejected_not_aer,rejected,true")
GENERATED = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
