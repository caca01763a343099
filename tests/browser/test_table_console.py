"""The table console in Debian's chromium: people sign in on Keycloak's own page and run the
Four Filters through the gateway; the sealed disclosure opens in the browser only.

Each person has their own chromium (quit at the end of their part). Every page a person sees is
screenshotted and checked by axe-core (no serious or critical violation), and its load time
recorded, in the output folder (``tests/browser/conftest.py``).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from schemas.envelope import from_record
from schemas.meetings import AgendaIssued, CommandRejected
from schemas.referrals import ReferralAccepted
from schemas.situations import SituationScheduled
from schemas.topics import MEETINGS, SITUATIONS, TABLE_ACTIONS
from services.cli.submit_cmd import load_referral, submit_and_wait
from services.intake import sealing
from services.intake.signing import development_signing_key
from services.runtime.clock import OffsetFileClock
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.browser.browser import Browser, Report, chrome
from tests.browser.conftest import Console
from tests.browser.signin import Visitor
from tests.e2e.helpers import events_of
from tests.support.kafka import end_offsets, read_all, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "referrals"
SUBJECT = {"given_name": "Avery", "family_name": "Synthetic-Example", "phone": "+1 905 555 0101",
           "safety_notes": "Synthetic: ring the side door."}
"""What the Milton sample's identified block holds (what only the lead's browser may show)."""


async def _accepted(settings: Settings, name: str) -> UUID:
    made = load_referral(SAMPLES / f"{name}.json", ref=f"WEB-{uuid.uuid4().hex[:12]}", seal=True)
    answer = await submit_and_wait(settings, made, development_signing_key(made.agency_id), 60)
    assert answer is not None, "no answer from intake"
    assert isinstance(answer.event, ReferralAccepted), answer.event
    return answer.event.situation_id


async def _scheduled(settings: Settings, sid: UUID) -> SituationScheduled:
    async def find() -> SituationScheduled | None:
        hits = await events_of(settings, SITUATIONS.name, SituationScheduled,
                               lambda e: e.situation_id == sid)
        return hits[0] if hits else None

    return await wait_for(find, timeout=90)


def _move_to(console: Console, moment: Any) -> None:
    ahead = moment - OffsetFileClock(console.clock_file).now()
    if ahead > timedelta(0):
        OffsetFileClock.advance_file(console.clock_file, ahead)


def _reload_until(browser: Browser, path: str, found: Callable[[Browser], bool],
                  timeout: float = 60) -> None:
    """Open ``path`` again until ``found`` (the read model catches up with convening)."""
    deadline = time.monotonic() + timeout
    while True:
        browser.go(path)
        browser.find("h1")
        if found(browser):
            return
        assert time.monotonic() < deadline, f"{path} never showed what was expected"
        time.sleep(0.5)


def _has(css: str) -> Callable[[Browser], bool]:
    return lambda b: bool(b.driver.find_elements(By.CSS_SELECTOR, css))


def _clean(browser: Browser, name: str) -> None:
    serious = browser.look(name)
    assert serious == [], f"axe-core on {name}: {serious}"


@pytest.fixture(scope="module")
async def story(console: Console) -> dict[str, Any]:
    """A Milton situation (1 District) on the agenda of a meeting that has started, and a
    Burlington one (3 District) scheduled.

    The clock moves only to the Milton meeting: the tables meet on different weekdays, and
    moving on to the later of the two meetings could end the Milton one before its chair opens
    it (it is then no longer on their console). The 3 District tests need only the Burlington
    situation's stage.
    """
    settings = console.settings
    milton = await _accepted(settings, "milton-individual")
    burlington = await _accepted(settings, "burlington-not-aer")
    meeting = await _scheduled(settings, milton)
    await _scheduled(settings, burlington)
    _move_to(console, meeting.meeting_starts_at - timedelta(minutes=30))

    async def agenda() -> bool:
        return bool(await events_of(settings, MEETINGS.name, AgendaIssued,
                                    lambda e: any(i.situation_id == milton for i in e.items)))

    await wait_for(agenda, timeout=60)
    _move_to(console, meeting.meeting_starts_at + timedelta(minutes=5))
    return {"milton": milton, "burlington": burlington, "meeting": meeting.meeting_id}


async def test_the_table_runs_the_four_filters_in_the_browser(
        console: Console, story: dict[str, Any], report: Report, axe: str, tmp_path: Path) -> None:
    base, sid, meeting = console.base, story["milton"], story["meeting"]

    # -- the 1 District chair: Filter 2 on the agenda, then Filter 3 --------------------------
    with chrome(base, report, axe) as chair:
        chair.go("/console/")
        _clean(chair, "landing")
        chair.sign_in("d1-chair")
        assert chair.heading() == "Your console"
        _reload_until(chair, "/console/", _has(f"a[href='/console/meetings/{meeting}']"))
        _clean(chair, "chair-home")
        chair.find(f"a[href='/console/meetings/{meeting}']").click()
        _reload_until(chair, f"/console/meetings/{meeting}",
                      _has(f"form[action='/console/situations/{sid}/decision']"))
        _clean(chair, "agenda")
        form = chair.find(f"form[action='/console/situations/{sid}/decision']")
        form.find_element(By.CSS_SELECTOR, "input[value=confirmed]").click()
        chair.submit(form)
        assert chair.heading() == "Done: Filter 2 decision recorded", chair.find("main").text
        _clean(chair, "outcome-done")
        chair.find("a[href^='/console/situations/']").click()
        form = chair.find(f"form[action='/console/situations/{sid}/assignment']")
        _clean(chair, "situation-chair")
        assert "Identity release: Filter 3" in form.text
        Select(form.find_element(By.ID, "lead")).select_by_value("public-health")
        form.find_element(By.CSS_SELECTOR, "input[name=assisting][value=town-milton]").click()
        chair.submit(form)
        assert chair.heading() == ("Done: Assignment of the lead and assisting agencies "
                                   "recorded"), chair.find("main").text
        # who was invited, whether the invitation reached them, who acknowledged (not yet)
        _reload_until(chair, f"/console/meetings/{meeting}", lambda b: bool(b.driver.find_elements(
            By.XPATH, "//table//tr[td[2][normalize-space()='yes']]")))
        rows = chair.driver.find_elements(By.CSS_SELECTOR, "#invited ~ div table tbody tr")
        assert "HRPS 1 District Community Mobilization Bureau (synthetic)" in {
            r.find_element(By.TAG_NAME, "th").text for r in rows}

    # -- the lead agency's contact: accept, open the disclosure, record the door knock -------
    key = sealing.private_key_to_b64(sealing.development_private_key("public-health"))
    key_file = tmp_path / "public-health.key"
    key_file.write_text(key + "\n")
    with chrome(base, report, axe) as lead:
        lead.sign_in("public-health-contact")
        _reload_until(lead, "/console/", _has(f"a[href='/console/situations/{sid}']"))
        _clean(lead, "contact-home")
        lead.find(f"a[href='/console/situations/{sid}']").click()
        form = lead.find(f"form[action='/console/situations/{sid}/response']")
        assert "Mental health: Repeated mental health crises" in lead.find("main").text
        _clean(lead, "situation-contact")
        Select(form.find_element(By.ID, "answer")).select_by_value("accepted")
        lead.submit(form)
        assert lead.heading() == "Done: Answer to the assignment recorded", lead.find("main").text
        _reload_until(lead, f"/console/situations/{sid}", _has("a[href^='/console/disclosures/']"))
        lead.find("a[href^='/console/disclosures/']").click()
        lead.wait().until(lambda d: d.find_element(By.ID, "open-form").is_displayed())
        _clean(lead, "disclosure-sealed")
        lead.driver.find_element(By.ID, "key-file").send_keys(str(key_file))
        lead.driver.find_element(By.CSS_SELECTOR, "#open-form button").click()
        lead.wait().until(lambda d: d.find_element(By.ID, "opened").is_displayed()
                          or "error" in (d.find_element(By.ID, "open-status").get_attribute("class") or ""))
        assert lead.find("#opened").is_displayed(), lead.find("#open-status").text
        opened = lead.find("#opened-fields").text
        for value in SUBJECT.values():
            assert value in opened, opened
        assert "Nothing was sent to the server" in lead.find("#open-status").text
        _clean(lead, "disclosure-opened")
        # The key and what it opened never left the browser: no request carries either.
        sent = json_of(lead.requests())
        assert key not in sent
        assert base64.b64decode(key).hex() not in sent
        for value in SUBJECT.values():
            assert value not in sent

    # -- a day later, the first-contact window warns the district's Staff Sergeant -----------
    _move_to(console, OffsetFileClock(console.clock_file).now() + timedelta(hours=25))
    with chrome(base, report, axe) as sergeant:
        sergeant.sign_in("d1-staff-sergeant", "/console/oversight")
        _reload_until(sergeant, "/console/oversight", _has(f"a[href='/console/situations/{sid}']"))
        assert "first contact after AER confirmation" in sergeant.find("#alerts ~ div table").text
        _clean(sergeant, "oversight")

    with chrome(base, report, axe) as lead:
        lead.sign_in("public-health-contact", f"/console/situations/{sid}")
        form = lead.find(f"form[action='/console/situations/{sid}/intervention']")
        Select(form.find_element(By.ID, "outcome")).select_by_value("accepted_services")
        form.find_element(By.CSS_SELECTOR, "input[name=services][value=mental_health]").click()
        lead.submit(form)
        assert lead.heading() == "Done: Intervention recorded", lead.find("main").text

    # -- the chair concludes --------------------------------------------------------------
    with chrome(base, report, axe) as chair:
        chair.sign_in("d1-chair", f"/console/situations/{sid}")
        form = chair.find(f"form[action='/console/situations/{sid}/conclusion']")
        Select(form.find_element(By.ID, "conclusion")).select_by_value(
            "risk_lowered_connected_to_services")
        chair.submit(form)
        assert chair.heading() == "Done: Conclusion recorded", chair.find("main").text
        chair.go(f"/console/situations/{sid}")
        assert "Concluded (Risk lowered - connected to services)" in chair.find(".stage").text
        _clean(chair, "situation-concluded")


async def test_another_districts_chair_has_no_way_to_act_and_a_forged_post_is_refused(
        console: Console, story: dict[str, Any], report: Report, axe: str) -> None:
    sid = story["burlington"]
    since = await end_offsets(console.settings, MEETINGS.name)
    with chrome(console.base, report, axe) as d2:
        d2.sign_in("d2-chair", f"/console/situations/{sid}")
        assert d2.heading() == "Not your situation"
        assert d2.driver.find_elements(By.CSS_SELECTOR, "main form") == []
        _clean(d2, "not-your-situation")
        # The forged post: the d2 chair's own session and CSRF token, a 3 District situation.
        answer = d2.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const csrf = document.querySelector("input[name=csrf_token]").value;
            fetch(arguments[0], {method: "POST", body: new URLSearchParams(
                {csrf_token: csrf, decision: "confirmed"})})
              .then(r => r.text().then(t => done({status: r.status, text: t})));
        """, f"/console/situations/{sid}/decision")
    assert answer["status"] == 403, answer["text"]
    assert "Refused: Filter 2 decision" in answer["text"]
    assert "HRPS 2 District Community Mobilization Bureau (synthetic) as table chair" in answer["text"]
    records = await read_all(console.settings, MEETINGS.name, since=since)
    refusals = [env.event for env in (from_record(r.headers, r.value, topic=r.topic) for r in records)
                if isinstance(env.event, CommandRejected) and env.event.target_id == sid]
    assert [r.actor.model_dump() for r in refusals if r.actor] == [
        {"agency_id": "hrps-cmb-d2", "role": "table_chair"}]
    assert "not_table_chair" in {reason.code for r in refusals for reason in r.reasons}


async def test_a_tampered_csrf_token_is_refused_and_nothing_is_sent(
        console: Console, story: dict[str, Any], report: Report, axe: str) -> None:
    sid = story["burlington"]
    since = await end_offsets(console.settings, TABLE_ACTIONS.name)
    with chrome(console.base, report, axe) as d3:
        d3.sign_in("d3-chair", f"/console/situations/{sid}")
        form = d3.find(f"form[action='/console/situations/{sid}/decision']")
        d3.driver.execute_script(
            "arguments[0].querySelector('input[name=csrf_token]').value = 'forged-' + Date.now();",
            form)
        form.find_element(By.CSS_SELECTOR, "input[value=rejected]").click()
        d3.submit(form)
        assert d3.heading() == "Refused: the form's security token does not match"
        assert d3.status_of(f"/console/situations/{sid}/decision") == 403
        _clean(d3, "csrf-refused")
    assert await read_all(console.settings, TABLE_ACTIONS.name, since=since) == []


async def test_signing_out_ends_the_identity_providers_session_too(
        console: Console, report: Report, axe: str) -> None:
    with chrome(console.base, report, axe) as chair:
        chair.sign_in("d3-chair")
        chair.find("form.signout button").click()
        chair.wait().until(lambda d: d.current_url == console.base + "/console/signed-out")
        assert chair.heading() == "You are signed out"
        _clean(chair, "signed-out")
        chair.go("/console/meetings")  # no session: back to Keycloak, which asks again
        chair.wait().until(lambda d: d.find_elements(By.ID, "username"))


async def test_the_console_works_by_keyboard_and_on_a_phone(
        console: Console, story: dict[str, Any], report: Report, axe: str) -> None:
    with chrome(console.base, report, axe, width=390, height=844) as phone:
        phone.sign_in("public-health-contact")
        body = phone.find("body")
        body.send_keys(Keys.TAB)
        focused = phone.driver.switch_to.active_element
        assert focused.text == "Skip to the main content"
        assert focused.is_displayed()
        focused.send_keys(Keys.ENTER)
        assert phone.driver.switch_to.active_element.get_attribute("id") == "main"
        for path, name in [("/console/", "phone-home"),
                           (f"/console/situations/{story['milton']}", "phone-situation"),
                           ("/console/assignments", "phone-assignments")]:
            phone.go(path)
            wide = phone.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            assert wide <= 0, f"{path} scrolls sideways on a phone by {wide}px"
            _clean(phone, name)


def json_of(requests: list[dict[str, Any]]) -> str:
    """Every request's URL, headers and body as one text to search."""
    import json

    return json.dumps(requests)


# -- what a browser hides: cookies, headers, the sign-in's state, the session row ----------------


def _secure_headers(answer: Any) -> None:
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


async def test_cookies_headers_and_the_session_row(console: Console, admin_db: Any) -> None:
    visitor = Visitor(console.base)
    try:
        # a return address elsewhere is not followed: the console's home instead
        landed = visitor.sign_in("d1-chair", "https://elsewhere.example.org/console/")
        assert str(landed.url) == f"{console.base}/console/"
        assert landed.status_code == 200
        [session] = [c for c in visitor.set_cookies if c.startswith("commande_session=") and
                     "Max-Age=0" not in c]
        assert "; HttpOnly" in session
        assert "; SameSite=Lax" in session
        assert "; Path=/console/" in session
        assert "Secure" not in session  # http://127.0.0.1: a browser would not send it back
        cookie = visitor.jars["console"]["commande_session"]
        for path in ("/console/", "/console/meetings", "/console/static/console.css",
                     "/console/no-such-page", "/console/signed-in?state=x&code=y"):
            _secure_headers(visitor.request("GET", path, follow=False))
        # the row keeps the groups and the expiry; not the cookie's id, not a readable token
        row = await admin_db.fetchrow(
            "SELECT * FROM gateway.console_sessions WHERE session_hash = sha256($1::bytea)",
            cookie.encode())
        assert row is not None
        assert list(row["groups"]) == ["/agencies/hrps-cmb-d1/community_engagement_team"]
        assert cookie.encode() not in bytes(row["id_token_sealed"])
        assert b"eyJ" not in bytes(row["id_token_sealed"])
        # idle past the timeout: the session ends, the page says so, nothing is shown
        await admin_db.execute(
            "UPDATE gateway.console_sessions SET idle_until = now() - interval '1 second' "
            "WHERE session_hash = sha256($1::bytea)", cookie.encode())
        ended = visitor.request("GET", "/console/meetings", follow=False)
        assert ended.status_code == 401
        assert "Your session has ended" in ended.text
        assert await admin_db.fetchval(
            "SELECT count(*) FROM gateway.console_sessions WHERE session_hash = sha256($1::bytea)",
            cookie.encode()) == 0
    finally:
        visitor.close()


async def test_a_sign_in_answer_with_another_state_is_refused(console: Console) -> None:
    visitor = Visitor(console.base)
    try:
        visitor.request("GET", "/console/sign-in", follow=False)  # begun: its login cookie is set
        answer = visitor.request("GET", "/console/signed-in?state=not-the-one&code=anything",
                                 follow=False)
        assert answer.status_code == 400
        assert "cannot be completed" in answer.text
        assert "commande_session" not in visitor.jars.get("console", {})
    finally:
        visitor.close()
