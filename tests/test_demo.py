"""The demo district loads through the services, and loading it again changes nothing."""

import random
import re
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from booking.config import Settings
from booking.db import create_engine, sessionmakers
from booking.demo import DEMO_USERS, DISTRICT, load
from booking.demo_learning import RESIDENTS, id_number
from booking.models import (
    Allocation,
    Application,
    Attendance,
    Booking,
    ClassBooking,
    CommunityClass,
    EnrolmentPolicy,
    Occurrence,
    Organisation,
    Policy,
    Region,
    Resident,
    Role,
    RoleGrant,
    Space,
    Teacher,
    User,
    Venue,
    VenueKind,
)
from booking.rules.permissions import SYSTEM, Actor
from booking.services import accounts, attendance, draws, learning_records


async def _census(url: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            counts = {
                model.__tablename__: await connection.scalar(select(func.count()).select_from(model))
                for model in (
                    Region,
                    Organisation,
                    Venue,
                    Space,
                    Booking,
                    Teacher,
                    CommunityClass,
                    ClassBooking,
                    User,
                    Resident,
                    Application,
                    Attendance,
                )
            }
            venue_kinds = set(await connection.scalars(select(Venue.kind).distinct()))
            divisible = await connection.scalar(select(func.count(Space.parent_id.distinct())))
            allocation_status = await connection.scalar(select(Allocation.status))
            pending = await connection.scalar(select(func.count()).where(Booking.state == "pending"))
            policies = await connection.scalar(select(func.count()).select_from(Policy))
    finally:
        await engine.dispose()
    return {
        "counts": counts,
        "venue_kinds": venue_kinds,
        "divisible": divisible,
        "allocation": allocation_status,
        "pending": pending,
        "policies": policies,
    }


async def test_demo_loads_a_full_district_once(db_url):
    url = db_url
    settings = Settings(database_url=url)

    first_summary = await load(settings)
    first = await _census(url)
    second_summary = await load(settings)
    second = await _census(url)

    counts = first["counts"]
    assert counts["venues"] >= 20
    assert first["venue_kinds"] == {kind.value for kind in VenueKind}
    assert counts["spaces"] >= 60
    assert first["divisible"] >= 1
    assert counts["bookings"] > 0
    assert counts["teachers"] >= 20 and counts["classes"] >= 60
    assert first["allocation"] == "committed"
    assert first["policies"] >= 2 and first["pending"] >= 1  # the school manager has requests to decide
    assert counts["users"] == len(DEMO_USERS) + RESIDENTS  # one printed sign-in per role, and the residents
    assert "district-admin /" in first_summary
    assert counts["class_bookings"] >= 60  # most classes placed, one booking series per weekly session
    assert second == first
    assert first_summary.startswith("loaded")
    assert "nothing changed" in second_summary
    await _assert_residents_learning(url, first_summary)


async def _assert_residents_learning(url: str, summary: str) -> None:
    """Residents with profiles, applications by every channel, one verifiable draw, attendance for
    ended sessions only, and the printed resident's and teacher's sign-ins working on real records."""
    engine = create_engine(url)
    writes, _ = sessionmakers(engine)
    try:
        async with writes() as session:  # never committed: the sign-ins' tokens are rolled back
            await _assert_residents(session)
            await _assert_applications(session, summary)
            await _assert_attendance(session, summary)
            await _assert_learning_records(session, summary)
    finally:
        await engine.dispose()


async def _assert_residents(session) -> None:
    accounts_held = await session.scalar(
        select(func.count()).select_from(RoleGrant).where(RoleGrant.role == Role.resident)
    )
    profiles = await session.scalar(
        select(func.count()).where(Resident.id_hash.is_not(None), func.length(Resident.id_last4) == 4)
    )
    assert accounts_held == profiles == RESIDENTS + 1  # and the demo resident's account


async def _assert_applications(session, summary: str) -> None:
    states = set(await session.scalars(select(Application.state).distinct()))
    channels = set(await session.scalars(select(Application.channel).distinct()))
    assert {"applied", "enrolled", "waitlisted", "withdrawn"} <= states
    assert channels == {"self", "agent", "counter"}
    [drawn] = await session.scalars(select(EnrolmentPolicy.class_id).where(EnrolmentPolicy.drawn_at.is_not(None)))
    draw, problems = await draws.verify_draw(session, drawn)
    assert problems == []
    assert len(draw.ranked) > draw.seats  # some were waitlisted
    assert f"venueshare lottery verify {drawn}" in summary


async def _assert_attendance(session, summary: str) -> None:
    rows = await session.scalar(select(func.count()).select_from(Attendance))
    last_ended = await session.scalar(
        select(func.max(Occurrence.ends_at)).join(Attendance, Attendance.occurrence_id == Occurrence.id)
    )
    assert rows > 0
    assert last_ended <= datetime.now(UTC)
    _, teacher = _learning_sign_ins(summary)
    class_id, day = re.search(r"/classes/(\d+)/sessions/([\d-]+)/attendance", summary).groups()
    roll = await attendance.roll(session, await _signed_in(session, *teacher), int(class_id), date.fromisoformat(day))
    assert "present" in {entry.status for entry in roll.entries}


async def _assert_learning_records(session, summary: str) -> None:
    now = datetime.now(UTC)
    resident, _ = _learning_sign_ins(summary)
    mine = await learning_records.my_learning_record(session, await _signed_in(session, *resident), now=now)
    assert any(record.attended_hours > 0 for record in mine.records)
    district = await session.scalar(select(Region.id).where(Region.name == DISTRICT))
    export = await learning_records.export_csv(
        session, SYSTEM, region_id=district, organisation_id=None, term_start=None, now=now
    )
    assert len(export.decode().splitlines()) > 1  # the header, then completed records


def _learning_sign_ins(summary: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(username, password) of the printed resident and teacher."""
    line = next(line for line in summary.splitlines() if line.startswith("learning sign-ins"))
    resident = re.search(r"resident: (\S+) / (\S+)", line).groups()
    teacher = re.search(r"teacher: (\S+) / (\S+)", line).groups()
    return resident, teacher


async def _signed_in(session, username: str, password: str) -> Actor:
    """Who the API would take the account for after signing in with the printed password."""
    outcome = await accounts.sign_in(session, username, password, now=datetime.now(UTC))
    assert outcome.token is not None, outcome.error
    return await accounts.actor_for_token(session, outcome.token, now=datetime.now(UTC))


def test_demo_id_numbers_pass_the_check_digit():
    """ISO 7064 MOD 11-2, as a reader would check a card: digit i weighs 2**(17-i) mod 11, X is ten."""
    rng = random.Random(7)
    for birthday in (date(1945, 1, 1), date(1956, 3, 4), date(2010, 12, 28)):
        for female in (True, False):
            number = id_number(rng, birthday, female)
            values = [10 if char == "X" else int(char) for char in number]
            assert len(number) == 18 and number[6:14] == f"{birthday:%Y%m%d}"
            assert sum(value * pow(2, 17 - i, 11) for i, value in enumerate(values)) % 11 == 1
            assert int(number[16]) % 2 == (0 if female else 1)
