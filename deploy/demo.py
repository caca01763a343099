"""``make demo``: the main job end to end on the embedded stack, told as it happens.

1. starts the services (``commande run all``: intake, convening, notifier and the gateway)
   against the running stack;
2. submits the sample referrals in ``deploy/samples/referrals/`` with ``commande submit``;
3. moves the services' clock to the meeting (an offset file: the services run with
   ``COMMANDE_CLOCK_OFFSET_FILE``, so nobody waits days for a table to meet);
4. walks the Milton situation through the four filters to "risk lowered, connected to services"
   and the Burlington one to "rejected, not AER", with the chair's and agencies' commands, each
   person signed in to the stack's Keycloak (``commande login d1-chair``) and acting through the
   gateway, which stamps who they are on the command (the 2 District chair's try at a 3 District
   situation is refused, and the refusal names them); the lead and the assisting agency each
   open the disclosure package e-mailed to them (``commande intake disclosure open``) and show
   the fields they received;
5. submits two community event requests as the public does: a seniors' talk in Milton, whose
   requester confirms their address from the link e-mailed to them (the only e-mail until then;
   opening the link confirms nothing, its button does), then the CMB manager's notice and the
   acknowledgement go out and the 1 District CMB manager schedules it; a short-notice one,
   refused at once with the earliest acceptable date and never mailed to its unconfirmed address;
6. prints a summary (situations, reasons, meetings, notices per recipient, disclosures, SLA
   timers, event requests) and where to read the e-mails; then stops the services (the stack keeps
   running) and gives the table console's address and the synthetic sign-ins of a chair and
   an agency contact (the e-mails link to the console's pages there);
7. ends with an analyst's replay of the streams (``commande replay --projection statistics``)
   into the report, the workbook, CSV and Parquet, and prints where the report is.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from deploy.keycloak.realm import LOCAL_PASSWORD
from deploy.local.services import ServiceProcess, free_port
from deploy.local.smtp_sink import read_messages
from directory import ContactRole, load_directory
from schemas.base import Message
from schemas.envelope import Envelope
from schemas.meetings import CommandRejected
from schemas.reference.calendar import local_date
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationScheduled,
)
from schemas.topics import MEETINGS, SITUATIONS
from services.gateway.settings import GatewaySettings
from services.intake.sealing import development_private_key, private_key_to_b64
from services.runtime.clock import OffsetFileClock
from services.runtime.lag import group_lag
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.wire import Watch, situation_events

SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "referrals"
EVENT_SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "event-requests"
DIRECTORY = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
CHAIRS = {"district_1": "d1-chair", "district_2": "d2-chair", "district_3": "d3-chair"}
"""The tables' chairs: synthetic people of the stack's Keycloak realm (deploy/keycloak)."""


def say(text: str = "") -> None:
    print(text, flush=True)


def commande(*args: str, env: dict[str, str], stdin: str | None = None,
             quiet: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a ``commande`` command the way a person would, showing it (and, unless ``quiet``,
    everything it printed; quiet still shows its messages on stderr)."""
    say(f"  $ commande {' '.join(args)}")
    done = subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, check=False, timeout=timeout)
    for line in ((done.stderr if quiet else done.stdout + done.stderr).strip().splitlines()):
        say(f"    {line}")
    return done


@dataclass
class Demo:
    settings: Settings
    env: dict[str, str]
    clock_file: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6].upper())
    started_ns: int = field(default_factory=time.time_ns)
    """When the demo began: only the sink's messages from then on are about it."""
    situations: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    meetings: dict[str, str] = field(default_factory=dict)
    event_requests: list[str] = field(default_factory=list)
    signed_in: str | None = None

    def login(self, person: str) -> dict[str, str]:
        """Sign in as ``person`` (a synthetic person of the local realm) unless already; the
        environment for their commands."""
        if self.signed_in != person:
            # The local realm's published password, typed into standard input.
            if commande("login", person, "--password-stdin", env=self.env,
                        stdin=LOCAL_PASSWORD + "\n").returncode != 0:
                raise SystemExit(f"demo: {person} could not sign in; is Keycloak up "
                                 "(`commande stack status`)?")
            self.signed_in = person
        return self.env

    def submit_all(self) -> None:
        say("\n== 1. Partner agencies submit referrals (Filter 1 already done by each agency)")
        for path in sorted(SAMPLES.glob("*.json")):
            data = json.loads(path.read_text())
            ref = f"{data['referral_ref']}-{self.run_id}"
            done = commande("submit", str(path.relative_to(PROJECT_ROOT)), "--ref", ref, env=self.env)
            if done.returncode == 0:
                self.situations[path.stem] = done.stdout.split("situation ")[1].split()[0]
            elif done.returncode == 1:
                self.rejected[path.stem] = [ln.strip()[2:].split(" at ")[0] for ln in
                                            done.stdout.splitlines() if ln.strip().startswith("- ")]
            else:
                raise SystemExit(f"demo: submitting {path.name} failed")

    def _refused(self, env: Envelope[Message]) -> bool:
        """A refusal of one of this demo's commands."""
        event = env.event
        return isinstance(event, CommandRejected) and str(event.target_id) in self.situations.values()

    async def wait_for(self, topic: str, match: Callable[[Envelope[Message]], bool],
                       action: Callable[[], object], what: str, within: float = 60) -> Envelope[Message]:
        """Run ``action`` and wait for the event it should cause."""
        # Refusals (CommandRejected) travel on the meetings topic: watch it too, to say why.
        async with Watch(self.settings, "analytics", topic, MEETINGS.name) as watch:
            action()
            found = await watch.first(lambda e: match(e) or self._refused(e), within)
        if found is None:
            raise SystemExit(f"demo: no {what} within {within:.0f}s; see .state/demo/*.log")
        if isinstance(found.event, CommandRejected):
            raise SystemExit(f"demo: the command was refused: {found.event.reasons}")
        return found




def _is(kind: type[Message], situation: str, **fields: Any) -> Callable[[Envelope[Message]], bool]:
    def match(env: Envelope[Message]) -> bool:
        event = env.event
        return (isinstance(event, kind) and str(getattr(event, "situation_id", "")) == situation
                and all(getattr(event, k) == v for k, v in fields.items()))
    return match


async def scheduled(demo: Demo, situation: str) -> SituationScheduled:
    """The situation's SituationScheduled (already published: read from the partition)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = await _scheduled_event(demo.settings, situation)
        if found is not None:
            return found
        await asyncio.sleep(0.5)
    raise SystemExit(f"demo: situation {situation} was not scheduled within 60s")


async def _scheduled_event(settings: Settings, situation: str) -> SituationScheduled | None:
    for env in await situation_events(settings, uuid.UUID(situation)):
        if isinstance(env.event, SituationScheduled):
            return env.event
    return None


def _move_to(clock_file: Path, moment: datetime) -> None:
    ahead = moment - OffsetFileClock(clock_file).now()
    if ahead > timedelta(0):
        OffsetFileClock.advance_file(clock_file, ahead)


async def walk(demo: Demo) -> None:
    milton = demo.situations["milton-individual"]
    burlington = demo.situations["burlington-not-aer"]
    say("\n== 2. convening routes each situation to its district table and meeting")
    meetings = {}
    for name in ("milton-individual", "oakville-family-urgent", "burlington-not-aer"):
        sched = await scheduled(demo, demo.situations[name])
        meetings[name] = sched
        demo.meetings[str(sched.meeting_id)] = f"{sched.district} {sched.slot}"
        say(f"  {name}: {sched.district}, {sched.slot} meeting {sched.meeting_id} "
            f"at {sched.meeting_starts_at:%Y-%m-%d %H:%M} UTC")
    say("\n  (moving the services' clock forward, meeting by meeting: each agenda goes out at its "
        "lead time, then the tables meet; a demo-only offset file, nobody waits days)")
    for sched in sorted(meetings.values(), key=lambda m: m.meeting_starts_at):
        _move_to(demo.clock_file, sched.meeting_starts_at - timedelta(minutes=30))
        await asyncio.sleep(2.5)  # the agenda timer fires (it polls every second)
    _move_to(demo.clock_file, max(m.meeting_starts_at for m in meetings.values()) + timedelta(minutes=5))
    await asyncio.sleep(1)

    await gateway_caught_up(demo.settings)

    m1 = meetings["milton-individual"]
    chair1 = CHAIRS[m1.district]
    say("\n== 3. Filter 2 at the 1 District table: the Milton situation is AER")
    say("  (each person signs in to the stack's Keycloak; the gateway stamps who they are on "
        "each command, and the meeting and identity release come from the situation and the "
        "directory)")
    env = demo.login(chair1)
    await demo.wait_for(SITUATIONS.name, _is(AerDecisionRecorded, milton), lambda: commande(
        "decide", "--situation", milton, "--decision", "confirmed", env=env), "AER decision")
    say("\n== 4. Filter 3: the table names a lead and an assisting agency; intake seals identity for them")
    await demo.wait_for(SITUATIONS.name, _is(AgenciesAssigned, milton), lambda: commande(
        "assign", "--situation", milton, "--lead", "public-health", "--assisting", "town-milton",
        env=env), "assignment")
    env = demo.login("public-health-contact")
    await demo.wait_for(SITUATIONS.name, _is(AssignmentResponded, milton, to_state="accepted"),
                        lambda: commande("respond", "--situation", milton, "--answer", "accepted",
                                         env=env),
                        "lead's acceptance")
    await open_disclosures(demo, milton, {"public-health": "lead", "town-milton": "assisting"})
    say("\n== 5. Filter 4: the door knock, then the table concludes")
    contact = OffsetFileClock(demo.clock_file).now().replace(microsecond=0).isoformat()
    await demo.wait_for(SITUATIONS.name, _is(InterventionRecorded, milton), lambda: commande(
        "intervene", "--situation", milton, "--outcome", "accepted_services",
        "--first-contact-at", contact, "--service", "mental_health", env=env), "intervention")
    env = demo.login(chair1)
    await demo.wait_for(SITUATIONS.name, _is(SituationConcluded, milton), lambda: commande(
        "conclude", "--situation", milton, "--conclusion", "risk_lowered_connected_to_services",
        "--meeting", str(m1.meeting_id), env=env), "conclusion")

    m3 = meetings["burlington-not-aer"]
    say("\n== 6. Filter 2 at the 3 District table: the Burlington situation is not AER")
    say("  the 2 District chair tries first; convening refuses, and the refusal names who tried:")
    env = demo.login(CHAIRS["district_2"])
    if commande("decide", "--situation", burlington, "--decision", "rejected",
                env=env).returncode != 1:
        raise SystemExit("demo: the 2 District chair's decision on a 3 District situation was not refused")
    env = demo.login(CHAIRS[m3.district])
    await demo.wait_for(SITUATIONS.name, _is(SituationConcluded, burlington), lambda: commande(
        "decide", "--situation", burlington, "--decision", "rejected", env=env), "rejection")
    say("\n== 7. The Milton situation's de-identified timeline")
    commande("situation", "show", milton, env=env)
    event_requests(demo)
    await asyncio.sleep(5)  # let notifier deliver what these facts caused


async def gateway_caught_up(settings: Settings, within: float = 600) -> None:
    """Wait until the gateway has read the situations and meetings topics to their ends: it fills
    each command's meeting from what it read. On a stack that tests or benches have used, its
    consumer group may first have thousands of their records to read."""
    group, topics = GatewaySettings().gateway_group, (SITUATIONS.name, MEETINGS.name)
    deadline, told = time.monotonic() + within, False
    while (behind := sum((await group_lag(settings, "operator", group, topics)).values())) > 0:
        if not told:
            say(f"  (the gateway is reading {behind:,} earlier records on this stack first)")
            told = True
        if time.monotonic() > deadline:
            raise SystemExit(f"the gateway is still {behind:,} records behind after {within:.0f} s: "
                             f"see its log in {settings.state_dir / 'demo'}")
        await asyncio.sleep(1)


async def open_disclosures(demo: Demo, situation: str, roles: dict[str, str]) -> None:
    """Each agency opens the package e-mailed to it, as its privacy officer would: the lead sees
    what it needs to knock on the door, the assisting agency less."""
    say("\n  each agency opens the disclosure package e-mailed to it (with its private key: here "
        "the synthetic TEST key of the sample directory; intake's signature is checked first):")
    directory = load_directory(PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
    folder = demo.clock_file.parent
    deadline = time.monotonic() + 60
    for agency, role in roles.items():
        org = directory.organization(agency)
        assert org is not None
        box = {c.address for c in org.contacts_for(ContactRole.DISCLOSURES)}
        attachment = None
        while attachment is None:
            for msg in read_messages(demo.settings.mail_dir, demo.started_ns):
                if (msg["X-Commande-Notice-Kind"] == "disclosure" and situation in str(msg)
                        and any(a in str(msg["X-Envelope-To"]) for a in box)):
                    attachment = next(iter(msg.iter_attachments()), None)
            if attachment is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"demo: no disclosure e-mail reached {agency}")
                await asyncio.sleep(0.5)
        package = folder / str(attachment.get_filename())
        package.write_bytes(attachment.get_content().encode()
                            if attachment.get_content_maintype() == "text"
                            else bytes(attachment.get_content()))
        key = folder / f"{agency}.key"
        key.write_text(private_key_to_b64(development_private_key(agency)) + "\n")
        key.chmod(0o600)
        say(f"  {agency} ({role} agency), from its e-mail to {', '.join(sorted(box))}:")
        opened = commande("intake", "disclosure", "open", "--key", _shown(key), _shown(package),
                          env=demo.env, quiet=True)
        if opened.returncode != 0:
            raise SystemExit(f"demo: {agency} could not open its disclosure")
        subject = json.loads(opened.stdout)["subject"]
        fields = sorted({*subject, *(k for p in subject.get("people", []) for k in p)} - {"people"})
        say(f"    received: {', '.join(fields)}")


def _shown(path: Path) -> str:
    """``path`` as a person would type it: relative to the project when it is inside (the state
    directory may be elsewhere, COMMANDE_STATE_DIR)."""
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def event_requests(demo: Demo) -> None:
    """The public asks the CMB for a speaker and confirms their address from the e-mailed link; a
    short-notice request is refused at once with the date, and never mailed to an unconfirmed
    address."""
    say("\n== 8. Community event requests: a seniors' club asks 1 District for a speaker")
    say("  (the samples' requester addresses are tagged with this run: one address is sent at most "
        "COMMANDE_INTAKE_EVENT_CONFIRMATIONS_PER_DAY confirmation e-mails a day)")
    talk = _tagged_sample(demo, "milton-seniors-talk.json")
    done = commande("event-request", "submit", _shown(talk), env=demo.env)
    if done.returncode != 0:
        raise SystemExit("demo: the seniors' talk request was not received")
    request_id = done.stdout.split("(request ")[1].split(")")[0]
    demo.event_requests.append(request_id)
    requester = json.loads(talk.read_text())["requester"]["email"]
    manager = DIRECTORY.cmb("district_1", local_date(OffsetFileClock(demo.clock_file).now()))
    assert manager is not None
    manager_address = manager.contacts_for(ContactRole.CMB_MANAGER)[0].address
    say("  a member of the public's address is confirmed before anything else is sent to it; the "
        "only e-mail so far, in the sink:")
    mail = _await_mail(demo, request_id, "event_request_confirmation")
    say(f"    to {mail['X-Envelope-To']}: {str(mail['Subject']).strip()}")
    link = _confirmation_link(mail)
    say(f"    link: {link}")
    time.sleep(2)
    about = _mails_about(demo, request_id)
    to_manager = [m for m in about if str(m["X-Envelope-To"]) == manager_address]
    say(f"    e-mails about the request: {len(about)}; to the CMB manager: {len(to_manager)} "
        "(nothing the requester wrote has gone anywhere yet)")
    if len(about) != 1 or to_manager:
        raise SystemExit("demo: something other than the confirmation was sent before it")
    say("  the requester opens the link (a GET, as a mail scanner would: it confirms nothing):")
    shown = httpx.get(link, timeout=10)
    for paragraph in _paragraphs(shown.text):
        say(f"    {paragraph}")
    say("  and presses the button (a POST on the same link):")
    pressed = httpx.post(link, timeout=10)
    for paragraph in _paragraphs(pressed.text):
        say(f"    {paragraph}")
    if pressed.status_code != 200:
        raise SystemExit(f"demo: the confirmation was refused ({pressed.status_code})")
    notice = _await_mail(demo, request_id, "event_request", to=manager_address)
    receipt = _await_mail(demo, request_id, "event_request_acknowledgement", to=requester)
    say(f"  now the CMB manager has the request with everything needed to call back: "
        f"{str(notice['Subject']).strip()}")
    say(f"  and the requester its acknowledgement: {str(receipt['Subject']).strip()}")
    short = _tagged_sample(demo, "halton-hills-short-notice.json")
    refused = commande("event-request", "submit", _shown(short), env=demo.env)
    if refused.returncode != 1:
        raise SystemExit("demo: the short-notice request was not refused")
    demo.event_requests.append(refused.stdout.split("(request ")[1].split(")")[0])
    say("  (refused at once with every reason; its requester confirms nothing here, so the reasons "
        "are not e-mailed to an address nobody confirmed, and the request expires unconfirmed)")
    say("  the CMB manager calls the club back and schedules the talk on its first preferred date:")
    day = json.loads(talk.read_text())["windows"][0]["days_ahead"]
    when = local_date(OffsetFileClock(demo.clock_file).now()) + timedelta(days=day)
    env = demo.login("d1-cmb-manager")
    if commande("event-request", "schedule", request_id, "--date", when.isoformat(), "--start",
                "14:00", "--officer-role", "community_safety_officer",
                "--notes", "Handouts on phone scams will be brought.", env=env).returncode != 0:
        raise SystemExit("demo: scheduling the talk was refused")


def _tagged_sample(demo: Demo, name: str) -> Path:
    """A copy of an event-request sample whose requester's address carries the run id."""
    data = json.loads((EVENT_SAMPLES / name).read_text())
    local, domain = data["requester"]["email"].split("@")
    data["requester"]["email"] = f"{local}-{demo.run_id.lower()}@{domain}"
    copy = demo.clock_file.parent / name
    copy.write_text(json.dumps(data, indent=2))
    return copy


def _mails_about(demo: Demo, request_id: str) -> list[EmailMessage]:
    return [m for m in read_messages(demo.settings.mail_dir, demo.started_ns) if request_id in _text(m)]


def _await_mail(demo: Demo, request_id: str, kind: str, to: str | None = None,
                timeout: float = 60) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in _mails_about(demo, request_id):
            if m["X-Commande-Notice-Kind"] == kind and (to is None or m["X-Envelope-To"] == to):
                return m
        time.sleep(0.5)
    raise SystemExit(f"demo: no {kind} e-mail about event request {request_id} arrived")


def _confirmation_link(mail: EmailMessage) -> str:
    found = re.search(r"https?://\S+/v1/event-requests/confirm/\S+", _text(mail))
    if found is None:
        raise SystemExit("demo: the confirmation e-mail has no link")
    return found.group(0)


def _paragraphs(page: str) -> list[str]:
    return [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", page)] + (
        ["[button: Confirm my e-mail address]"] if "<form" in page else [])


async def summary(demo: Demo) -> None:
    say("\n== Summary")
    say(f"  situations opened: {len(demo.situations)}")
    for name, sid in demo.situations.items():
        say(f"    {name}: {sid}")
    say(f"  referrals rejected at intake: {len(demo.rejected)}")
    for name, codes in demo.rejected.items():
        say(f"    {name}: {', '.join(codes)}")
    conn = await asyncpg.connect(demo.settings.database_url.get_secret_value())
    try:
        ids = [*demo.situations.values(), *demo.meetings]
        timers = await conn.fetch(
            "SELECT kind, state, count(*) AS n FROM convening.durable_timers "
            "WHERE aggregate_id::text = ANY($1) GROUP BY kind, state ORDER BY kind, state", ids)
        disclosures = await conn.fetchval(
            "SELECT count(*) FROM intake.disclosures WHERE situation_id::text = ANY($1)", ids)
    finally:
        await conn.close()
    say(f"  meetings: {len(demo.meetings)} ({', '.join(sorted(demo.meetings.values()))})")
    say(f"  disclosures sealed (Filter 3): {disclosures}")
    say("  timers (24/48-hour SLA, lead acceptance, agendas): "
        + (", ".join(f"{r['kind']} {r['state']} {r['n']}" for r in timers) or "none"))
    ours = [*demo.situations.values(), *demo.meetings]
    mail = [m for m in read_messages(demo.settings.mail_dir, demo.started_ns)
            if any(i in _text(m) for i in ours)]
    per = Counter(str(m["X-Envelope-To"]) for m in mail)
    say(f"  e-mails about these situations and meetings: {len(mail)}")
    for rcpt, n in sorted(per.items()):
        say(f"    {n:3}  {rcpt}")
    asked = [m for m in read_messages(demo.settings.mail_dir, demo.started_ns)
             if any(i in _text(m) for i in demo.event_requests)]
    say(f"  community event requests: {len(demo.event_requests)} (1 confirmed by its requester and "
        f"scheduled, 1 refused for short notice and left unconfirmed); e-mails about them: "
        f"{len(asked)}")
    for rcpt, n in sorted(Counter(str(m["X-Envelope-To"]) for m in asked).items()):
        say(f"    {n:3}  {rcpt}")
    say("\n  Read them: `.venv/bin/commande stack mail` (list), `.venv/bin/commande stack mail N` (one),")
    say(f"  or open the Maildir {demo.settings.mail_dir}. The stack keeps running: "
        "`make stack-down` stops it.")


def _text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    return f"{msg['Subject']}\n{body.get_content() if body is not None else ''}"


def console(url: str, port: int, settings: Settings, clock_file: Path) -> None:
    """The last lines: where the table console is and who can sign in to it."""
    run = ".venv/bin/commande run all" + ("" if port == settings.http_port else f" --port {port}")
    say(f"\n== The table console: {url}/console/")
    say(f"  Start the services again to use it: `{run}` (add "
        f"COMMANDE_CLOCK_OFFSET_FILE={_shown(clock_file)} to see the tables at the demo's time),")
    say("  open the address in a browser and sign in on the stack's Keycloak page as")
    say(f"    d1-chair               the 1 District table's chair (password {LOCAL_PASSWORD})")
    say(f"    public-health-contact  Public Health's contact at the tables (password {LOCAL_PASSWORD})")
    say("  (also d1-staff-sergeant for the SLA warnings and event requests; every synthetic sign-in is")
    say("  in the README). The e-mails in the sink link to its pages.")


REPLAY_PATIENCE = 600.0
"""Seconds the demo waits for the analyst's replay (a few on a fresh stack; a stack that tests
and benchmarks have used holds hundreds of thousands of events)."""


def analytics(env: dict[str, str], out: Path) -> None:
    """The last step: an analyst replays the streams into the statistics and the report."""
    say("\n== The analyst's report: a replay of the situations and event requests into "
        "statistics (no side effects: no consumer group, nothing produced)")
    try:
        done = commande("replay", "--from", "beginning", "--projection", "statistics", "--out",
                        _shown(out), env={**env, "COMMANDE_LOG_LEVEL": "WARNING"},
                        timeout=REPLAY_PATIENCE)
    except subprocess.TimeoutExpired:
        say(f"  the replay took over {REPLAY_PATIENCE / 60:.0f} minutes: this stack holds every "
            "earlier run's events (tests, benchmarks), and a replay reads them all. The demo "
            "itself is done; run the command above to wait for the report, or start from a "
            "fresh stack (`make stack-down`, remove .state, `make demo`).")
        return
    if done.returncode != 0:
        say("  the replay failed (above); the demo itself is done.")
        return
    say(f"\n  The report: {_shown(out / 'report.html')} (open it in a browser); the workbook "
        f"{_shown(out / 'statistics.xlsx')}, CSV, Parquet and data_dictionary.md beside it.")
    say("  On a fresh stack the demo's few situations give mostly '<5' and 'x' (small counts and "
        "the ones that would give them away); for a fuller report: `commande simulate events "
        "--situations 240 --months 12 --start 2025-01-01 --event-requests 60 --topic-prefix "
        "sandbox.year.` then `commande replay --from beginning --projection statistics --out "
        "out/year --topic sandbox.year.commande.situations.v1 --topic "
        "sandbox.year.commande.event-requests.v1`.")


def _demo_port(settings: Settings) -> int:
    """The configured HTTP port when free (the e-mails' console links then work with a plain
    `commande run all` afterwards), else any free one."""
    with socket.socket() as sock:
        try:
            sock.bind((settings.http_host, settings.http_port))
        except OSError:
            return free_port()
    return settings.http_port


def main() -> None:
    settings = Settings()
    state = settings.state_dir / "demo"
    state.mkdir(parents=True, exist_ok=True)
    clock_file = state / "clock-offset"
    port = _demo_port(settings)
    url = settings.public_url.rstrip("/") if settings.public_url else f"http://127.0.0.1:{port}"
    proc = ServiceProcess("all", settings, state, port=port, extra_env={
        "COMMANDE_CLOCK_OFFSET_FILE": str(clock_file),
        # the link that confirms an event requester's address leads to this process
        "COMMANDE_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # e-mails link to the table console and to acknowledgements here
        "COMMANDE_PUBLIC_URL": url, "COMMANDE_NOTIFIER_PUBLIC_URL": url})
    env = {**proc.env(), "COMMANDE_CLOCK_OFFSET_FILE": str(clock_file), "COMMANDE_LOG_FORMAT": "json",
           "COMMANDE_INTAKE_URL": f"http://127.0.0.1:{proc.port}",  # event-request submit posts there
           "COMMANDE_GATEWAY_URL": f"http://127.0.0.1:{proc.port}",  # the table's commands go there
           "COMMANDE_TOKEN_FILE": str(state / "tokens.json")}  # the demo's sign-ins, not yours
    say("== 0. Starting intake, convening, notifier and the gateway (`commande run all`); logs in "
        f"{proc.log_file}")
    proc.start()
    demo = Demo(settings, env, clock_file)
    try:
        demo.submit_all()
        asyncio.run(walk(demo))
        asyncio.run(summary(demo))
    finally:
        code = proc.terminate()
        say(f"\n  services stopped (exit {code}).")
    console(url, port, settings, clock_file)
    analytics(env, state / "report")


if __name__ == "__main__":
    main()
