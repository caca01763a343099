"""The table console's decisions (pure): PKCE, cookies, sessions, CSRF, headers, what a page
offers, the clocks, the forms, the outcome in words, and the vendored browser libraries."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest

from directory import Directory, load_directory, reference_codes
from schemas.base import Actor
from schemas.commands import RecordAerDecision
from schemas.reference import reference
from services.gateway import api
from services.gateway.console import forms, oidc, security, vendor, views
from services.gateway.console.labels import Labels
from services.gateway.console.outcome import invalid, issued, stopped
from services.gateway.identity import Identity, principal_from_claims, resolve
from services.gateway.outcomes import Caused, Refused
from services.gateway.routes import Issued, Refusal
from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

TODAY = date(2026, 1, 6)
NOW = datetime(2026, 1, 6, 17, 0, tzinfo=UTC)
SID = UUID("01a23371-f867-7229-9d2d-b628fd9c0291")


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml",
                          reference_codes(reference()))


def who(directory: Directory, *groups: str) -> Identity:
    return resolve(principal_from_claims({"groups": list(groups)}), directory, TODAY)


# -- security ------------------------------------------------------------------------------------


def test_the_pkce_challenge_is_rfc_7636s_example() -> None:
    assert security.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_authorization_request_asks_openid_only_with_s256() -> None:
    url = oidc.authorize_url("https://idp.example.org/auth", client_id="commande-people",
                             redirect_uri="https://console.example.org/console/signed-in",
                             state="s", nonce="n", challenge="c")
    query = parse_qs(urlsplit(url).query)
    assert query == {"response_type": ["code"], "client_id": ["commande-people"],
                     "redirect_uri": ["https://console.example.org/console/signed-in"],
                     "scope": ["openid"], "state": ["s"], "nonce": ["n"],
                     "code_challenge": ["c"], "code_challenge_method": ["S256"]}


@pytest.mark.parametrize(("asked", "goes_to"), [
    ("/console/situations/01a23371-f867-7229-9d2d-b628fd9c0291",
     "/console/situations/01a23371-f867-7229-9d2d-b628fd9c0291"),
    ("/console/meetings?x=1", "/console/meetings?x=1"),
    ("https://elsewhere.example.org/console/", "/console/"),
    ("//elsewhere.example.org/console/", "/console/"),
    ("/console/\\\\elsewhere", "/console/"),
    ("/v1/me", "/console/"),
    (None, "/console/"),
])
def test_after_signing_in_only_a_console_path_is_followed(asked: str | None, goes_to: str) -> None:
    assert security.safe_return_path(asked) == goes_to


def test_cookies_are_httponly_lax_and_secure_on_https() -> None:
    https = security.CookiePolicy.for_public_url("https://console.example.org")
    assert https.header("commande_session", "v", 600) == (
        "commande_session=v; Path=/console/; Max-Age=600; HttpOnly; SameSite=Lax; Secure")
    loopback = security.CookiePolicy.for_public_url("http://127.0.0.1:8080")
    assert "Secure" not in loopback.header("commande_session", "v", 600)
    assert "HttpOnly" in loopback.header("commande_session", "v", 600)


def test_a_session_ends_when_idle_or_at_its_lifetime() -> None:
    life = security.Lifetimes(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    idle_until, expires = life.opened(NOW)
    assert (idle_until, expires) == (NOW + timedelta(minutes=30), NOW + timedelta(hours=10))
    assert life.judge(idle_until, expires, NOW + timedelta(minutes=29)) is security.SessionState.LIVE
    assert life.judge(idle_until, expires, NOW + timedelta(minutes=30)) is security.SessionState.IDLE
    # used every 20 minutes, it still ends at its lifetime
    later = NOW + timedelta(hours=9, minutes=50)
    assert life.touched(expires, later) == expires
    assert life.judge(expires, expires, expires) is security.SessionState.EXPIRED


def test_the_id_token_opens_only_with_its_session_id() -> None:
    sealed = security.seal_for_session("session-a", "header.claims.signature")
    assert b"claims" not in sealed
    assert security.open_for_session("session-a", sealed) == "header.claims.signature"
    assert security.open_for_session("session-b", sealed) is None
    assert security.digest("session-a") == hashlib.sha256(b"session-a").digest()


def test_csrf_tokens_compare_exactly() -> None:
    token = security.random_token()
    assert security.same(token, token)
    assert not security.same(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not security.same(token, None)


def test_every_page_forbids_inline_script_framing_and_foreign_forms() -> None:
    headers = security.page_headers(form_targets=("https://idp.example.org",))
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' https://idp.example.org" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers
    assert "Strict-Transport-Security" in security.page_headers(secure=True)
    # only the disclosure page compiles WebAssembly (libsodium), which is not eval
    assert "script-src 'self' 'wasm-unsafe-eval';" in security.page_headers(wasm=True)[
        "Content-Security-Policy"]


# -- what a page offers ----------------------------------------------------------------------------


ENTRIES = [("opened", "district=district_1 priority=routine"), ("scheduled", "slot=regular")]
TRANSITIONS = reference().task_states.transitions


def test_the_stage_follows_the_timeline() -> None:
    assert views.stage(ENTRIES) is views.Stage.SCHEDULED
    assert views.stage([*ENTRIES, ("aer_decision_recorded", "decision=confirmed")]) is views.Stage.CONFIRMED
    assert views.stage([*ENTRIES, ("aer_decision_recorded", "decision=rejected"),
                        ("concluded", "conclusion=rejected_not_aer")]) is views.Stage.CONCLUDED
    assert views.stage([*ENTRIES, ("aer_decision_recorded", "decision=confirmed"),
                        ("agencies_assigned", "lead=public-health assisting="),
                        ("sla_warning", "sla=first_contact")]) is views.Stage.ASSIGNED
    assert views.stage([("concluded", "x"), ("reopened", "reason=r")]) is views.Stage.OPENED


def test_the_districts_chair_is_offered_the_decision_and_another_chair_nothing(
        directory: Directory) -> None:
    d1 = who(directory, "/agencies/hrps-cmb-d1/community_engagement_team")
    d2 = who(directory, "/agencies/hrps-cmb-d2/community_engagement_team")
    offered = views.offer(d1, "district_1", views.Stage.SCHEDULED, {}, TRANSITIONS)
    assert offered.decide
    assert not offered.assign
    assert not offered.respond
    assert not views.offer(d2, "district_1", views.Stage.SCHEDULED, {}, TRANSITIONS).anything
    assert views.offer(d1, "district_1", views.Stage.CONCLUDED, {}, TRANSITIONS).reopen


def test_an_assigned_agency_is_offered_its_answers_then_the_intervention(
        directory: Directory) -> None:
    contact = who(directory, "/agencies/public-health/table_representative")
    requested = views.offer(contact, "district_1", views.Stage.ASSIGNED,
                            {"public-health": "requested"}, TRANSITIONS)
    assert requested.respond == ("accepted", "rejected", "cancelled")
    assert requested.agency_id == "public-health"
    assert not requested.intervene
    accepted = views.offer(contact, "district_1", views.Stage.ASSIGNED,
                           {"public-health": "accepted"}, TRANSITIONS)
    assert accepted.intervene
    assert not accepted.decide
    assert not views.offer(contact, "district_1", views.Stage.ASSIGNED,
                           {"town-milton": "requested"}, TRANSITIONS).anything


def test_risk_lowered_is_offered_only_after_an_intervention() -> None:
    before = dict(views.conclusions(reference(), views.Stage.ASSIGNED))
    after = dict(views.conclusions(reference(), views.Stage.INTERVENTION))
    assert "risk_lowered_connected_to_services" not in before
    assert "risk_lowered_connected_to_services" in after
    assert not {"rejected_not_aer", "returned_to_originator", "withdrawn"} & (set(before) | set(after))


def test_the_clocks_say_what_is_due_and_whether_it_passed() -> None:
    confirmed = NOW - timedelta(hours=30)
    clocks = views.clocks(confirmed, NOW - timedelta(hours=13), False, False, NOW,
                          warning=timedelta(hours=24), breach=timedelta(hours=48),
                          lead_acceptance=timedelta(hours=12))
    assert [(c.label, c.state) for c in clocks] == [
        ("Lead agency accepts", "passed"), ("First contact (door knock)", "warning")]
    assert clocks[0].words.startswith("overdue by 1 h 0 min")
    assert clocks[1].words.startswith("18 h 0 min left")
    met = views.clocks(confirmed, None, True, False, NOW, warning=timedelta(hours=24),
                       breach=timedelta(hours=48), lead_acceptance=timedelta(hours=12))
    assert [c.state for c in met] == ["met"]


def test_times_are_toronto_times() -> None:
    assert views.local(NOW) == "Tue 6 Jan 2026, 12:00"
    assert views.local_input(NOW) == "2026-01-06T12:00"
    assert views.duration(timedelta(days=2, hours=3, minutes=5)) == "2 days 3 h"
    assert views.duration(timedelta(minutes=4)) == "4 min"


# -- forms -----------------------------------------------------------------------------------------


def test_a_form_makes_the_apis_body_and_never_an_actor() -> None:
    form = forms.parse(b"csrf_token=t&decision=confirmed&note=&actor=hrps-cmb-d3")
    assert forms.decision(form) == api.DecisionBody(decision="confirmed")
    body = forms.assignment(forms.parse(
        b"lead=public-health&assisting=town-milton&assisting=public-health&assisting=town-milton"))
    assert body == api.AssignmentBody(lead="public-health", assisting=("town-milton",))


def test_an_incomplete_form_names_every_field() -> None:
    with pytest.raises(forms.FormError) as caught:
        forms.assignment(forms.parse(b"assisting=town-milton"))
    assert [e["field"] for e in caught.value.errors] == ["lead"]
    with pytest.raises(forms.FormError):
        forms.intervention(forms.parse(b"outcome=accepted_services&first_contact_at=yesterday"))


def test_the_first_contact_is_read_in_toronto() -> None:
    body = forms.intervention(forms.parse(
        b"outcome=accepted_services&first_contact_at=2026-01-06T15%3A00&services=mental_health"))
    assert isinstance(body, api.InterventionBody)
    assert body.first_contact_at == datetime(2026, 1, 6, 20, 0, tzinfo=UTC)
    assert body.services_mobilized == ("mental_health",)


# -- outcomes in words -----------------------------------------------------------------------------


def test_a_refusal_is_403_with_every_reason_and_names_who_was_refused(directory: Directory) -> None:
    actor = Actor(agency_id="hrps-cmb-d2", role="table_chair")
    command = RecordAerDecision(situation_id=SID, meeting_id=SID, decision="confirmed",
                                actor=actor, issued_at=NOW)
    refusal = Caused("ca.halton.commande.meeting.command_rejected.v1", "x", {
        "actor": actor.model_dump(), "reasons": [
            {"code": "not_table_chair", "field": None,
             "message": "hrps-cmb-d2 does not chair the district_3 table"}]})
    view = issued("Filter 2 decision", Issued(command, SID, Refused(refusal)),
                  Labels(reference(), directory), 10)
    assert view.status == 403
    assert view.state == "refused"
    assert view.actor == "HRPS 2 District Community Mobilization Bureau (synthetic) as table chair"
    assert [r.message for r in view.reasons] == ["hrps-cmb-d2 does not chair the district_3 table"]
    pending = issued("Filter 2 decision", Issued(command, SID, None), Labels(reference(), directory), 10)
    assert pending.status == 504
    assert "did not settle it within 10 seconds" in pending.detail


def test_nothing_sent_is_said_so() -> None:
    view = stopped("Filter 2 decision", Refusal(422, "identifying_text", "The text identifies someone",
                                                "Reword every listed field; nothing was sent.",
                                                {"reasons": [{"code": "note_contains_phone",
                                                              "field": "note", "message": "a phone"}]}))
    assert view.status == 422
    assert view.heading == "Not sent: Filter 2 decision"
    assert [(r.code, r.field) for r in view.reasons] == [("note_contains_phone", "note")]
    form = invalid("Assignment", forms.FormError([{"field": "lead", "message": "Field required"}]))
    assert form.status == 422
    assert form.reasons[0].field == "lead"


# -- vendored browser libraries --------------------------------------------------------------------


def test_the_vendored_libsodium_files_are_the_pinned_ones() -> None:
    assert vendor.mismatches() == []
    assert {f.version for f in vendor.FILES} == {"0.8.4"}


def test_the_gateway_reaches_the_issuer_inside_its_network_when_told() -> None:
    """Docker compose: browsers use the public issuer, the gateway its internal address."""
    from services.gateway.tokens import TokenVerifier

    verifier = TokenVerifier("http://127.0.0.1:18180/realms/commande", "commande-gateway")
    inside = oidc.Provider(verifier, "commande-people", "groups",
                           internal_url="http://keycloak:8080/realms/commande/")
    assert inside._server_side("http://127.0.0.1:18180/realms/commande/protocol/openid-connect/token") \
        == "http://keycloak:8080/realms/commande/protocol/openid-connect/token"
    assert inside._server_side("https://elsewhere.example.org/token") == "https://elsewhere.example.org/token"
    plain = oidc.Provider(verifier, "commande-people", "groups")
    assert plain._server_side("http://127.0.0.1:18180/realms/commande/x") == \
        "http://127.0.0.1:18180/realms/commande/x"
