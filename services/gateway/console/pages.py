"""The console's pages (GET): what a signed-in person sees, from the gateway's read model and the
directory, with who may read what decided by :mod:`services.gateway.access` as for the API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from directory import AgencyType
from services.gateway import access
from services.gateway import store as gateway_store
from services.gateway.console import store, views
from services.gateway.console.app import Console, Visitor

RECENT = timedelta(days=30)
"""How far back the Staff Sergeant's page lists response-time warnings and breaches."""


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


class Pages:
    """The GET pages, bound to the console."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.gw = console.gw

    async def home(self, request: Request) -> Response:
        """``/console/``: a landing page, or what the signed-in person can do next."""
        who = await self.c.visitor(request)
        if not isinstance(who, Visitor):
            return self.c.render("index.html.j2", None, ended=who is not None)
        now = self.gw.clock.now()
        agencies = who.agencies
        async with self.gw.svc.pool.acquire() as conn:
            districts = access.table_districts(who.identity, [t.district for t in
                                                               self.gw.directory.current().tables])
            meetings = await gateway_store.meetings_of(conn, districts, agencies, now, 10)
            tasks = [_task(t) for t in await gateway_store.tasks_of(conn, agencies, 50)] \
                if who.answers else []
            packages = await store.disclosures_of(conn, agencies) if who.answers else []
            notices = await store.notices_of(conn, agencies, 50)
            alerts = await store.sla_alerts(conn, who.oversees, now - RECENT, now) \
                if who.oversees else []
            requests = await store.event_requests_waiting(conn, who.oversees) if who.oversees else []
        return self.c.render(
            "home.html.j2", who, meetings=[_meeting(m) for m in meetings],
            to_answer=[t for t in tasks if t["state"] == "requested"],
            working=[t for t in tasks if t["state"] in views.WORKING],
            packages=packages, unacknowledged=[n for n in notices if n["acknowledged_at"] is None],
            alerts=alerts, requests=requests)

    async def meetings(self, request: Request, who: Visitor) -> Response:
        """``/console/meetings``: your tables and their coming meetings."""
        directory = self.gw.directory.current()
        districts = access.table_districts(who.identity, [t.district for t in directory.tables])
        async with self.gw.svc.pool.acquire() as conn:
            found = await gateway_store.meetings_of(conn, districts, who.agencies,
                                                    self.gw.clock.now(), 50)
        tables = [{"district": d, "table": directory.table(d),
                   "meetings": [_meeting(m) for m in found if m["district"] == d]} for d in districts]
        return self.c.render("meetings.html.j2", who, tables=tables)

    async def meeting(self, request: Request, who: Visitor) -> Response:
        """``/console/meetings/{id}``: the agenda, the Filter 2 forms, who was invited."""
        mid = _uuid(request.path_params["meeting_id"])
        async with self.gw.svc.pool.acquire() as conn:
            meeting = await store.meeting(conn, mid) if mid else None
            if meeting is None or mid is None:
                return self.c.message(who, 404, "No such meeting",
                                      "The console does not know this meeting (yet).")
            chairs = any(c.chairs and meeting["district"] in c.districts
                         for c in who.identity.capacities)
            items = await store.agenda_items(conn, mid, who.agencies)
            if not chairs and not items and not who.identity.analyst:
                return self.c.message(who, 403, "Not your meeting",
                                      "Only its table's chair and the agencies invited to it see "
                                      "a meeting's agenda.")
            rows = await store.situations_on(conn, mid)
            invited = await store.invited(conn, mid) if chairs else []
            entries = {r["situation_id"]: await gateway_store.timeline(conn, r["situation_id"])
                       for r in rows}
        now = self.gw.clock.now()
        shown = [r for r in rows if chairs or str(r["situation_id"]) in items]
        agenda = [self._item(r, items.get(str(r["situation_id"])), entries[r["situation_id"]], now)
                  for r in shown]
        meeting["meeting_id"] = mid
        meeting["started"] = now >= meeting["starts_at"]
        return self.c.render("meeting.html.j2", who, meeting=meeting, agenda=agenda,
                             chairs=chairs, invited=invited, now=now)

    def _item(self, row: dict[str, Any], item: dict[str, Any] | None,
              entries: list[tuple[Any, str, str]], now: Any) -> dict[str, Any]:
        stage = views.stage((e, d) for _, e, d in entries)
        return {**row, "summary": (item or {}).get("summary"), "stage": stage,
                "stage_words": views.STAGE_WORDS[stage],
                "waited": views.duration(now - row["opened_at"]) if row["opened_at"] else None,
                "clocks": self._clocks(row, entries, now)}

    def _clocks(self, row: dict[str, Any], entries: list[tuple[Any, str, str]],
                now: Any, tasks: list[dict[str, Any]] | None = None) -> list[views.Clock]:
        s = self.gw.settings
        first_contact = any(e == "intervention_recorded" and "first_contact=yes" in d
                            for _, e, d in entries)
        lead_accepted = tasks is not None and any(
            t["role"] == "lead" and t["state"] not in ("requested",) for t in tasks)
        if tasks is None:
            lead_accepted = any(e == "assignment_responded" and "requested->accepted" in d
                                for _, e, d in entries)
        return views.clocks(row["confirmed_at"], row["assigned_at"], first_contact, lead_accepted,
                            now, warning=timedelta(hours=s.sla_warning_hours),
                            breach=timedelta(hours=s.sla_breach_hours),
                            lead_acceptance=timedelta(hours=s.lead_acceptance_overdue_hours))

    async def situation(self, request: Request, who: Visitor) -> Response:
        """``/console/situations/{id}``: summary, clocks, tasks, timeline, and the forms offered."""
        sid = _uuid(request.path_params["situation_id"])
        async with self.gw.svc.pool.acquire() as conn:
            row = await store.situation(conn, sid) if sid else None
            if row is None or sid is None:
                return self.c.message(who, 404, "No such situation",
                                      "The console does not know this situation (yet).")
            invited = await gateway_store.invited_for(conn, sid)
            tasks = await store.tasks(conn, sid)
            if not access.may_see_situation(who.identity, row["district"], invited,
                                            [t["agency_id"] for t in tasks]):
                return self.c.message(who, 403, "Not your situation",
                                      "Only its district's CMB, the agencies invited to its "
                                      "meeting or assigned to it, and analysts see a situation. "
                                      "There is nothing you can do on it.")
            entries = await gateway_store.timeline(conn, sid)
            summary = (await store.summary(conn, row["meeting_id"], sid)
                       if row["meeting_id"] else None)
            packages = [p for p in await store.disclosures_of(conn, who.agencies)
                        if p["situation_id"] == sid]
        now = self.gw.clock.now()
        directory = self.gw.directory.current()
        stage = views.stage((e, d) for _, e, d in entries)
        offer = views.offer(who.identity, row["district"], stage,
                            {t["agency_id"]: t["state"] for t in tasks},
                            self.c.ref.task_states.transitions)
        table = directory.table(row["district"])
        members = [o for o in directory.members(row["district"], self.gw._today())
                   if o.agency_type is not AgencyType.POLICE_CMB]
        return self.c.render(
            "situation.html.j2", who, s=row, sid=sid, stage=stage,
            stage_words=views.STAGE_WORDS[stage], summary=summary,
            clocks=self._clocks(row, entries, now, tasks), tasks=tasks, entries=entries,
            offer=offer, members=members, table=table, packages=packages,
            conclusions=views.conclusions(self.c.ref, stage), sectors=self.c.ref.sectors,
            reason_required=self.c.ref.task_states.reason_required, now=now)

    async def assignments(self, request: Request, who: Visitor) -> Response:
        """``/console/assignments``: your agencies' tasks and what each needs next."""
        async with self.gw.svc.pool.acquire() as conn:
            tasks = [_task(t) for t in await gateway_store.tasks_of(conn, who.agencies)]
        return self.c.render("assignments.html.j2", who, tasks=tasks)

    async def disclosures(self, request: Request, who: Visitor) -> Response:
        """``/console/disclosures``: sealed packages waiting for your agencies."""
        async with self.gw.svc.pool.acquire() as conn:
            packages = await store.disclosures_of(conn, who.agencies)
        return self.c.render("disclosures.html.j2", who, packages=packages)

    async def disclosure(self, request: Request, who: Visitor) -> Response:
        """``/console/disclosures/{id}``: the sealed package, opened in the browser only."""
        did = _uuid(request.path_params["disclosure_id"])
        async with self.gw.svc.pool.acquire() as conn:
            found = await store.disclosure(conn, did) if did else None
        if found is None or found["recipient_agency"] not in who.agencies:
            return self.c.message(who, 404, "No such disclosure for you",
                                  "No package with this id is waiting for your agency (it may "
                                  "have been removed after its retention period).")
        package = json.loads(found["package"])
        keys = list(self.gw.directory.current().intake.all_signing_keys())
        return self.c.render("disclosure.html.j2", who, wasm=True, package=package,
                             intake_keys=keys, situation_id=found["situation_id"])

    async def oversight(self, request: Request, who: Visitor) -> Response:
        """``/console/oversight``: the CMB's response-time alerts and event requests waiting."""
        if not who.oversees:
            return self.c.message(who, 403, "For a district's CMB",
                                  "This page lists a district's response-time warnings and its "
                                  "community event requests; your sign-in is not at a CMB.")
        now = self.gw.clock.now()
        async with self.gw.svc.pool.acquire() as conn:
            alerts = await store.sla_alerts(conn, who.oversees, now - RECENT, now)
            requests = await store.event_requests_waiting(conn, who.oversees)
        return self.c.render("oversight.html.j2", who, alerts=alerts, requests=requests, now=now,
                             days=RECENT.days)

    async def notices(self, request: Request, who: Visitor) -> Response:
        """``/console/notices``: notices delivered to your agencies and their acknowledgement."""
        async with self.gw.svc.pool.acquire() as conn:
            notices = await store.notices_of(conn, who.agencies, 100)
        return self.c.render("notices.html.j2", who, notices=notices)

    def routes(self) -> list[BaseRoute]:
        """Every page."""
        page = self.c.page
        return [
            Route("/console/", self.home, methods=["GET"]),
            Route("/console/meetings", page(self.meetings), methods=["GET"]),
            Route("/console/meetings/{meeting_id}", page(self.meeting), methods=["GET"]),
            Route("/console/situations/{situation_id}", page(self.situation), methods=["GET"]),
            Route("/console/assignments", page(self.assignments), methods=["GET"]),
            Route("/console/disclosures", page(self.disclosures), methods=["GET"]),
            Route("/console/disclosures/{disclosure_id}", page(self.disclosure), methods=["GET"]),
            Route("/console/oversight", page(self.oversight), methods=["GET"]),
            Route("/console/notices", page(self.notices), methods=["GET"]),
        ]


def _meeting(row: dict[str, Any]) -> dict[str, Any]:
    """A meeting row of the API's query with its times as datetimes again."""
    return {**row, "starts_at": datetime.fromisoformat(row["starts_at"]),
            "ends_at": datetime.fromisoformat(row["ends_at"])}


def _task(row: dict[str, Any]) -> dict[str, Any]:
    """A task row of the API's query with its time as a datetime again."""
    return {**row, "updated_at": datetime.fromisoformat(row["updated_at"])}
