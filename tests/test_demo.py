"""The demo district loads through the services, and loading it again changes nothing."""

from sqlalchemy import func, select

from booking.config import Settings
from booking.db import create_engine
from booking.demo import load
from booking.models import (
    Allocation,
    Booking,
    ClassBooking,
    CommunityClass,
    Organisation,
    Policy,
    Region,
    Space,
    Teacher,
    User,
    Venue,
    VenueKind,
)


async def _census(url: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            counts = {
                model.__tablename__: await connection.scalar(select(func.count()).select_from(model))
                for model in (Region, Organisation, Venue, Space, Booking, Teacher, CommunityClass, ClassBooking, User)
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
    assert counts["users"] == 5  # one sign-in per role, printed in the summary
    assert "district-admin /" in first_summary
    assert counts["class_bookings"] >= 60  # most classes placed, one booking series per weekly session
    assert second == first
    assert first_summary.startswith("loaded")
    assert "nothing changed" in second_summary
