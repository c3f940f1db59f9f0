"""The permission matrix: every endpoint × every kind of caller → the expected status, from one table.

``MATRIX`` has one row per route the app registers under /api/v1: how to build the request in a
small world of two schools, two learning groups and their venues, and what each of eight callers
gets back. ``test_every_route_has_a_row`` fails for a new route without a row (and for a row whose
route is gone); ``test_permission_matrix`` sends every row's request as every caller. A refused
request answers problem+json with its code and changes nothing in the database.
"""

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel

from booking.app import create_app
from booking.config import Settings
from booking.models import ClassBooking
from booking.schemas.accounts import UserCreate
from booking.services.accounts import create_user
from tests.conftest import insert_signed_in_user
from tests.factories import at

API = "/api/v1"
# Denied callers first: a caller that succeeds may change the world the next one sees.
ACTORS = (
    "anonymous",
    "admin",  # district administrator of the world's district (not the whole district)
    "manager",  # venue manager of school S, which owns venue V
    "organiser",  # organiser of learning group O, which books V's spaces
    "teacher",  # teacher of O
    "resident",  # no organisation
    "other_organiser",  # organiser of learning group O2
    "other_manager",  # venue manager of school S2, which owns venue V2
)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The codes each refusal may carry: a 403 names what is missing when it is a resident profile.
DENIED = {401: {"unauthorized"}, 403: {"forbidden", "not_a_resident"}, 404: {"not_found"}}
PROBLEM_JSON = "application/problem+json"
ALLOCATION_WAIT_S = 10.0


# ---- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    """Ids of everything the requests refer to, and one signed-in client per caller."""

    http: dict[str, httpx.AsyncClient]
    district: int  # D
    town: int  # T, D's child: every organisation and venue below is in it
    spare_region: int  # another child of D, referenced by nothing
    school: int  # S, owns venue V
    other_school: int  # S2, owns venue V2
    group: int  # O, a learning group
    other_group: int  # O2
    spare_organisation: int  # referenced by nothing
    venue: int  # V
    other_venue: int  # V2
    spare_venue: int  # owned by S, referenced by nothing
    space: int  # SP: classroom of V, automatic approval
    manual_space: int  # SPM: approval manual
    checkin_space: int  # SPC: check-in required
    spare_space: int  # referenced by nothing
    closure: int  # of V
    booking: int  # B: O's weekly series of four on SP, the last session cancelled
    occurrences: list[dict[str, Any]]  # B's sessions
    pending: int  # P: O's request for SPM, waiting for a manager
    checkin_booking: int  # O's session on SPC starting five minutes from now
    staff_teacher: int  # T1, of S
    offer: int  # C1, a class of O
    course: int  # C2, a class of O taught in B's sessions, enrolling by lottery, its window open
    allocation: int  # a run of D, finished if the runner got to it in time
    coach: int  # an account holding one grant: organiser of school S
    coach_grant: int
    coach_username: str
    resident_public_id: str
    # The resident caller has a profile and has named the coach as their agent.


@dataclass(frozen=True)
class Req:
    params: dict[str, int] = field(default_factory=dict)
    json: Any = None
    query: dict[str, Any] | None = None
    content: bytes | None = None  # a raw body (with its Content-Type in headers) instead of json
    headers: dict[str, str] | None = None


Build = Callable[[World, str], Req | Awaitable[Req]]


@dataclass(frozen=True)
class Row:
    build: Build
    expect: dict[str, int | tuple[int, ...]]
    # For mutations: True when a second success is as good as the first (no fresh world needed).
    harmless: bool = False


async def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def sign_up(engine: AsyncEngine, now: datetime, grants: dict[str, tuple[str, int | None, int | None]]):
    """A user per caller holding one grant, with an API token, in one transaction (no password hashing)."""
    async with engine.begin() as connection:
        return {
            name: await insert_signed_in_user(connection, now, role, organisation_id, region_id, name=name)
            for name, (role, organisation_id, region_id) in grants.items()
        }


@pytest.fixture
async def build_world(client: httpx.AsyncClient, engine: AsyncEngine, transport, clock):
    """``await build_world()``: a fresh world, built by the district-wide administrator ``client``."""
    opened: list[httpx.AsyncClient] = []
    built = 0

    async def build() -> World:
        nonlocal built
        built += 1
        n = built
        gather = asyncio.gather

        async def make(path: str, body: dict[str, Any], status: int = 201, http: httpx.AsyncClient = client) -> dict:
            return await created(await http.post(path, json=body), status)

        async def put(path: str, body: dict[str, Any]) -> dict:
            return await created(await client.put(path, json=body), 200)

        def booking(space: int, title: str, starts_at: str, ends_at: str, **extra: Any) -> dict[str, Any]:
            return {"space_id": space, "organisation_id": orgs["group"], "title": title, **extra} | {
                "starts_at": starts_at,
                "ends_at": ends_at,
            }

        # Independent requests go together: the app serialises what must be serialised.
        district = (await make("/regions", {"name": f"District {n}", "level": "district"}))["id"]
        term = {"term_start": "2027-03-01", "term_end": "2027-06-30"}
        town, spare_region, allocation = await gather(
            make("/regions", {"name": f"Town {n}", "level": "town", "parent_id": district}),
            make("/regions", {"name": f"Spare town {n}", "level": "town", "parent_id": district}),
            make("/allocations", {**term, "region_id": district, "class_ids": [], "time_limit_s": 1}, 202),
        )
        town, spare_region = town["id"], spare_region["id"]
        kinds = {
            "school": "school",
            "other_school": "school",
            "group": "learning_group",
            "other_group": "learning_group",
            "spare": "learning_group",
        }
        made = await gather(
            *(
                make("/organisations", {"name": f"{name} {n}", "kind": kind, "region_id": town})
                for name, kind in kinds.items()
            )
        )
        orgs = {name: organisation["id"] for name, organisation in zip(kinds, made, strict=True)}

        def venue(owner: int, name: str):
            return make("/venues", {"name": name, "kind": "school", "region_id": town, "owner_id": owner})

        venue_id, other_venue, spare_venue, tokens = await gather(
            venue(orgs["school"], f"Venue {n}"),
            venue(orgs["other_school"], f"Other venue {n}"),
            venue(orgs["school"], f"Spare venue {n}"),
            sign_up(
                engine,
                clock.now,
                {
                    "admin": ("district_admin", None, district),
                    "manager": ("venue_manager", orgs["school"], None),
                    "organiser": ("organiser", orgs["group"], None),
                    "teacher": ("teacher", orgs["group"], None),
                    "resident": ("resident", None, None),
                    "other_organiser": ("organiser", orgs["other_group"], None),
                    "other_manager": ("venue_manager", orgs["other_school"], None),
                },
            ),
        )
        venue_id, other_venue, spare_venue = venue_id["id"], other_venue["id"], spare_venue["id"]
        http = {"anonymous": httpx.AsyncClient(transport=transport, base_url="http://testserver")}
        for name, token in tokens.items():
            http[name] = httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}
            )
        opened.extend(http.values())

        names = ("SP", "SPM", "SPC", "spare")
        *made, closure, teacher, offer, course, course_teacher, coach = await gather(
            *(
                make(f"/venues/{venue_id}/spaces", {"name": name, "kind": "classroom", "capacity": 30})
                for name in names
            ),
            make(
                "/closures",
                {"venue_id": venue_id, "start_date": "2027-05-01", "end_date": "2027-05-01", "reason": "holiday"},
            ),
            make("/teachers", {"name": f"Teacher {n}", "organisation_id": orgs["school"]}),
            make("/classes", {"title": f"Calligraphy {n}", "organisation_id": orgs["group"], **term}),
            make("/classes", {"title": f"Choir {n}", "organisation_id": orgs["group"], **term}),
            make("/teachers", {"name": f"Choir teacher {n}", "organisation_id": orgs["group"]}),
            make(
                "/users",
                {
                    "username": f"coach-{n}",
                    "password": "coach password",
                    "role": "organiser",
                    "organisation_id": orgs["school"],
                },
            ),
        )
        spaces = {name: space["id"] for name, space in zip(names, made, strict=True)}
        soon = clock.now + timedelta(minutes=5)
        series, checkin, *_ = await gather(
            make(
                "/bookings",
                booking(spaces["SP"], "Choir", at(1, 19), at(1, 21), recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"}),
            ),
            make(
                "/bookings",
                booking(spaces["SPC"], "Morning exercise", soon.isoformat(), (soon + timedelta(hours=1)).isoformat()),
            ),
            put(f"/spaces/{spaces['SPM']}/policy", {"approval": "manual"}),
            put(f"/spaces/{spaces['SPC']}/policy", {"checkin_required": True}),
        )
        async with engine.begin() as connection:
            await connection.execute(
                insert(ClassBooking).values(
                    booking_id=series["id"], class_id=course["id"], teacher_id=course_teacher["id"]
                )
            )
        window = {"opens_at": clock.now.isoformat(), "closes_at": (clock.now + timedelta(days=7)).isoformat()}
        profile = {"display_name": "Resident", "home_region_id": town, "birth_year": 1950}
        _, resident = await gather(
            put(f"/classes/{course['id']}/enrolment-policy", {**window, "seats": 10}),
            created(await http["resident"].put(f"{API}/me/resident", json=profile), 200),
        )
        await created(await http["resident"].post(f"{API}/me/agents", json={"username": f"coach-{n}"}))
        last = series["occurrences"][-1]["id"]
        # Staff bookings skip approval: the organiser asks.
        series, pending = await gather(
            make(f"/bookings/{series['id']}/occurrences/{last}/cancel", {}, 200),
            make(
                f"{API}/bookings",
                booking(spaces["SPM"], "Reading circle", at(2, 19), at(2, 21)),
                http=http["organiser"],
            ),
        )
        assert pending["state"] == "pending", pending
        # A finished run, so the background runner does not change the database under the checks below.
        deadline = asyncio.get_running_loop().time() + ALLOCATION_WAIT_S
        while (await client.get(f"/allocations/{allocation['id']}")).json()["status"] in ("queued", "running"):
            assert asyncio.get_running_loop().time() < deadline, "the allocation run did not finish"
            await asyncio.sleep(0.02)
        return World(
            http=http,
            district=district,
            town=town,
            spare_region=spare_region,
            school=orgs["school"],
            other_school=orgs["other_school"],
            group=orgs["group"],
            other_group=orgs["other_group"],
            spare_organisation=orgs["spare"],
            venue=venue_id,
            other_venue=other_venue,
            spare_venue=spare_venue,
            space=spaces["SP"],
            manual_space=spaces["SPM"],
            checkin_space=spaces["SPC"],
            spare_space=spaces["spare"],
            closure=closure["id"],
            booking=series["id"],
            occurrences=series["occurrences"],
            pending=pending["id"],
            checkin_booking=checkin["id"],
            staff_teacher=teacher["id"],
            offer=offer["id"],
            course=course["id"],
            allocation=allocation["id"],
            coach=coach["id"],
            coach_grant=coach["grants"][0]["id"],
            coach_username=coach["username"],
            resident_public_id=resident["public_id"],
        )

    yield build
    for http in opened:
        await http.aclose()


# ---- who gets what -------------------------------------------------------------------------------

PUBLIC = dict.fromkeys(ACTORS, 200)


def signed_in(status: int) -> dict[str, int]:
    """Every signed-in caller gets ``status``; the anonymous must sign in first."""
    return {"anonymous": 401, **dict.fromkeys(ACTORS[1:], status)}


def only(status: int | tuple[int, ...], *allowed: str, others: int = 403) -> dict[str, int | tuple[int, ...]]:
    return {**signed_in(others), **dict.fromkeys(allowed, status)}


def booking_people(status: int = 200) -> dict[str, int | tuple[int, ...]]:
    """O's organiser, the space's manager and the district's administrator; to anyone else
    O's booking does not exist."""
    return only(status, "organiser", "manager", "admin", others=404)


DECIDERS = {**only(200, "manager", "admin", others=404), "organiser": 403}


def day_of(actor: str) -> int:
    """A different day in March 2027 per caller, so that successes do not collide."""
    return 3 + ACTORS.index(actor)


async def own_token(w: World, actor: str) -> Req:
    """A token of the caller's own to revoke (the anonymous try the administrator's)."""
    owner = "admin" if actor == "anonymous" else actor
    token = await created(await w.http[owner].post(f"{API}/auth/tokens", json={"name": "to revoke"}))
    return Req({"token_id": token["id"]})


RECEIVER = "https://93.184.216.34/hooks"  # a public address, given as one: no name to look up


async def school_endpoint(w: World, actor: str) -> Req:
    """A webhook endpoint of school S, made by its manager."""
    endpoint = await created(
        await w.http["manager"].post(f"{API}/webhooks", json={"url": RECEIVER, "organisation_id": w.school})
    )
    return Req({"endpoint_id": endpoint["id"]})


def occurrence(w: World, index: int) -> int:
    return w.occurrences[index]["id"]


ICS = {"Content-Type": "text/calendar"}


def small_ics(actor: str) -> bytes:
    """A one-day closure in June 2027, on a different day per caller."""
    lines = (
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//permission matrix//EN",
        "BEGIN:VEVENT",
        f"UID:sports-day-{actor}",
        "DTSTAMP:20270101T000000Z",
        f"DTSTART;VALUE=DATE:202706{day_of(actor):02d}",
        "SUMMARY:Sports day",
        "END:VEVENT",
        "END:VCALENDAR",
    )
    return ("\r\n".join(lines) + "\r\n").encode()


WINDOW = {"start": "2027-03-01T00:00:00+08:00", "end": "2027-03-08T00:00:00+08:00"}
HOURS = [{"weekday": 0, "opens": "07:00", "closes": "22:00"}]
TERM = {"term_start": "2027-03-01", "term_end": "2027-06-30"}
FIRST_SESSION = "2027-03-01"

MATRIX: dict[tuple[str, str], Row] = {
    # regions
    ("GET", "/api/v1/regions"): Row(lambda w, a: Req(), PUBLIC),
    ("GET", "/api/v1/regions/{region_id:int}"): Row(lambda w, a: Req({"region_id": w.district}), PUBLIC),
    ("POST", "/api/v1/regions"): Row(
        lambda w, a: Req(json={"name": f"New town {a}", "level": "town", "parent_id": w.district}),
        only(201, "admin"),
        harmless=True,
    ),
    ("PATCH", "/api/v1/regions/{region_id:int}"): Row(
        lambda w, a: Req({"region_id": w.town}, json={"name": "Renamed town"}), only(200, "admin"), harmless=True
    ),
    ("DELETE", "/api/v1/regions/{region_id:int}"): Row(
        lambda w, a: Req({"region_id": w.spare_region}), only(204, "admin")
    ),
    # organisations
    ("GET", "/api/v1/organisations"): Row(lambda w, a: Req(), PUBLIC),
    ("GET", "/api/v1/organisations/{organisation_id:int}"): Row(lambda w, a: Req({"organisation_id": w.group}), PUBLIC),
    ("POST", "/api/v1/organisations"): Row(
        lambda w, a: Req(json={"name": f"New group {a}", "kind": "learning_group", "region_id": w.town}),
        only(201, "admin"),
        harmless=True,
    ),
    ("PATCH", "/api/v1/organisations/{organisation_id:int}"): Row(
        lambda w, a: Req({"organisation_id": w.school}, json={"name": "Renamed school"}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    ("DELETE", "/api/v1/organisations/{organisation_id:int}"): Row(
        lambda w, a: Req({"organisation_id": w.spare_organisation}), only(204, "admin")
    ),
    # venues and spaces
    ("GET", "/api/v1/venues"): Row(lambda w, a: Req(), PUBLIC),
    ("GET", "/api/v1/venues/{venue_id:int}"): Row(lambda w, a: Req({"venue_id": w.venue}), PUBLIC),
    ("POST", "/api/v1/venues"): Row(
        lambda w, a: Req(json={"name": f"New venue {a}", "kind": "school", "region_id": w.town, "owner_id": w.school}),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("PATCH", "/api/v1/venues/{venue_id:int}"): Row(
        lambda w, a: Req({"venue_id": w.venue}, json={"name": "Renamed venue"}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    ("DELETE", "/api/v1/venues/{venue_id:int}"): Row(
        lambda w, a: Req({"venue_id": w.spare_venue}), only(204, "admin", "manager")
    ),
    ("GET", "/api/v1/venues/{venue_id:int}/spaces"): Row(lambda w, a: Req({"venue_id": w.venue}), PUBLIC),
    ("POST", "/api/v1/venues/{venue_id:int}/spaces"): Row(
        lambda w, a: Req({"venue_id": w.venue}, json={"name": f"Room {a}", "kind": "classroom", "capacity": 20}),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/spaces/{space_id:int}"): Row(lambda w, a: Req({"space_id": w.space}), PUBLIC),
    ("PATCH", "/api/v1/spaces/{space_id:int}"): Row(
        lambda w, a: Req({"space_id": w.space}, json={"name": "Renamed room"}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    ("DELETE", "/api/v1/spaces/{space_id:int}"): Row(
        lambda w, a: Req({"space_id": w.spare_space}), only(204, "admin", "manager")
    ),
    # opening hours, closures, policies
    ("GET", "/api/v1/venues/{venue_id:int}/opening-hours"): Row(lambda w, a: Req({"venue_id": w.venue}), PUBLIC),
    ("PUT", "/api/v1/venues/{venue_id:int}/opening-hours"): Row(
        lambda w, a: Req({"venue_id": w.venue}, json=HOURS), only(200, "admin", "manager"), harmless=True
    ),
    ("GET", "/api/v1/spaces/{space_id:int}/opening-hours"): Row(lambda w, a: Req({"space_id": w.space}), PUBLIC),
    ("PUT", "/api/v1/spaces/{space_id:int}/opening-hours"): Row(
        lambda w, a: Req({"space_id": w.space}, json=HOURS), only(200, "admin", "manager"), harmless=True
    ),
    ("GET", "/api/v1/closures"): Row(lambda w, a: Req(query={"venue_id": w.venue}), PUBLIC),
    ("GET", "/api/v1/closures/{closure_id:int}"): Row(lambda w, a: Req({"closure_id": w.closure}), PUBLIC),
    ("POST", "/api/v1/closures"): Row(
        lambda w, a: Req(
            json={
                "venue_id": w.venue,
                "start_date": f"2027-06-{day_of(a):02d}",
                "end_date": f"2027-06-{day_of(a):02d}",
                "reason": "maintenance",
            }
        ),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("DELETE", "/api/v1/closures/{closure_id:int}"): Row(
        lambda w, a: Req({"closure_id": w.closure}), only(204, "admin", "manager")
    ),
    ("POST", "/api/v1/venues/{venue_id:int}/closures/import"): Row(
        lambda w, a: Req({"venue_id": w.venue}, content=small_ics(a), headers=ICS),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("POST", "/api/v1/spaces/{space_id:int}/closures/import"): Row(
        lambda w, a: Req({"space_id": w.space}, content=small_ics(a), headers=ICS, query={"preview": "true"}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/venues/{venue_id:int}/policy"): Row(lambda w, a: Req({"venue_id": w.venue}), PUBLIC),
    ("PUT", "/api/v1/venues/{venue_id:int}/policy"): Row(
        lambda w, a: Req({"venue_id": w.venue}, json={"approval": "auto", "horizon_days": 365}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/spaces/{space_id:int}/policy"): Row(lambda w, a: Req({"space_id": w.space}), PUBLIC),
    ("PUT", "/api/v1/spaces/{space_id:int}/policy"): Row(
        lambda w, a: Req({"space_id": w.space}, json={"approval": "auto", "max_duration_min": 240}),
        only(200, "admin", "manager"),
        harmless=True,
    ),
    # availability
    ("GET", "/api/v1/availability"): Row(lambda w, a: Req(query={**WINDOW, "region_id": w.town}), PUBLIC),
    ("GET", "/api/v1/availability/slots"): Row(
        lambda w, a: Req(
            query={"duration_min": 60, "from_date": "2027-03-01", "to_date": "2027-03-02", "region_id": w.town}
        ),
        PUBLIC,
    ),
    ("GET", "/api/v1/spaces/{space_id:int}/availability"): Row(
        lambda w, a: Req({"space_id": w.space}, query=WINDOW), PUBLIC
    ),
    # bookings
    ("GET", "/api/v1/bookings"): Row(lambda w, a: Req(), signed_in(200)),
    ("POST", "/api/v1/bookings"): Row(
        lambda w, a: Req(
            json={
                "space_id": w.space,
                "organisation_id": w.group,
                "title": "Chess club",
                "starts_at": at(day_of(a), 10),
                "ends_at": at(day_of(a), 12),
            }
        ),
        only(201, "organiser", "admin"),
        harmless=True,
    ),
    ("GET", "/api/v1/bookings/{booking_id:int}"): Row(lambda w, a: Req({"booking_id": w.booking}), booking_people()),
    ("PATCH", "/api/v1/bookings/{booking_id:int}"): Row(
        lambda w, a: Req({"booking_id": w.booking}, json={"title": "Choir practice"}), booking_people(), harmless=True
    ),
    ("GET", "/api/v1/bookings/{booking_id:int}/history"): Row(
        lambda w, a: Req({"booking_id": w.booking}), booking_people()
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/cancel"): Row(
        lambda w, a: Req({"booking_id": w.booking}), booking_people()
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/occurrences/{occurrence_id:int}/cancel"): Row(
        lambda w, a: Req({"booking_id": w.booking, "occurrence_id": occurrence(w, 1)}), booking_people()
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/occurrences/{occurrence_id:int}/move"): Row(
        lambda w, a: Req(
            {"booking_id": w.booking, "occurrence_id": occurrence(w, 2)},
            json={"starts_at": at(15, 14), "ends_at": at(15, 16)},
        ),
        booking_people(),
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/occurrences"): Row(
        lambda w, a: Req({"booking_id": w.booking}, json={"starts_at": w.occurrences[3]["original_starts_at"]}),
        booking_people(),
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/approve"): Row(lambda w, a: Req({"booking_id": w.pending}), DECIDERS),
    ("POST", "/api/v1/bookings/{booking_id:int}/reject"): Row(
        lambda w, a: Req({"booking_id": w.pending}, json={"reason": "the room is being painted"}), DECIDERS
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/check-in"): Row(
        lambda w, a: Req({"booking_id": w.checkin_booking}), booking_people()
    ),
    ("GET", "/api/v1/approvals"): Row(lambda w, a: Req(), signed_in(200)),
    # teachers and classes
    ("GET", "/api/v1/teachers"): Row(lambda w, a: Req(), signed_in(200)),
    ("POST", "/api/v1/teachers"): Row(
        lambda w, a: Req(json={"name": f"New teacher {a}", "organisation_id": w.school}),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/teachers/{teacher_id:int}"): Row(
        lambda w, a: Req({"teacher_id": w.staff_teacher}), only(200, "admin", "manager", others=404)
    ),
    ("PATCH", "/api/v1/teachers/{teacher_id:int}"): Row(
        lambda w, a: Req({"teacher_id": w.staff_teacher}, json={"name": "Renamed teacher"}),
        only(200, "admin", "manager", others=404),
        harmless=True,
    ),
    ("DELETE", "/api/v1/teachers/{teacher_id:int}"): Row(
        lambda w, a: Req({"teacher_id": w.staff_teacher}), only(204, "admin", "manager", others=404)
    ),
    ("GET", "/api/v1/classes"): Row(lambda w, a: Req(), PUBLIC),
    ("GET", "/api/v1/classes/{class_id:int}"): Row(lambda w, a: Req({"class_id": w.offer}), PUBLIC),
    ("POST", "/api/v1/classes"): Row(
        lambda w, a: Req(json={"title": f"Tai chi {a}", "organisation_id": w.group, **TERM}),
        only(201, "admin"),
        harmless=True,
    ),
    ("PATCH", "/api/v1/classes/{class_id:int}"): Row(
        lambda w, a: Req({"class_id": w.offer}, json={"title": "Calligraphy II"}), only(200, "admin"), harmless=True
    ),
    ("DELETE", "/api/v1/classes/{class_id:int}"): Row(lambda w, a: Req({"class_id": w.offer}), only(204, "admin")),
    # residents: a profile is one's own; counter staff register residents
    ("GET", "/api/v1/me/resident"): Row(lambda w, a: Req(), only(200, "resident")),
    ("PUT", "/api/v1/me/resident"): Row(
        lambda w, a: Req(json={"display_name": "Resident", "home_region_id": w.town, "birth_year": 1951}),
        only(200, "resident"),
        harmless=True,
    ),
    ("POST", "/api/v1/residents"): Row(
        lambda w, a: Req(
            json={"username": f"counter-{a}", "display_name": "Resident", "home_region_id": w.town, "birth_year": 1950}
        ),
        only(201, "admin", "manager", "other_manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/me/agents"): Row(lambda w, a: Req(), only(200, "resident")),
    ("POST", "/api/v1/me/agents"): Row(
        lambda w, a: Req(json={"username": w.coach_username}), only(201, "resident"), harmless=True
    ),
    ("DELETE", "/api/v1/me/agents/{agent_user_id:int}"): Row(
        lambda w, a: Req({"agent_user_id": w.coach}), only(204, "resident")
    ),
    ("GET", "/api/v1/me/applications"): Row(lambda w, a: Req(), only(200, "resident")),
    # enrolment: C2's staff are the district's administrators (O is a learning group)
    ("GET", "/api/v1/classes/{class_id:int}/enrolment-policy"): Row(lambda w, a: Req({"class_id": w.course}), PUBLIC),
    ("PUT", "/api/v1/classes/{class_id:int}/enrolment-policy"): Row(
        lambda w, a: Req(
            {"class_id": w.course},
            json={"opens_at": "2027-01-10T00:00:00Z", "closes_at": "2027-01-20T00:00:00Z", "seats": 12},
        ),
        only(200, "admin"),
        harmless=True,
    ),
    ("POST", "/api/v1/classes/{class_id:int}/applications"): Row(
        lambda w, a: Req({"class_id": w.course}, json={}), only(201, "resident")
    ),
    # Allowed to the resident, who has not applied: nothing to show or withdraw.
    ("GET", "/api/v1/classes/{class_id:int}/applications"): Row(
        lambda w, a: Req({"class_id": w.course}), only(404, "resident")
    ),
    ("DELETE", "/api/v1/classes/{class_id:int}/applications"): Row(
        lambda w, a: Req({"class_id": w.course}), only(404, "resident")
    ),
    ("GET", "/api/v1/classes/{class_id:int}/roster"): Row(lambda w, a: Req({"class_id": w.course}), only(200, "admin")),
    ("GET", "/api/v1/classes/{class_id:int}/draw"): Row(lambda w, a: Req({"class_id": w.course}), PUBLIC),
    # Allowed to the class's staff; the window is still open, so there is nothing to draw or decide yet.
    ("POST", "/api/v1/classes/{class_id:int}/draw"): Row(lambda w, a: Req({"class_id": w.course}), only(409, "admin")),
    ("POST", "/api/v1/classes/{class_id:int}/outcome"): Row(
        lambda w, a: Req({"class_id": w.course}, json={"decision": "kept"}), only(409, "admin")
    ),
    # attendance: C2's staff (its organisation's managers, the district's administrators, its teacher's
    # account); its first session, 1 March, has not started yet
    ("GET", "/api/v1/classes/{class_id:int}/sessions/{session_date:date}/attendance"): Row(
        lambda w, a: Req({"class_id": w.course, "session_date": FIRST_SESSION}), only(200, "admin")
    ),
    ("PUT", "/api/v1/classes/{class_id:int}/sessions/{session_date:date}/attendance"): Row(
        lambda w, a: Req({"class_id": w.course, "session_date": FIRST_SESSION}, json=[]), only(409, "admin")
    ),
    ("GET", "/api/v1/classes/{class_id:int}/sessions/{session_date:date}/code"): Row(
        lambda w, a: Req({"class_id": w.course, "session_date": FIRST_SESSION}), only(200, "admin")
    ),
    # Only enrolled residents check in; the resident caller is not enrolled, the others are no residents.
    ("POST", "/api/v1/classes/{class_id:int}/check-in"): Row(
        lambda w, a: Req({"class_id": w.course}, json={"code": "123456"}), signed_in(403)
    ),
    # learning records
    ("GET", "/api/v1/me/learning-record"): Row(lambda w, a: Req(), only(200, "resident")),
    ("GET", "/api/v1/learning-records/export.csv"): Row(
        lambda w, a: Req(query={"region_id": w.district}), only(200, "admin")
    ),
    # The resident has completed nothing: no badge for anyone.
    ("GET", "/api/v1/learning-records/{resident_id:str}/{class_id:int}/badge.json"): Row(
        lambda w, a: Req({"resident_id": w.resident_public_id, "class_id": w.course}), signed_in(404)
    ),
    # statistics
    ("GET", "/api/v1/statistics/participation"): Row(
        lambda w, a: Req(query={"region_id": w.district, "term_start": TERM["term_start"]}), only(200, "admin")
    ),
    ("GET", "/api/v1/statistics/participation.csv"): Row(
        lambda w, a: Req(query={"region_id": w.district, "term_start": TERM["term_start"]}), only(200, "admin")
    ),
    # the catalogue
    ("GET", "/api/v1/catalogue"): Row(lambda w, a: Req(), PUBLIC),
    # allocations
    ("GET", "/api/v1/allocations"): Row(lambda w, a: Req(), signed_in(200)),
    ("POST", "/api/v1/allocations"): Row(
        lambda w, a: Req(json={**TERM, "region_id": w.district, "class_ids": [], "time_limit_s": 1}),
        only(202, "admin"),
        harmless=True,
    ),
    ("GET", "/api/v1/allocations/{allocation_id:int}"): Row(
        lambda w, a: Req({"allocation_id": w.allocation}), only(200, "admin", others=404)
    ),
    # Allowed, the answer depends on the run's state: a finished run cannot be cancelled, only committed.
    ("POST", "/api/v1/allocations/{allocation_id:int}/cancel"): Row(
        lambda w, a: Req({"allocation_id": w.allocation}), only((200, 409), "admin", others=404)
    ),
    ("POST", "/api/v1/allocations/{allocation_id:int}/commit"): Row(
        lambda w, a: Req({"allocation_id": w.allocation}), only((200, 409), "admin", others=404)
    ),
    # accounts
    ("POST", "/api/v1/auth/token"): Row(
        lambda w, a: Req(json={"username": "nobody-here", "password": "not the password"}), dict.fromkeys(ACTORS, 401)
    ),
    ("GET", "/api/v1/auth/me"): Row(lambda w, a: Req(), signed_in(200)),
    ("PATCH", "/api/v1/auth/me"): Row(lambda w, a: Req(json={"email": f"{a}@example.cn"}), signed_in(200), True),
    ("GET", "/api/v1/auth/tokens"): Row(lambda w, a: Req(), signed_in(200)),
    ("POST", "/api/v1/auth/tokens"): Row(lambda w, a: Req(json={"name": f"integration {a}"}), signed_in(201), True),
    ("POST", "/api/v1/auth/tokens/{token_id:int}/revoke"): Row(own_token, signed_in(200), harmless=True),
    # feeds: their links are public; a private feed is one's own
    ("GET", "/api/v1/feeds/{kind:str}/{item_id:int}"): Row(
        lambda w, a: Req({"kind": "spaces", "item_id": w.space}), PUBLIC
    ),
    ("POST", "/api/v1/feeds/private"): Row(lambda w, a: Req(), signed_in(201), harmless=True),
    # Accounts: who could have given a role manages the account; to anyone else it does not exist.
    ("GET", "/api/v1/users"): Row(lambda w, a: Req(), signed_in(200)),
    ("POST", "/api/v1/users"): Row(
        lambda w, a: Req(
            json={
                "username": f"new-{a}",
                "password": "a fine password",
                "role": "organiser",
                "organisation_id": w.school,
            }
        ),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("POST", "/api/v1/users/{user_id:int}/grants"): Row(
        lambda w, a: Req({"user_id": w.coach}, json={"role": "teacher", "organisation_id": w.school}),
        only(201, "admin", "manager", others=404),
        harmless=True,
    ),
    ("POST", "/api/v1/webhooks"): Row(
        lambda w, a: Req(json={"url": RECEIVER, "organisation_id": w.school}),
        only(201, "admin", "manager"),
        harmless=True,
    ),
    ("GET", "/api/v1/webhooks"): Row(lambda w, a: Req(), only(200, "admin", "manager", "other_manager")),
    ("DELETE", "/api/v1/webhooks/{endpoint_id:int}"): Row(
        school_endpoint, only(204, "admin", "manager", others=404), harmless=True
    ),
    ("GET", "/api/v1/webhooks/{endpoint_id:int}/deliveries"): Row(
        school_endpoint, only(200, "admin", "manager", others=404)
    ),
    ("DELETE", "/api/v1/users/{user_id:int}/grants/{grant_id:int}"): Row(
        lambda w, a: Req({"user_id": w.coach, "grant_id": w.coach_grant}), only(200, "admin", "manager", others=404)
    ),
}


# ---- the tests -----------------------------------------------------------------------------------


def api_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return {
        (method, route.path)
        for route in app.routes
        if route.path.startswith(f"{API}/")
        for method in getattr(route, "methods", ())
        if method not in ("HEAD", "OPTIONS")
    }


def test_every_route_has_a_row():
    routes = api_routes()

    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "rows in MATRIX for routes the app does not have"


def test_every_row_names_every_caller():
    for key, row in MATRIX.items():
        assert set(row.expect) == set(ACTORS), key


def render(template: str, params: dict[str, int]) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda match: str(params[match.group(1)]), template)


def allowed(expected: int | tuple[int, ...]) -> bool:
    return any(status < 400 for status in (expected if isinstance(expected, tuple) else (expected,)))


async def snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, to show that a refused request changed nothing."""
    async with engine.connect() as connection:
        return {
            table.name: sorted(
                repr(tuple(row)) for row in await connection.execute(text(f"SELECT * FROM {table.name}"))
            )
            for table in SQLModel.metadata.sorted_tables
        }


@pytest.mark.parametrize(("method", "template"), [pytest.param(*key, id=" ".join(key)) for key in MATRIX])
async def test_permission_matrix(method: str, template: str, build_world, engine: AsyncEngine):
    row = MATRIX[(method, template)]
    order = sorted(ACTORS, key=lambda actor: allowed(row.expect[actor]))  # stable: denied first, then ACTORS order
    world = await build_world()
    wrong = []
    stale = False  # a success changed the world: the next caller gets a fresh one
    for actor in order:
        if stale:
            world, stale = await build_world(), False
        expected = row.expect[actor]
        request = row.build(world, actor)
        if inspect.isawaitable(request):
            request = await request
        before = await snapshot(engine) if method in MUTATING and not allowed(expected) else None
        response = await world.http[actor].request(
            method,
            render(template, request.params),
            json=request.json,
            params=request.query,
            content=request.content,
            headers=request.headers,
        )
        status = response.status_code
        if status not in (expected if isinstance(expected, tuple) else (expected,)):
            wrong.append(f"{actor}: expected {expected}, got {status} {response.text[:300]}")
            continue
        if status in DENIED:
            assert response.headers["content-type"].startswith(PROBLEM_JSON), (actor, response.text)
            assert response.json()["code"] in DENIED[status], (actor, response.text)
        if before is not None:
            assert await snapshot(engine) == before, f"{actor}'s refused {method} changed the database"
        if method in MUTATING and 200 <= status < 300 and not row.harmless:
            stale = True
    assert not wrong, "\n".join(wrong)


async def test_signing_in_with_the_right_password_is_open_to_everyone(anonymous, engine, clock):
    async with async_sessionmaker(engine)() as session, session.begin():
        await create_user(
            session, UserCreate(username="carol", password="a long password", role="resident"), now=clock.now
        )

    response = await anonymous.post("/auth/token", json={"username": "carol", "password": "a long password"})

    assert response.status_code == 200, response.text
    assert response.json()["access_token"].startswith("vs_")
