"""A small world of residents' learning for the tests: a district with two communities, a school's
venue, a committed class with weekly sessions and its teacher's account, and residents written
straight to the database (fast: no password hashing)."""

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.models import (
    DEFAULT_TIERS,
    ApiToken,
    Application,
    ClassBooking,
    EnrolmentPolicy,
    Resident,
    RoleGrant,
    User,
)
from booking.rules.lottery import commitment
from tests.conftest import UNUSABLE_PASSWORD
from tests.factories import Factory, at

TERM = {"term_start": "2027-03-01", "term_end": "2027-03-31"}


@dataclass
class LearningWorld:
    district: int
    town: int
    community: int  # the class's preferred region, where the venue is
    other_community: int
    school: int  # owns the venue and offers the class
    venue: int
    space: int  # capacity 30
    teacher: int  # the teacher record, linked to ``teacher_user``
    teacher_user: int
    teacher_http: httpx.AsyncClient
    offer: int  # the class: Mondays 19:00-20:30 local, 1-29 March 2027 (five sessions)
    booking: int
    occurrences: list[dict[str, Any]]
    residents: list["Person"] = field(default_factory=list)


@dataclass
class Person:
    user_id: int
    token: str
    http: httpx.AsyncClient
    public_id: str


async def build_learning_world(make: Factory, as_user, engine: AsyncEngine, clock) -> LearningWorld:
    client = make.client
    district = await make.region(name="新乡市红旗区")
    town = await make.region(name="向阳街道", level="town", parent_id=district["id"])
    community, other = [
        await make.region(name=name, level="community", parent_id=town["id"]) for name in ("东街社区", "西街社区")
    ]
    school = await make.organisation(name="红旗区社区学院", kind="community_college", region_id=town["id"])
    venue = await make.venue(
        name="东街社区学校",
        region_id=community["id"],
        owner_id=school["id"],
        latitude=35.30,
        longitude=113.92,
        address="东街 1 号",
    )
    space = await make.space(venue_id=venue["id"], name="书法教室", kind="classroom", capacity=30)
    teacher_token = await as_user_token(engine, clock.now, "teacher", organisation_id=school["id"])
    teacher_http = httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url), headers={"Authorization": f"Bearer {teacher_token}"}
    )
    teacher_user = (await teacher_http.get("/auth/me")).json()["id"]
    teacher = await make._create(
        "/teachers",
        {"name": "王建国", "display_name": "王老师", "organisation_id": school["id"], "user_id": teacher_user},
    )
    offer = await make._create(
        "/classes",
        {
            "title": "书法入门",
            "category": "书画",
            "target_group": "老年人",
            "organisation_id": school["id"],
            "preferred_region_ids": [community["id"]],
            "learners": 30,
            **TERM,
        },
    )
    series = await make._create(
        "/bookings",
        Factory.booking_body(
            space["id"],
            school["id"],
            at(1, 19),
            at(1, 20, 30),
            title="书法入门",
            recurrence={"rrule": "FREQ=WEEKLY;COUNT=5"},
        ),
    )
    async with engine.begin() as connection:
        await connection.execute(
            insert(ClassBooking).values(
                booking_id=series["id"], class_id=offer["id"], teacher_id=teacher["id"], session_index=0
            )
        )
    return LearningWorld(
        district=district["id"],
        town=town["id"],
        community=community["id"],
        other_community=other["id"],
        school=school["id"],
        venue=venue["id"],
        space=space["id"],
        teacher=teacher["id"],
        teacher_user=teacher_user,
        teacher_http=teacher_http,
        offer=offer["id"],
        booking=series["id"],
        occurrences=series["occurrences"],
    )


async def as_user_token(engine: AsyncEngine, now: datetime, role: str, **scope: int | None) -> str:
    from tests.conftest import insert_signed_in_user

    async with engine.begin() as connection:
        return await insert_signed_in_user(connection, now, role, scope.get("organisation_id"), scope.get("region_id"))


async def add_resident(
    engine: AsyncEngine,
    now: datetime,
    region_id: int,
    *,
    http: httpx.AsyncClient,
    name: str = "李秀英",
    birth_year: int = 1955,
    id_number: str | None = "410702195503041234",
) -> Person:
    """A resident account with its profile and an API token; ``http`` lends its transport and base URL."""
    token = f"vs_test_{uuid.uuid4().hex}"
    public_id = str(uuid.uuid4())
    salt = uuid.uuid4().hex
    async with engine.begin() as connection:
        user_id = await connection.scalar(
            insert(User)
            .values(
                username=f"resident-{uuid.uuid4().hex[:8]}",
                password_hash=UNUSABLE_PASSWORD,
                display_name=name,
                created_at=now,
            )
            .returning(User.id)
        )
        await connection.execute(insert(RoleGrant).values(user_id=user_id, role="resident"))
        await connection.execute(
            insert(ApiToken).values(
                user_id=user_id,
                name="tests",
                kind="api",
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                created_at=now,
            )
        )
        await connection.execute(
            insert(Resident).values(
                user_id=user_id,
                public_id=public_id,
                display_name=name,
                home_region_id=region_id,
                birth_year=birth_year,
                id_salt=salt if id_number else None,
                id_hash=hashlib.sha256((salt + id_number).encode()).hexdigest() if id_number else None,
                id_last4=id_number[-4:] if id_number else None,
                created_at=now,
            )
        )
    client = httpx.AsyncClient(
        transport=http._transport, base_url=str(http.base_url), headers={"Authorization": f"Bearer {token}"}
    )
    return Person(user_id=user_id, token=token, http=client, public_id=public_id)


async def set_policy(engine: AsyncEngine, class_id: int, now: datetime, **fields: Any) -> None:
    """An enrolment policy written straight to the database (open since a day ago, for a week)."""
    seed = fields.pop("seed", "00" * 32)
    values = {
        "class_id": class_id,
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=7),
        "seats": 20,
        "mode": "lottery",
        "tiers": list(DEFAULT_TIERS),
        "seed": seed,
        "seed_commitment": commitment(seed),
        "updated_at": now,
        **fields,
    }
    async with engine.begin() as connection:
        await connection.execute(insert(EnrolmentPolicy).values(**values))


async def enrol(engine: AsyncEngine, class_id: int, resident_id: int, now: datetime, term_start) -> int:
    """An enrolment written straight to the database, its seat counted; the application id."""
    async with engine.begin() as connection:
        application_id = await connection.scalar(
            insert(Application)
            .values(
                public_id=str(uuid.uuid4()),
                class_id=class_id,
                resident_id=resident_id,
                term_start=term_start,
                state="enrolled",
                channel="self",
                actor_user_id=resident_id,
                created_at=now,
                updated_at=now,
            )
            .returning(Application.id)
        )
        await connection.execute(
            update(EnrolmentPolicy)
            .where(EnrolmentPolicy.class_id == class_id)
            .values(enrolled=EnrolmentPolicy.enrolled + 1)
        )
    return application_id
